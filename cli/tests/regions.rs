//! `webmon regions` against a copy of the repository's stack files (home stack file and
//! `regions/`), through the real binary.

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

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Every file under the root, with its contents.
fn snapshot(root: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    for dir in [root.to_path_buf(), root.join("regions")] {
        for entry in std::fs::read_dir(&dir).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.is_file() {
                out.push((path.clone(), std::fs::read_to_string(&path).expect("read")));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn list_shows_the_home_region_and_the_region_stacks() {
    let root = copy_stacks();
    let out = webmon(root.path(), &["list"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}{}", stderr(&out));
    assert!(
        text.contains("us-east-1        home   Pulumi.home.yaml"),
        "{text}"
    );
    assert!(
        text.contains("eu-west-1        probe  regions/Pulumi.eu-west-1.yaml"),
        "{text}"
    );
    assert!(
        text.contains("ap-southeast-1   probe  regions/Pulumi.ap-southeast-1.yaml"),
        "{text}"
    );
    assert!(
        text.contains("home stack home: 3 probe region(s)"),
        "{text}"
    );

    let out = webmon(root.path(), &["list", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["home_stack"], "home");
    assert_eq!(doc["regions"][0]["region"], "us-east-1");
    assert_eq!(doc["regions"][0]["role"], "home");
    assert_eq!(doc["regions"].as_array().unwrap().len(), 3);
    assert_eq!(doc["problems"].as_array().unwrap().len(), 0);
}

#[test]
fn add_writes_the_region_stack_file_lists_the_region_at_home_and_prints_the_next_steps() {
    let root = copy_stacks();
    let before = snapshot(root.path());
    let out = webmon(root.path(), &["add", "eu-central-1"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}{}", stderr(&out));

    // one new file; the home stack gains one line, its probeRegions item; nothing else
    let file = root.path().join("regions/Pulumi.eu-central-1.yaml");
    let home = root.path().join("Pulumi.home.yaml");
    let mut after = snapshot(root.path());
    after.retain(|(p, _)| *p != file);
    let mut expected = before.clone();
    for (p, text) in expected.iter_mut() {
        if *p == home {
            *text = text.replace("    - eu-west-1\n", "    - eu-west-1\n    - eu-central-1\n");
        }
    }
    assert_eq!(expected, after);

    let written = std::fs::read_to_string(&file).unwrap();
    let doc: serde_yaml::Value = serde_yaml::from_str(&written).unwrap();
    let config = doc["config"].as_mapping().expect("config");
    assert_eq!(config.len(), 2, "{written}");
    assert_eq!(doc["config"]["aws:region"], "eu-central-1");
    assert_eq!(
        doc["config"]["webmon-regions:homeStack"],
        "organization/webmon/home"
    );
    assert!(!written.contains("arn:"), "{written}");

    let dir = root.path().join("regions").display().to_string();
    assert!(
        text.contains(&format!("pulumi stack init eu-central-1 --cwd {dir}")),
        "{text}"
    );
    assert!(
        text.contains(&format!("pulumi up --cwd {dir} --stack eu-central-1")),
        "{text}"
    );
    assert!(
        text.contains("webmon resync --region eu-central-1"),
        "{text}"
    );
    assert!(text.contains("pulumi up --stack home"), "{text}");
    assert_eq!(text.matches("pulumi up").count(), 2, "{text}");
    assert!(!text.contains("kms"), "{text}");
    let init = text.find("pulumi stack init").unwrap();
    let up = text.find("pulumi up --cwd").unwrap();
    let resync = text.find("webmon resync").unwrap();
    let home_up = text.find("pulumi up --stack home").unwrap();
    assert!(init < up && up < resync && resync < home_up, "{text}");

    let listed = webmon(root.path(), &["list"]);
    assert!(listed.status.success(), "{}", stdout(&listed));
    assert!(stdout(&listed).contains("eu-central-1     probe  regions/Pulumi.eu-central-1.yaml"));
    assert!(stdout(&listed).contains("home stack home: 4 probe region(s)"));
}

#[test]
fn add_uses_the_organization_given_or_the_one_the_region_files_name() {
    let root = copy_stacks();
    for name in ["Pulumi.eu-west-1.yaml", "Pulumi.ap-southeast-1.yaml"] {
        let path = root.path().join("regions").join(name);
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(
            &path,
            text.replace("organization/webmon/home", "acme/webmon/home"),
        )
        .unwrap();
    }
    assert!(webmon(root.path(), &["add", "sa-east-1"]).status.success());
    let text = std::fs::read_to_string(root.path().join("regions/Pulumi.sa-east-1.yaml")).unwrap();
    assert!(
        text.contains("webmon-regions:homeStack: acme/webmon/home"),
        "{text}"
    );

    assert!(
        webmon(root.path(), &["add", "eu-north-1", "--org", "other"])
            .status
            .success()
    );
    let text = std::fs::read_to_string(root.path().join("regions/Pulumi.eu-north-1.yaml")).unwrap();
    assert!(
        text.contains("webmon-regions:homeStack: other/webmon/home"),
        "{text}"
    );
}

#[test]
fn add_refuses_an_existing_region_and_leaves_its_file_alone() {
    let root = copy_stacks();
    let path = root.path().join("regions/Pulumi.eu-west-1.yaml");
    let before = std::fs::read_to_string(&path).unwrap();
    let out = webmon(root.path(), &["add", "eu-west-1"]);
    assert!(!out.status.success(), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("regions/Pulumi.eu-west-1.yaml already exists"),
        "{}",
        stderr(&out)
    );
    assert_eq!(before, std::fs::read_to_string(&path).unwrap());
}

#[test]
fn add_refuses_the_home_region_a_bad_name_and_the_old_key_option() {
    let root = copy_stacks();
    let before = snapshot(root.path());

    let out = webmon(root.path(), &["add", "us-east-1"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("it is the home region"),
        "{}",
        stderr(&out)
    );

    let bad = webmon(root.path(), &["add", "europe"]);
    assert!(!bad.status.success());
    assert!(
        stderr(&bad).contains("not an AWS region name"),
        "{}",
        stderr(&bad)
    );

    let key = "arn:aws:kms:eu-north-1:111122223333:key/mrk-0000";
    let out = webmon(root.path(), &["add", "eu-north-1", "--kms-key-arn", key]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--kms-key-arn"), "{}", stderr(&out));

    assert_eq!(before, snapshot(root.path()), "nothing written");
}

#[test]
fn list_reports_broken_region_files_and_fails() {
    let root = copy_stacks();
    std::fs::write(
        root.path().join("regions/Pulumi.eu-west-3.yaml"),
        "config:\n  aws:region: eu-west-2\n",
    )
    .unwrap();
    std::fs::write(
        root.path().join("regions/Pulumi.us-east-1.yaml"),
        "config:\n  aws:region: us-east-1\n  webmon-regions:homeStack: organization/webmon/home\n",
    )
    .unwrap();
    let out = webmon(root.path(), &["list"]);
    let text = stdout(&out);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("regions/Pulumi.eu-west-3.yaml sets aws:region eu-west-2"),
        "{text}"
    );
    assert!(
        text.contains("regions/Pulumi.eu-west-3.yaml does not set webmon-regions:homeStack"),
        "{text}"
    );
    assert!(
        text.contains("regions/Pulumi.us-east-1.yaml is for the home region"),
        "{text}"
    );
}
