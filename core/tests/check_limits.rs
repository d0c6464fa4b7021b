//! Validation limits that keep checks within what the probe and the stores accept: URLs
//! without user info and of bounded length, no engine-owned request headers, tags that
//! make valid store dimensions, default timeouts that fit, and honest load summaries.

use std::time::Duration;

use webmon_core::check::{
    parse_checks_document, LoadSummary, RawCheck, ValidationError, MAX_DIMENSION_BYTES,
};

fn raw(edit: impl FnOnce(&mut RawCheck)) -> RawCheck {
    let mut raw = RawCheck {
        id: "limits".into(),
        url: "https://example.com/".into(),
        ..Default::default()
    };
    edit(&mut raw);
    raw
}

fn fields(raw: &RawCheck) -> Vec<String> {
    match raw.validate() {
        Ok(_) => Vec::new(),
        Err(errors) => errors.into_iter().map(|e| e.field).collect(),
    }
}

#[test]
fn urls_with_user_info_or_too_long_are_refused() {
    for url in [
        "https://user:pass@example.com/",
        "https://user@example.com/",
        "https://:pass@example.com/",
    ] {
        let errors = raw(|c| c.url = url.into()).validate().unwrap_err();
        assert_eq!(errors[0].field, "url", "{url}");
        assert!(errors[0].reason.contains("user info"), "{errors:?}");
    }
    let long = format!("https://example.com/{}", "a".repeat(2100));
    let errors = raw(|c| c.url = long).validate().unwrap_err();
    assert_eq!(errors[0].field, "url");
    assert!(errors[0].value.len() < 200, "the value is excerpted");
}

#[test]
fn engine_owned_request_headers_are_refused() {
    for name in ["Host", "content-length", "Transfer-Encoding", "CONNECTION"] {
        let fields = fields(&raw(|c| {
            c.headers.insert(name.into(), "x".into());
        }));
        assert_eq!(fields, [format!("headers.{name}")], "{name}");
    }
    assert!(fields(&raw(|c| {
        c.headers.insert("X-Fine".into(), "x".into());
    }))
    .is_empty());
}

#[test]
fn tags_must_make_valid_store_dimensions() {
    let with_tags =
        |tags: Vec<(String, String)>| fields(&raw(|c| c.tags = tags.into_iter().collect()));
    assert!(with_tags(vec![
        ("team".into(), "sre".into()),
        ("_x9".into(), "".into())
    ])
    .is_empty());
    for key in ["9lives", "has-dash", "dot.ted", "", &"k".repeat(57)] {
        assert_eq!(
            with_tags(vec![(key.to_string(), "v".into())]),
            [format!("tags.{key}")],
            "{key:?}"
        );
    }
    assert_eq!(
        with_tags(vec![("team".into(), "v".repeat(257))]),
        ["tags.team"]
    );
    assert_eq!(
        with_tags(vec![("team".into(), "line\nbreak".into())]),
        ["tags.team"]
    );
    let eleven = (0..11).map(|i| (format!("t{i}"), "v".into())).collect();
    assert_eq!(with_tags(eleven), ["tags"]);
    // Each within its limit, but together too large for one result record.
    let heavy = (0..10)
        .map(|i| (format!("tag{i}"), "v".repeat(200)))
        .collect();
    let errors = raw(|c| c.tags = heavy).validate().unwrap_err();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].field, "tags");
    assert!(errors[0].reason.contains(&MAX_DIMENSION_BYTES.to_string()));
}

#[test]
fn default_timeout_fits_the_interval() {
    // Only id, url and a 10 s interval: 5 requests of 2 s.
    let check = raw(|c| c.interval = Some("10s".into())).validate().unwrap();
    assert_eq!(check.timeout, Duration::from_secs(2));
    let check = raw(|c| {
        c.interval = Some("10s".into());
        c.requests = Some(3);
    })
    .validate()
    .unwrap();
    assert_eq!(check.timeout, Duration::from_millis(3333));
    let check = raw(|c| c.interval = Some("1m".into())).validate().unwrap();
    assert_eq!(check.timeout, Duration::from_secs(10));
    // An explicit timeout that does not fit is still refused.
    let errors = raw(|c| {
        c.interval = Some("10s".into());
        c.timeout = Some("5s".into());
    })
    .validate()
    .unwrap_err();
    assert_eq!(errors[0].field, "timeout");
}

#[test]
fn load_summaries_count_items_and_errors_apart() {
    let text = "checks:\n  - {id: a, url: 'https://a.example'}\n  - {id: b, url: 'https://b.example'}\n  - id: bad\n    url: ftp://x\n    requests: 0\n    interval: 45s\n";
    let outcome = parse_checks_document(text);
    let summary = outcome.summary();
    assert_eq!(
        summary,
        LoadSummary {
            checks: 2,
            invalid_items: 1,
            errors: 3,
            document_errors: 0
        }
    );
    assert_eq!(summary.to_string(), "2 checks, 1 invalid item (3 errors)");

    let one = ValidationError::new("x", "url", "u", "bad");
    assert_eq!(
        LoadSummary::of(1, std::slice::from_ref(&one)).to_string(),
        "1 check, 1 invalid item (1 error)"
    );
    assert_eq!(
        LoadSummary::of(7, &[]).to_string(),
        "7 checks, 0 invalid items"
    );
    let file = ValidationError::new("<file>", "checks", "<document>", "not YAML");
    assert_eq!(
        LoadSummary::of(0, &[file]).to_string(),
        "0 checks, 0 invalid items (1 error), 1 error in the document itself"
    );
}

#[test]
fn new_invalid_fixtures_name_the_check_and_field() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/invalid");
    for (name, id, field) in [
        (
            "secret_env_not_allowed",
            "secret-env-not-allowed",
            "headers.Authorization",
        ),
        ("url_with_user_info", "url-with-user-info", "url"),
        ("forbidden_header", "forbidden-header", "headers.Host"),
        ("bad_tag_key", "bad-tag-key", "tags.team-name"),
        ("too_many_tags", "too-many-tags", "tags"),
    ] {
        let outcome = webmon_core::check::load_checks_file(&dir.join(format!("{name}.yaml")));
        let got: Vec<(&str, &str)> = outcome
            .errors
            .iter()
            .map(|e| (e.check_id.as_str(), e.field.as_str()))
            .collect();
        assert_eq!(got, [(id, field)], "{name}: {:?}", outcome.errors);
        assert!(outcome.checks.is_empty());
    }
}
