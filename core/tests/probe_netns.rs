//! The address guard through the engine on real sockets, for every family it refuses,
//! inside a network namespace with no routes (`unshare -n`): the addresses live on the
//! namespace's own loopback, a real server listens on each and counts the connections it
//! accepts, and a regression could reach nothing beyond the namespace.
//!
//! The test re-runs itself inside the namespace (the parent only starts `unshare` and
//! checks the child's verdict), because joining a namespace is per process.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, UdpSocket};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use hickory_resolver::proto::op::{Message, MessageType, OpCode};
use hickory_resolver::proto::rr::rdata::A;
use hickory_resolver::proto::rr::{RData, Record, RecordType};
use hickory_resolver::proto::serialize::binary::BinEncodable;
use webmon_core::check::RawCheck;
use webmon_core::probe::{ProbeOptions, Prober};
use webmon_core::result::ProbeResult;

const CHILD: &str = "WEBMON_TEST_IN_NETNS";
const TEST: &str = "every_refused_family_is_refused_on_real_sockets_without_routes";

/// Addresses put on the namespace's loopback; each gets a listening server.
const V4: [&str; 7] = [
    "10.0.0.1",
    "172.16.0.1",
    "192.168.0.1",
    "100.64.0.1",
    "169.254.169.254",
    // An ordinary public address, reachable only as the namespace's own loopback.
    "100.128.0.1",
    "127.0.0.1",
];
const V6: [&str; 5] = [
    "fd00::1",
    "fd00:ec2::254",
    "64:ff9b::a00:1",
    "2002:a00:1::1",
    "::1",
];

#[test]
fn every_refused_family_is_refused_on_real_sockets_without_routes() {
    if std::env::var_os(CHILD).is_some() {
        in_namespace();
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let out = Command::new("unshare")
        .args(["--net", "--"])
        .arg(exe)
        .args(["--exact", TEST, "--nocapture", "--test-threads", "1"])
        .env(CHILD, "1")
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "failed to run unshare ({e}): apt-get install util-linux iproute2, and run as root"
            )
        });
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "inside the namespace:\n{text}");
    // The child really ran the cases (and did not just match no test).
    assert!(text.contains("cases checked: 15"), "{text}");
}

fn ip(args: &[&str]) {
    let status = Command::new("ip")
        .args(args)
        .status()
        .unwrap_or_else(|e| panic!("failed to run ip ({e}): apt-get install iproute2"));
    assert!(status.success(), "ip {args:?}");
}

/// A server on `addr` that answers 200 and counts accepted connections.
fn listen(addr: SocketAddr) -> Arc<AtomicUsize> {
    let listener = TcpListener::bind(addr).unwrap_or_else(|e| panic!("bind {addr}: {e}"));
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            count.fetch_add(1, Ordering::SeqCst);
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
                head.push(byte[0]);
            }
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
        }
    });
    accepted
}

/// A name server on 127.0.0.1 answering `mixed.test` with a private and a public
/// address (and nothing for other names or types).
fn name_server() -> SocketAddr {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = socket.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 512];
        while let Ok((n, peer)) = socket.recv_from(&mut buf) {
            let Ok(query) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            let mut answer = Message::new();
            answer
                .set_id(query.id())
                .set_message_type(MessageType::Response)
                .set_op_code(OpCode::Query)
                .set_recursion_desired(true)
                .set_recursion_available(true)
                .add_queries(query.queries().to_vec());
            for q in query.queries() {
                if q.query_type() == RecordType::A && q.name().to_ascii().starts_with("mixed.test")
                {
                    for ip in ["10.0.0.1", "100.128.0.1"] {
                        let rdata = RData::A(A(ip.parse().unwrap()));
                        answer.add_answer(Record::from_rdata(q.name().clone(), 60, rdata));
                    }
                }
            }
            let _ = socket.send_to(&answer.to_bytes().unwrap(), peer);
        }
    });
    addr
}

fn check(url: &str, allow_private: bool) -> webmon_core::check::Check {
    RawCheck {
        id: "netns".into(),
        url: url.into(),
        requests: Some(1),
        timeout: Some("2s".into()),
        allow_private: Some(allow_private),
        ..Default::default()
    }
    .validate()
    .unwrap()
}

fn url(addr: &IpAddr, port: u16) -> String {
    match addr {
        IpAddr::V4(v4) => format!("http://{v4}:{port}/"),
        IpAddr::V6(v6) => format!("http://[{v6}]:{port}/"),
    }
}

fn in_namespace() {
    ip(&["link", "set", "lo", "up"]);
    for a in V4.iter().filter(|a| **a != "127.0.0.1") {
        ip(&["addr", "add", &format!("{a}/32"), "dev", "lo"]);
    }
    for a in V6.iter().filter(|a| **a != "::1") {
        ip(&[
            "-6",
            "addr",
            "add",
            &format!("{a}/128"),
            "dev",
            "lo",
            "nodad",
        ]);
    }
    // One port for every address, so a name with two addresses has one URL.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut counters = std::collections::BTreeMap::new();
    for a in V4.iter().chain(V6.iter()) {
        let addr: IpAddr = a.parse().unwrap();
        counters.insert(addr, listen(SocketAddr::new(addr, port)));
    }
    let accepted = |a: &str| counters[&a.parse::<IpAddr>().unwrap()].load(Ordering::SeqCst);
    let dns = name_server();

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let prober = |allow_private: bool| {
        Prober::new(ProbeOptions {
            region: "netns".into(),
            allow_private,
            name_servers: vec![dns],
            ..Default::default()
        })
    };
    let probe = |prober: &Prober, url: &str, allow: bool| -> ProbeResult {
        runtime.block_on(prober.probe(&check(url, allow), 0))
    };
    let closed = prober(false);
    let open = prober(true);
    let mut cases = 0;

    // The operator allows no private targets: every family is refused before any
    // connection, the check's own `allow_private` notwithstanding.
    let refused = [
        "10.0.0.1",
        "172.16.0.1",
        "192.168.0.1",
        "100.64.0.1",
        "169.254.169.254",
        "127.0.0.1",
        "fd00::1",
        "fd00:ec2::254",
        "64:ff9b::a00:1",
        "2002:a00:1::1",
        "::1",
    ];
    for a in refused {
        let r = probe(&closed, &url(&a.parse().unwrap(), port), true);
        assert_eq!(
            r.error_class.map(|c| c.as_str()),
            Some("blocked"),
            "{a}: {:?}",
            r.error_message
        );
        assert_eq!(accepted(a), 0, "{a} received a connection");
        cases += 1;
    }
    // An IPv4-mapped IPv6 literal reaches the IPv4 server if let through.
    let r = probe(&closed, &format!("http://[::ffff:10.0.0.1]:{port}/"), true);
    assert_eq!(r.error_class.map(|c| c.as_str()), Some("blocked"), "{r:?}");
    assert_eq!(accepted("10.0.0.1"), 0);
    cases += 1;

    // The operator allows private targets: RFC 1918 is reached (the servers do answer),
    // the metadata service is not.
    let r = probe(&open, &url(&"10.0.0.1".parse().unwrap(), port), true);
    assert!(r.available, "{r:?}");
    assert_eq!(accepted("10.0.0.1"), 1);
    cases += 1;
    let r = probe(&open, &url(&"169.254.169.254".parse().unwrap(), port), true);
    assert_eq!(r.error_class.map(|c| c.as_str()), Some("blocked"), "{r:?}");
    assert_eq!(accepted("169.254.169.254"), 0);
    cases += 1;

    // A name with a private and a public address: only the public one is connected.
    let r = probe(&closed, &format!("http://mixed.test:{port}/"), false);
    assert!(r.available, "{r:?}");
    assert_eq!(r.remote_ip.as_deref(), Some("100.128.0.1"));
    assert_eq!(accepted("100.128.0.1"), 1);
    assert_eq!(
        accepted("10.0.0.1"),
        1,
        "the private address got nothing more"
    );
    cases += 1;

    println!("cases checked: {cases}");
}
