//! Dispatch throughput (CommitLog -> ConsumeQueue + index entries) and crash recovery time.

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ferrumq_store::{FlushDiskType, MessageStore};

#[path = "store_common/mod.rs"]
mod store_common;
use store_common::*;

const DISPATCH_BATCH: u64 = 50_000;

/// Appends a batch with the dispatcher paused, then times how long it takes to dispatch it
/// (ConsumeQueue entry + one index key per record).
fn dispatch(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path(), FlushDiskType::AsyncFlush);
    let mut g = c.benchmark_group("store_dispatch");
    g.throughput(Throughput::Elements(DISPATCH_BATCH))
        .sample_size(10);
    g.bench_function("dispatch_1k_records", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                store.debug_pause_dispatch(true);
                fill(&store, DISPATCH_BATCH);
                let start = Instant::now();
                store.debug_pause_dispatch(false);
                store.debug_wait_dispatched();
                total += start.elapsed();
            }
            total
        })
    });
    g.finish();
    store.shutdown();
}

/// Crash recovery of RECOVERY_BYTES of 1 KiB records (page cache hot): abort file present, no
/// checkpoint, so every record is validated (magic, sizes, CRC) and re-dispatched (entries
/// already present are skipped).
const RECOVERY_BYTES: u64 = 256 * 1024 * 1024;

fn recovery(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config(dir.path(), FlushDiskType::AsyncFlush);
    {
        let store = MessageStore::open(cfg.clone()).expect("open");
        fill(&store, RECOVERY_BYTES / 1100);
        store.shutdown();
    }
    let mut g = c.benchmark_group("store_recovery");
    g.throughput(Throughput::Bytes(RECOVERY_BYTES))
        .sample_size(10);
    g.bench_function("crash_recovery_256MiB", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let _ = std::fs::remove_file(dir.path().join("checkpoint"));
                std::fs::write(dir.path().join("abort"), b"").expect("abort");
                let start = Instant::now();
                let store = MessageStore::open(cfg.clone()).expect("reopen");
                total += start.elapsed();
                store.shutdown();
            }
            total
        })
    });
    g.finish();
}

criterion_group!(benches, dispatch, recovery);
criterion_main!(benches);
