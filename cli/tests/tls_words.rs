//! TLS failures said in words by `webmon check`, with a hint to `--ca-file` where a
//! private CA may be the cause. The words are the engine's own result message, so the
//! JSON of `webmon check` and `webmon test` (what `webmon run` stores and the dashboard
//! and alerts show) say the same. The targets are demo targets on 127.0.0.1 with
//! certificates made for the test.

use std::process::{Command, Output};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use webmon_demo_target::TargetServer;

fn check(url: &str, ca: Option<&std::path::Path>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_webmon"));
    cmd.args([
        "check",
        url,
        "--allow-private",
        "--requests",
        "1",
        "--timeout",
        "5s",
    ]);
    if let Some(ca) = ca {
        cmd.arg("--ca-file").arg(ca);
    }
    cmd.output().unwrap()
}

/// The engine's message of a failed probe, from `webmon check --json`.
fn json_message(url: &str, ca: Option<&std::path::Path>) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_webmon"));
    cmd.args([
        "check",
        url,
        "--allow-private",
        "--requests",
        "1",
        "--timeout",
        "5s",
        "--json",
    ]);
    if let Some(ca) = ca {
        cmd.arg("--ca-file").arg(ca);
    }
    let out = cmd.output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["error_class"], "tls", "{doc}");
    doc["error_message"].as_str().unwrap().to_string()
}

/// A CA (its PEM and issuer) and a leaf for `names` signed by it (PEM, key PEM).
fn chain(names: &[&str]) -> (String, String, String) {
    chain_valid(names, 1)
}

/// [`chain`] with a leaf valid from a day ago to `days` days from now (negative: it
/// expired that long ago, having been valid for a day).
fn chain_valid(names: &[&str], days: i64) -> (String, String, String) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf_key = KeyPair::generate().unwrap();
    let mut leaf =
        CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let end = now.as_secs() as i64 + days * 86_400;
    let start = end.min(now.as_secs() as i64) - 86_400;
    leaf.not_before = rcgen::date_time_ymd(1970, 1, 1) + Duration::from_secs(start as u64);
    leaf.not_after = rcgen::date_time_ymd(1970, 1, 1) + Duration::from_secs(end as u64);
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer).unwrap();
    (ca_cert.pem(), leaf_cert.pem(), leaf_key.serialize_pem())
}

#[test]
fn tls_failures_are_said_in_words() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let _in_runtime = rt.enter();
    let dir = tempfile::tempdir().unwrap();
    let addr = "127.0.0.1:0".parse().unwrap();

    // A private CA the probe does not know: unknown issuer, try --ca-file.
    let (ca, leaf, key) = chain(&["127.0.0.1"]);
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, &ca).unwrap();
    let private = TargetServer::start_tls(addr, leaf.as_bytes(), key.as_bytes()).unwrap();
    let out = check(&private.url("/ok"), None);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("signed by an unknown issuer"), "{stdout}");
    assert!(stdout.contains("--ca-file"), "{stdout}");
    assert!(!stdout.contains("error        tls: Other("), "{stdout}");
    let out = check(&private.url("/ok"), Some(&ca_file));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // The certificate names another host.
    let (ca2, leaf2, key2) = chain(&["other.example"]);
    let ca2_file = dir.path().join("ca2.pem");
    std::fs::write(&ca2_file, &ca2).unwrap();
    let wrong = TargetServer::start_tls(addr, leaf2.as_bytes(), key2.as_bytes()).unwrap();
    let out = check(&wrong.url("/ok"), Some(&ca2_file));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("not valid for this host name"), "{stdout}");

    // A CA certificate served as the server's own.
    let ca_key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = params.self_signed(&ca_key).unwrap();
    let ca3_file = dir.path().join("ca3.pem");
    std::fs::write(&ca3_file, ca_cert.pem()).unwrap();
    let key3 = ca_key.serialize_pem();
    let as_leaf = TargetServer::start_tls(addr, ca_cert.pem().as_bytes(), key3.as_bytes()).unwrap();
    let out = check(&as_leaf.url("/ok"), Some(&ca3_file));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("presents a CA certificate as its own certificate"),
        "{stdout}"
    );

    let message = json_message(&as_leaf.url("/ok"), Some(&ca3_file));
    assert!(
        message.contains("presents a CA certificate as its own certificate")
            && message.contains("--ca-file"),
        "{message}"
    );

    // The engine's own message, not only the table: unknown issuer with the hint, and
    // the wrong host name without it.
    let message = json_message(&private.url("/ok"), None);
    assert!(
        message.starts_with("failed TLS handshake with 127.0.0.1 (127.0.0.1): ")
            && message.contains("the certificate is signed by an unknown issuer")
            && message.contains("if you trust it, pass its CA certificate with --ca-file PEM"),
        "{message}"
    );
    let message = json_message(&wrong.url("/ok"), Some(&ca2_file));
    assert!(
        message.contains("the certificate is not valid for this host name")
            && !message.contains("--ca-file"),
        "{message}"
    );

    // A self-signed leaf (no CA behind it).
    let self_key = KeyPair::generate().unwrap();
    let self_cert = CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .self_signed(&self_key)
        .unwrap();
    let self_signed = TargetServer::start_tls(
        addr,
        self_cert.pem().as_bytes(),
        self_key.serialize_pem().as_bytes(),
    )
    .unwrap();
    let out = check(&self_signed.url("/ok"), None);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("the certificate is self-signed")
            && stdout.contains("pass the certificate itself with --ca-file PEM"),
        "{stdout}"
    );
    assert!(!stdout.contains("unknown issuer"), "{stdout}");
    let message = json_message(&self_signed.url("/ok"), None);
    assert!(
        message.contains("the certificate is self-signed"),
        "{message}"
    );
    // The hint holds: trusting the certificate itself makes the probe pass.
    let self_file = dir.path().join("self.pem");
    std::fs::write(&self_file, self_cert.pem()).unwrap();
    let out = check(&self_signed.url("/ok"), Some(&self_file));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // An expired certificate from a trusted CA: said so, no --ca-file hint.
    let (ca4, leaf4, key4) = chain_valid(&["127.0.0.1"], -3);
    let ca4_file = dir.path().join("ca4.pem");
    std::fs::write(&ca4_file, &ca4).unwrap();
    let expired = TargetServer::start_tls(addr, leaf4.as_bytes(), key4.as_bytes()).unwrap();
    let out = check(&expired.url("/ok"), Some(&ca4_file));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("the certificate has expired"), "{stdout}");
    let message = json_message(&expired.url("/ok"), Some(&ca4_file));
    assert!(
        message.contains("the certificate has expired") && !message.contains("--ca-file"),
        "{message}"
    );

    // `webmon test` prints the same words for a check of a file.
    let file = dir.path().join("checks.yaml");
    std::fs::write(
        &file,
        format!(
            "checks:\n- id: private-ca\n  url: {}\n  requests: 1\n  timeout: 5s\n  allow_private: true\n",
            private.url("/ok")
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_webmon"))
        .args(["test", file.to_str().unwrap(), "--allow-private", "--json"])
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let message = doc[0]["error_message"].as_str().unwrap_or_default();
    assert!(
        message.contains("the certificate is signed by an unknown issuer")
            && message.contains("--ca-file"),
        "{doc}"
    );
}
