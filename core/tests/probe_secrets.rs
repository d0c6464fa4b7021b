//! Secrets in request headers: which references a check may use, where the engine reads
//! them from, and where it refuses to send them (other hosts, other origins after a
//! redirect, plain text after https). Real servers on 127.0.0.1 only.

mod support;

use std::sync::Arc;

use futures::future::BoxFuture;
use support::*;
use webmon_core::check::{parse_checks_document, RawCheck, SecretPolicy, SecretRef};
use webmon_core::ports::{ResolvedSecret, SecretError, SecretSource};
use webmon_core::probe::EnvSecrets;

fn with_header(name: &str, value: &str) -> impl FnOnce(&mut RawCheck) {
    let (name, value) = (name.to_string(), value.to_string());
    move |c| {
        c.headers.insert(name, value);
    }
}

#[test]
fn validation_refuses_variables_outside_the_policy_naming_check_field_and_reference() {
    for name in [
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "_X_AMZN_TRACE_ID",
        "OTEL_EXPORTER_OTLP_HEADERS",
        "LAMBDA_TASK_ROOT",
        "HOME",
    ] {
        let reference = format!("${{env:{name}}}");
        let raw = raw(
            "http://127.0.0.1:9/",
            with_header("Authorization", &reference),
        );
        let errors = raw.validate().unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].check_id, "sec-test");
        assert_eq!(errors[0].field, "headers.Authorization");
        assert_eq!(errors[0].value, reference);
    }
    // The reserved prefix is always allowed; other names only when the operator lists them.
    let ok = raw(
        "http://127.0.0.1:9/",
        with_header("X-Key", "k=${env:WEBMON_SECRET_KEY}"),
    );
    assert!(ok.validate().is_ok());
    let listed = raw(
        "http://127.0.0.1:9/",
        with_header("X-Key", "${env:API_TOKEN}"),
    );
    assert!(listed.validate().is_err());
    let policy = SecretPolicy::new().allow_env(["API_TOKEN", "AWS_SECRET_ACCESS_KEY"]);
    assert!(listed.validate_with(&policy).is_ok());
    // Listing a platform variable does not make it readable.
    let aws = raw(
        "http://127.0.0.1:9/",
        with_header("X-Key", "${env:AWS_SECRET_ACCESS_KEY}"),
    );
    assert!(aws.validate_with(&policy).is_err());
    // Secret store references are accepted; malformed ones are not.
    assert!(raw(
        "http://127.0.0.1:9/",
        with_header("X-Key", "${secret:prod/api-key}")
    )
    .validate()
    .is_ok());
    assert!(
        raw("http://127.0.0.1:9/", with_header("X-Key", "${secret:a b}"))
            .validate()
            .is_err()
    );
}

#[test]
fn the_checks_file_refuses_them_too() {
    let text = "checks:\n  - id: leak\n    url: http://127.0.0.1:9/\n    headers:\n      X-Leak: \"${env:AWS_SECRET_ACCESS_KEY}\"\n";
    let outcome = parse_checks_document(text);
    assert!(outcome.checks.is_empty());
    let e = &outcome.errors[0];
    assert_eq!(
        (e.check_id.as_str(), e.field.as_str(), e.value.as_str()),
        ("leak", "headers.X-Leak", "${env:AWS_SECRET_ACCESS_KEY}")
    );
}

#[tokio::test]
async fn the_engine_refuses_variables_outside_its_policy_even_for_a_check_validated_elsewhere() {
    let server = Server::start(|_| respond(200, &[], full("ok"))).await;
    // Validated under a looser policy (another entry point), probed under the default one.
    let policy = SecretPolicy::new().allow_env(["HOME"]);
    let check = raw(&server.url("/"), with_header("X-Home", "${env:HOME}"))
        .validate_with(&policy)
        .unwrap();
    let r = probe(&prober(|_| {}), &check).await;
    assert_eq!(class(&r), Some("blocked"), "{r:#?}");
    assert!(server.seen().is_empty(), "nothing may be sent");
    // The operator's engine policy can allow it.
    let r = probe(
        &prober(|o| o.secret_source = Some(Arc::new(EnvSecrets::new(policy.clone())))),
        &check,
    )
    .await;
    assert_available(&r);
    let home = std::env::var("HOME").unwrap_or_default();
    assert_eq!(
        server.seen()[0].headers["x-home"].to_str().unwrap(),
        home.as_str()
    );
}

/// A secret store that knows one secret, bound to one host.
#[derive(Debug)]
struct Store;

impl SecretSource for Store {
    fn get<'a>(
        &'a self,
        reference: &'a SecretRef,
    ) -> BoxFuture<'a, Result<ResolvedSecret, SecretError>> {
        Box::pin(async move {
            match reference.name.as_str() {
                "bound" => Ok(ResolvedSecret::new("s3cret").for_hosts(["localhost"])),
                "free" => Ok(ResolvedSecret::new("open")),
                _ => Err(SecretError::NotFound(reference.to_string())),
            }
        })
    }
}

#[tokio::test]
async fn secret_references_resolve_through_the_source_and_stay_on_their_hosts() {
    let server = Server::start(|_| respond(200, &[], full("ok"))).await;
    let prober = prober(|o| o.secret_source = Some(Arc::new(Store)));
    let port = server.addr().port();

    // Bound to localhost: sent there...
    let to_localhost = check(
        &format!("http://localhost:{port}/a"),
        with_header("Authorization", "Bearer ${secret:bound}"),
    );
    assert_available(&probe(&prober, &to_localhost).await);
    assert_eq!(server.seen()[0].headers["authorization"], "Bearer s3cret");

    // ...but never to another host.
    let elsewhere = check(
        &server.url("/b"),
        with_header("Authorization", "Bearer ${secret:bound}"),
    );
    let r = probe(&prober, &elsewhere).await;
    assert_eq!(class(&r), Some("blocked"), "{r:#?}");
    let message = r.error_message.unwrap();
    assert!(message.contains("${secret:bound}"), "{message}");
    assert!(!message.contains("s3cret"), "{message}");
    assert_eq!(server.seen().len(), 1, "nothing sent to the other host");

    // An unknown secret fails the execution without sending anything.
    let missing = check(&server.url("/c"), with_header("X-Key", "${secret:nope}"));
    let r = probe(&prober, &missing).await;
    assert_eq!(class(&r), Some("other"));
    assert!(r.error_message.unwrap().contains("${secret:nope}"));
    assert_eq!(server.seen().len(), 1);
}

#[tokio::test]
async fn credentials_are_dropped_on_redirects_to_other_origins() {
    std::env::set_var("WEBMON_SECRET_REDIRECT_KEY", "k-123");
    let second = Server::start(|_| respond(200, &[], full("second"))).await;
    let to_second = second.url("/landing");
    let first = Server::start(move |seen| match seen.path.as_str() {
        "/to-other-port" => respond(302, &[("location", &to_second)], empty()),
        "/same-origin" => respond(302, &[("location", "/landing")], empty()),
        _ => respond(200, &[], full("first")),
    })
    .await;
    let port = first.addr().port();
    let first_plus_host = Server::start(move |_| {
        respond(
            302,
            &[("location", &format!("http://localhost:{port}/landing"))],
            empty(),
        )
    })
    .await;
    let headers = |c: &mut RawCheck| {
        c.requests = Some(3);
        c.headers.insert(
            "Authorization".into(),
            "Bearer ${env:WEBMON_SECRET_REDIRECT_KEY}".into(),
        );
        c.headers.insert("Cookie".into(), "session=abc".into());
        c.headers.insert(
            "X-Api-Key".into(),
            "${env:WEBMON_SECRET_REDIRECT_KEY}".into(),
        );
        c.headers.insert("X-Plain".into(), "visible".into());
    };
    let prober = prober(|_| {});

    // Another port: the second server never sees the credentials, cold or warm.
    let r = probe(&prober, &check(&first.url("/to-other-port"), headers)).await;
    assert_available(&r);
    let landed = second.seen();
    assert_eq!(landed.len(), 3, "{landed:?}");
    for seen in &landed {
        for name in ["authorization", "cookie", "x-api-key"] {
            assert!(!seen.headers.contains_key(name), "{name} leaked: {seen:?}");
        }
        assert_eq!(seen.headers["x-plain"], "visible");
    }
    let sent = &first.seen()[0];
    assert_eq!(sent.headers["authorization"], "Bearer k-123");
    assert_eq!(sent.headers["x-api-key"], "k-123");

    // Another host on the same port: dropped too.
    let r = probe(&prober, &check(&first_plus_host.url("/"), headers)).await;
    assert_available(&r);
    let landing: Vec<_> = first
        .seen()
        .into_iter()
        .filter(|s| s.path == "/landing")
        .collect();
    assert_eq!(landing.len(), 3);
    assert!(landing
        .iter()
        .all(|s| !s.headers.contains_key("authorization") && !s.headers.contains_key("cookie")));

    // The same origin keeps them.
    let r = probe(&prober, &check(&first.url("/same-origin"), headers)).await;
    assert_available(&r);
    let kept = first
        .seen()
        .into_iter()
        .filter(|s| s.path == "/landing")
        .nth(3)
        .unwrap();
    assert_eq!(kept.headers["authorization"], "Bearer k-123");
}

#[tokio::test]
async fn https_to_http_redirects_are_refused_while_credentials_are_set() {
    let plain = Server::start(|_| respond(200, &[], full("plain"))).await;
    let target = plain.url("/");
    let (ca, chain, key) = pki(&["localhost"]);
    let secure = Server::start_tls(&chain, &key, move |_| {
        respond(302, &[("location", &target)], empty())
    })
    .await;
    let url = format!("https://localhost:{}/", secure.addr().port());
    let prober = prober(|o| o.extra_roots_der = vec![ca.clone()]);

    let with_auth = check(&url, with_header("Authorization", "Basic dTpw"));
    let r = probe(&prober, &with_auth).await;
    assert_eq!(class(&r), Some("blocked"), "{r:#?}");
    assert!(r.error_message.unwrap().contains("authorization"));
    assert!(
        plain.seen().is_empty(),
        "nothing reached the plain-text server"
    );

    // Without credentials the same redirect is followed.
    let r = probe(&prober, &check(&url, with_header("X-Plain", "1"))).await;
    assert_available(&r);
    assert_eq!(plain.seen().len(), 1);
}
