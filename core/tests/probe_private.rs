//! Private targets are the operator's choice: a check's `allow_private` counts only on a
//! deployment that allows private targets, and the Lambda Runtime API stays out of reach
//! unless the operator exempts its address by name. Real servers on 127.0.0.1 only.

mod support;

use support::*;

#[tokio::test]
async fn a_checks_allow_private_needs_the_operator() {
    let server = Server::start(|_| respond(200, &[], full("ok"))).await;
    let asks = check(&server.url("/"), |c| c.allow_private = Some(true));
    let does_not_ask = check(&server.url("/"), |c| c.allow_private = None);

    // Off by default: the check's field is not enough.
    let closed = prober(|o| o.allow_private = false);
    let r = probe(&closed, &asks).await;
    assert_eq!(class(&r), Some("blocked"), "{r:#?}");
    assert!(
        r.error_message
            .as_deref()
            .unwrap()
            .contains("does not allow private targets"),
        "{r:#?}"
    );
    assert!(server.seen().is_empty());

    // The operator allows private targets: checks that ask may reach them...
    let open = prober(|o| o.allow_private = true);
    assert_available(&probe(&open, &asks).await);
    // ...and checks that do not ask still may not.
    let r = probe(&open, &does_not_ask).await;
    assert_eq!(class(&r), Some("blocked"), "{r:#?}");
    assert_eq!(server.seen().len(), 1);
}

#[tokio::test]
async fn the_runtime_api_endpoint_stays_blocked_with_private_allowed() {
    let runtime_api = Server::start(|_| respond(200, &[], full("next invocation"))).await;
    let check = check(
        &runtime_api.url("/2018-06-01/runtime/invocation/next"),
        |_| {},
    );
    let r = probe(
        &prober(|o| o.blocked_endpoints = vec![runtime_api.addr()]),
        &check,
    )
    .await;
    assert_eq!(class(&r), Some("blocked"), "{r:#?}");
    assert!(r.error_message.unwrap().contains("Runtime API"));
    assert!(runtime_api.seen().is_empty());

    // A wide exemption does not count; naming the address does.
    let wide = prober(|o| {
        o.blocked_endpoints = vec![runtime_api.addr()];
        o.guard_exempt = vec!["127.0.0.0/8".parse().unwrap()];
    });
    assert_eq!(class(&probe(&wide, &check).await), Some("blocked"));
    let named = prober(|o| {
        o.blocked_endpoints = vec![runtime_api.addr()];
        o.guard_exempt = vec!["127.0.0.1/32".parse().unwrap()];
    });
    assert_available(&probe(&named, &check).await);
}
