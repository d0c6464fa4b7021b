//! TLS failures said in words by `webmon check`, with a hint to `--ca-file` where a
//! private CA may be the cause. The targets are demo targets on 127.0.0.1 with
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

/// A CA (its PEM and issuer) and a leaf for `names` signed by it (PEM, key PEM).
fn chain(names: &[&str]) -> (String, String, String) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf_key = KeyPair::generate().unwrap();
    let mut leaf =
        CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    leaf.not_before = rcgen::date_time_ymd(1970, 1, 1) + (now - Duration::from_secs(86_400));
    leaf.not_after = rcgen::date_time_ymd(1970, 1, 1) + (now + Duration::from_secs(86_400));
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
}
