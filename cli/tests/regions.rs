//! `webmon regions` against a copy of the repository's stack files, through the real binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("repo root")
        .to_path_buf()
}

/// A temporary root with the home stack file and every region stack file.
fn copy_stacks() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir(dir.path().join("regions")).expect("regions dir");
    for (from, to) in [
        (repo(), dir.path().to_path_buf()),
        (repo().join("regions"), dir.path().join("regions")),
    ] {
        for entry in std::fs::read_dir(&from).expect("read dir") {
            let name = entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned();
            if name.starts_with("Pulumi.") && name.ends_with(".yaml") && name != "Pulumi.yaml" {
                std::fs::copy(from.join(&name), to.join(&name)).expect("copy");
            }
        }
    }
    dir
}

fn webmon(root: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_webmon"))
        .arg("regions")
        .arg("--root")
        .arg(root)
        .args(args)
        .output()
        .expect("run webmon")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn list_shows_the_committed_regions_agreeing() {
    let root = copy_stacks();
    let out = webmon(root.path(), &["list"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("us-east-1        home"), "{text}");
    assert!(
        text.contains("eu-west-1        replica  yes           yes"),
        "{text}"
    );
    assert!(text.contains("agree: 3 probe region(s)"), "{text}");
}

#[test]
fn add_edits_both_places_keeps_comments_and_prints_the_two_ups() {
    let root = copy_stacks();
    let home = root.path().join("Pulumi.home.yaml");
    let before = std::fs::read_to_string(&home).unwrap();
    let out = webmon(root.path(), &["add", "eu-central-1"]);
    let text = stdout(&out);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let after = std::fs::read_to_string(&home).unwrap();
    let comments = |s: &str| {
        s.lines()
            .filter(|l| l.trim_start().starts_with('#'))
            .count()
    };
    assert_eq!(comments(&before), comments(&after), "comments kept");
    let doc: serde_yaml::Value = serde_yaml::from_str(&after).unwrap();
    let replicas = doc["config"]["webmon:replicas"].as_sequence().unwrap();
    let added = replicas
        .iter()
        .find(|r| r["regionName"] == "eu-central-1")
        .expect("new replica");
    let key = added["kmsKeyArn"].as_str().unwrap();
    assert!(
        key.starts_with("arn:aws:kms:eu-central-1:111122223333:key/mrk-"),
        "{key}"
    );
    assert_eq!(added["pointInTimeRecovery"], true);
    assert_eq!(replicas.len(), 3);

    let file =
        std::fs::read_to_string(root.path().join("regions/Pulumi.eu-central-1.yaml")).unwrap();
    let file: serde_yaml::Value = serde_yaml::from_str(&file).unwrap();
    assert_eq!(file["config"]["aws:region"], "eu-central-1");
    assert_eq!(
        file["config"]["webmon-regions:homeStack"],
        "organization/webmon/home"
    );

    assert!(text.contains("--stack home"), "{text}");
    assert!(text.contains("--stack eu-central-1"), "{text}");
    assert_eq!(text.matches("pulumi up").count(), 2, "{text}");

    let listed = webmon(root.path(), &["list"]);
    assert!(listed.status.success(), "{}", stdout(&listed));
    assert!(stdout(&listed).contains("agree: 4 probe region(s)"));
}

#[test]
fn add_twice_changes_nothing_the_second_time() {
    let root = copy_stacks();
    assert!(webmon(root.path(), &["add", "sa-east-1"]).status.success());
    let home = std::fs::read_to_string(root.path().join("Pulumi.home.yaml")).unwrap();
    let again = webmon(root.path(), &["add", "sa-east-1"]);
    assert!(again.status.success());
    assert!(stdout(&again).contains("already present"));
    assert_eq!(
        home,
        std::fs::read_to_string(root.path().join("Pulumi.home.yaml")).unwrap()
    );
}

#[test]
fn add_refuses_a_bad_region_and_a_key_from_another_region() {
    let root = copy_stacks();
    let bad = webmon(root.path(), &["add", "europe"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not an AWS region name"));

    let wrong_key = "arn:aws:kms:us-east-1:111122223333:key/mrk-0000";
    let out = webmon(
        root.path(),
        &["add", "eu-north-1", "--kms-key-arn", wrong_key],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a KMS key ARN in eu-north-1"));
    assert!(
        !root.path().join("regions/Pulumi.eu-north-1.yaml").exists(),
        "nothing written"
    );
}

#[test]
fn list_reports_disagreement_and_fails() {
    let root = copy_stacks();
    std::fs::remove_file(root.path().join("regions/Pulumi.ap-southeast-1.yaml")).unwrap();
    std::fs::write(
        root.path().join("regions/Pulumi.eu-west-3.yaml"),
        "config:\n  aws:region: eu-west-3\n  webmon-regions:homeStack: organization/webmon/home\n",
    )
    .unwrap();
    let out = webmon(root.path(), &["list"]);
    let text = stdout(&out);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("replica ap-southeast-1 has no regions/Pulumi.ap-southeast-1.yaml"),
        "{text}"
    );
    assert!(
        text.contains("eu-west-3 has a stack file but no replica"),
        "{text}"
    );
}
