//! Append throughput: 1 KiB records, ASYNC_FLUSH one thread; SYNC_FLUSH 64 concurrent writers.
//! One store per benchmark (not per sample), so cold-start costs do not dominate.

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ferrumq_store::{FlushDiskType, PutStatus};

#[path = "store_common/mod.rs"]
mod store_common;
use store_common::*;

const ASYNC_BATCH: u64 = 20_000;
const SYNC_WRITERS: i32 = 64;
const SYNC_PER_WRITER: u64 = 100;

fn append_async_one_thread(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path(), FlushDiskType::AsyncFlush);
    let body = body_1k();
    let mut g = c.benchmark_group("store_append");
    g.throughput(Throughput::Elements(ASYNC_BATCH))
        .sample_size(10);
    g.bench_function("async_1k_one_thread", |b| {
        b.iter(|| {
            for i in 0..ASYNC_BATCH {
                let (_, w) = store
                    .put_message(msg((i % 8) as i32, body.clone()))
                    .expect("put");
                drop(w);
            }
        })
    });
    g.finish();
    store.shutdown();
}

fn append_sync_64_writers(c: &mut Criterion) {
    // Let the previous benchmark's dirty pages reach the disk first: their writeback would
    // otherwise sit in front of every fdatasync measured here.
    let _ = std::process::Command::new("sync").status();
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path(), FlushDiskType::SyncFlush);
    let mut g = c.benchmark_group("store_append");
    g.throughput(Throughput::Elements(SYNC_WRITERS as u64 * SYNC_PER_WRITER))
        .sample_size(10);
    g.bench_function("sync_1k_64_writers", |b| {
        b.iter(|| {
            let handles: Vec<_> = (0..SYNC_WRITERS)
                .map(|t| {
                    let store = Arc::clone(&store);
                    std::thread::spawn(move || {
                        let body = body_1k();
                        for _ in 0..SYNC_PER_WRITER {
                            let (_, w) = store.put_message(msg(t % 8, body.clone())).expect("put");
                            assert_eq!(w.wait_blocking(), PutStatus::PutOk);
                        }
                    })
                })
                .collect();
            for h in handles {
                h.join().expect("writer");
            }
        })
    });
    g.finish();
    store.shutdown();
}

criterion_group!(benches, append_async_one_thread, append_sync_64_writers);
criterion_main!(benches);
