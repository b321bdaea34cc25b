//! sig-core's Store conformance suite on SQLite files.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use sig_core::store::{Store, conformance};
use sig_store_sqlite::{SqliteOptions, SqliteStore, Synchronous};

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_store_conforms() {
    let dir = common::TempDir::new("conformance");
    let n = AtomicUsize::new(0);
    let open_temp_store = || {
        let path = dir.db(&format!("store-{}.db", n.fetch_add(1, Ordering::Relaxed)));
        SqliteStore::open(path).expect("open store")
    };
    conformance::run_all(|| async { Arc::new(open_temp_store()) as Arc<dyn Store> }).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_store_conforms_with_full_sync_and_one_reader() {
    let dir = common::TempDir::new("conformance-full");
    let n = AtomicUsize::new(0);
    let open_temp_store = || {
        let path = dir.db(&format!("store-{}.db", n.fetch_add(1, Ordering::Relaxed)));
        let options = SqliteOptions {
            synchronous: Synchronous::Full,
            readers: 1,
            ..SqliteOptions::default()
        };
        SqliteStore::open_with(path, options).expect("open store")
    };
    conformance::run_all(|| async { Arc::new(open_temp_store()) as Arc<dyn Store> }).await;
}
