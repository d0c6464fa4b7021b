//! The SQLite store passes the shared result-store conformance suite, on disk (WAL) and
//! in memory.

use webmon_local::store::SqliteStore;
use webmon_testkit::conformance;

#[tokio::test]
async fn sqlite_in_memory_passes_the_store_suite() {
    let store = SqliteStore::open_in_memory().unwrap();
    conformance::full("sqlite (memory)", &store).await;
}

#[tokio::test]
async fn sqlite_on_disk_passes_the_store_suite() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("webmon.db")).unwrap();
    conformance::full("sqlite (file)", &store).await;
}
