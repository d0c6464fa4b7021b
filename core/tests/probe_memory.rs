//! A JSON assertion on a hostile 64 MiB body keeps memory bounded. The test binary counts
//! every allocation, so the peak is measured, not guessed. Real server on 127.0.0.1.

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use support::*;
use webmon_core::check::{RawAssertions, RawJsonPointer};

/// The system allocator, counting bytes in use and the peak.
struct Counting;

static IN_USE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded to the system allocator unchanged; only counters move.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = IN_USE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        IN_USE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                let grow = new_size - layout.size();
                let now = IN_USE.fetch_add(grow, Ordering::Relaxed) + grow;
                PEAK.fetch_max(now, Ordering::Relaxed);
            } else {
                IN_USE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const MIB: usize = 1 << 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_json_assertion_on_a_hostile_64_mib_body_stays_bounded() {
    // `[0,0,0,...,0]`: 64 MiB that a parsed document would turn into 32 million values
    // (over a gigabyte). The server streams it in 64 KiB pieces.
    let chunk = Bytes::from("0,".repeat(32 * 1024));
    let count = (64 * MIB - 4) / chunk.len();
    let server = Server::start(move |_| {
        respond(
            200,
            &[("content-type", "application/json")],
            streamed(b"[", chunk.clone(), count, b"1]"),
        )
    })
    .await;
    let check = check(&server.url("/big.json"), |c| {
        c.max_body_bytes = Some(64 * MIB as u64);
        c.timeout = Some("30s".into());
        c.interval = Some("1m".into());
        c.assertions = Some(RawAssertions {
            json: vec![
                RawJsonPointer {
                    pointer: "/0".into(),
                    equals: 0.into(),
                },
                RawJsonPointer {
                    pointer: "/1".into(),
                    equals: 0.into(),
                },
            ],
            ..Default::default()
        });
    });
    let prober = prober(|o| o.body_budget_bytes = Some(128 * MIB as u64));

    let before = IN_USE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let r = probe(&prober, &check).await;
    let peak = PEAK.load(Ordering::Relaxed) - before;

    assert_available(&r);
    assert!(r.bytes >= 64 * MIB as u64 - 64 * 1024, "{}", r.bytes);
    // The body itself (64 MiB) plus buffers; a parsed document would need 16 times that.
    assert!(
        peak < 100 * MIB,
        "peak allocation {} MiB while probing",
        peak / MIB
    );
    assert_eq!(prober.body_bytes_in_flight().0, 0, "budget given back");
}
