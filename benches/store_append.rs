//! Append throughput: 1 KiB records, ASYNC_FLUSH one thread; SYNC_FLUSH 64 concurrent writers.

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ferrumq_store::{FlushDiskType, PutStatus};

#[path = "store_common/mod.rs"]
mod store_common;
use store_common::*;

fn append_async_one_thread(c: &mut Criterion) {
    let mut g = c.benchmark_group("store_append");
    g.throughput(Throughput::Elements(1)).sample_size(10);
    g.bench_function("async_1k_one_thread", |b| {
        b.iter_custom(|iters| {
            // A fresh store per sample keeps the disk footprint bounded.
            let dir = tempfile::tempdir().expect("tempdir");
            let store = open(dir.path(), FlushDiskType::AsyncFlush);
            let body = body_1k();
            let start = Instant::now();
            for i in 0..iters {
                let (_, w) = store
                    .put_message(msg((i % 8) as i32, body.clone()))
                    .expect("put");
                drop(w);
            }
            let t = start.elapsed();
            store.shutdown();
            t
        })
    });
    g.finish();
}

fn append_sync_64_writers(c: &mut Criterion) {
    let mut g = c.benchmark_group("store_append");
    g.throughput(Throughput::Elements(1)).sample_size(10);
    g.bench_function("sync_1k_64_writers", |b| {
        b.iter_custom(|iters| {
            let dir = tempfile::tempdir().expect("tempdir");
            let store = open(dir.path(), FlushDiskType::SyncFlush);
            let per = iters.div_ceil(64);
            let start = Instant::now();
            let handles: Vec<_> = (0..64)
                .map(|t| {
                    let store = Arc::clone(&store);
                    std::thread::spawn(move || {
                        let body = body_1k();
                        for _ in 0..per {
                            let (_, w) = store.put_message(msg(t % 8, body.clone())).expect("put");
                            assert_eq!(w.wait_blocking(), PutStatus::PutOk);
                        }
                    })
                })
                .collect();
            for h in handles {
                h.join().expect("writer");
            }
            let t = start.elapsed();
            store.shutdown();
            // scale to the requested iteration count
            Duration::from_secs_f64(t.as_secs_f64() * iters as f64 / (per * 64) as f64)
        })
    });
    g.finish();
}

criterion_group!(benches, append_async_one_thread, append_sync_64_writers);
criterion_main!(benches);
