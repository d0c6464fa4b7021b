//! Shared helpers of the probe tests: checks, probers, and a throwaway PKI (a CA and a
//! leaf certificate generated per test with rcgen).

#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use webmon_core::check::{Check, RawAssertions, RawCheck};
use webmon_core::probe::{ProbeOptions, Prober};
use webmon_core::result::ProbeResult;
use webmon_demo_target::TargetServer;

/// Loopback, port chosen by the system.
pub fn local() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// A plain HTTP target on 127.0.0.1.
pub fn http_target() -> TargetServer {
    TargetServer::start(local()).expect("failed to start the HTTP target")
}

/// A raw check for `url` with one request and a 2 s timeout, asking for private targets
/// (honoured only by a prober whose operator allows them), adjusted by `edit`.
pub fn raw(url: &str, edit: impl FnOnce(&mut RawCheck)) -> RawCheck {
    let mut raw = RawCheck {
        id: "probe-test".into(),
        url: url.into(),
        allow_private: Some(true),
        ..Default::default()
    };
    raw.requests = Some(1);
    raw.timeout = Some("2s".into());
    edit(&mut raw);
    raw
}

/// A validated check (see [`raw`]).
pub fn check(url: &str, edit: impl FnOnce(&mut RawCheck)) -> Check {
    raw(url, edit).validate().expect("test check is valid")
}

/// Assertions with nothing set, for editing.
pub fn assertions(edit: impl FnOnce(&mut RawAssertions)) -> Option<RawAssertions> {
    let mut a = RawAssertions::default();
    edit(&mut a);
    Some(a)
}

/// A prober whose deployment allows private targets (so checks asking for them reach
/// loopback), trusting `extra_roots`.
pub fn prober_allowing_private(extra_roots: Vec<Vec<u8>>) -> Prober {
    Prober::new(ProbeOptions {
        region: "test".into(),
        extra_roots_der: extra_roots,
        allow_private: true,
        ..Default::default()
    })
}

/// Probes `check` now with `prober`.
pub async fn probe_with(prober: &Prober, check: &Check) -> ProbeResult {
    let now = chrono::Utc::now().timestamp_millis();
    prober.probe(check, now).await
}

/// Probes `check` now with a prober that may reach loopback.
pub async fn probe(check: &Check) -> ProbeResult {
    probe_with(&prober_allowing_private(Vec::new()), check).await
}

/// Asserts the result failed with `class`, printing the result otherwise.
pub fn assert_class(result: &ProbeResult, class: &str) {
    let got = result.error_class.map(|c| c.as_str());
    assert_eq!(got, Some(class), "unexpected result: {result:#?}");
    assert!(!result.available);
    assert!(result
        .error_message
        .as_deref()
        .is_some_and(|m| !m.is_empty()));
}

/// Asserts the result is available, printing it otherwise.
pub fn assert_available(result: &ProbeResult) {
    assert!(
        result.available && result.error_class.is_none(),
        "unexpected failure: {result:#?}"
    );
}

/// A CA and one leaf certificate it signed.
pub struct Pki {
    /// The CA certificate, DER (pass it as an extra root).
    pub ca_der: Vec<u8>,
    /// The leaf certificate chain, PEM.
    pub chain_pem: String,
    /// The leaf private key, PEM.
    pub key_pem: String,
}

/// Time since the Unix epoch, `days` from now.
fn since_epoch_in(days: i64) -> Duration {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    Duration::from_secs((now + days * 86_400) as u64)
}

/// Generates a CA and a leaf for `names`, valid from `from_days` to `to_days` around now.
pub fn pki(names: &[&str], from_days: i64, to_days: i64) -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "webmon test CA");
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);

    let leaf_key = KeyPair::generate().unwrap();
    let mut leaf =
        CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    leaf.not_before = rcgen::date_time_ymd(1970, 1, 1) + since_epoch_in(from_days);
    leaf.not_after = rcgen::date_time_ymd(1970, 1, 1) + since_epoch_in(to_days);
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer).unwrap();
    Pki {
        ca_der: ca_cert.der().to_vec(),
        chain_pem: leaf_cert.pem(),
        key_pem: leaf_key.serialize_pem(),
    }
}

/// An HTTPS target on 127.0.0.1 serving `pki`'s leaf.
pub fn https_target(pki: &Pki) -> TargetServer {
    TargetServer::start_tls(local(), pki.chain_pem.as_bytes(), pki.key_pem.as_bytes())
        .expect("failed to start the HTTPS target")
}
