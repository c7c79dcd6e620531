//! Sequential read of stored 1 KiB records through get_message (zero-copy slices), and the same
//! with the bytes copied out (what a socket write would touch).

use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ferrumq_store::{FlushDiskType, GetMessageStatus};

#[path = "store_common/mod.rs"]
mod store_common;
use store_common::*;

const RECORDS: u64 = 200_000; // ~225 MB of records over 8 queues

fn read_seq(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path(), FlushDiskType::AsyncFlush);
    fill(&store, RECORDS);
    store.debug_wait_dispatched();
    let record_len = store.commit_log_max_offset() as u64 / RECORDS;
    let mut g = c.benchmark_group("store_read");
    g.sample_size(10);
    for copy in [false, true] {
        let name = if copy {
            "sequential_get_and_copy"
        } else {
            "sequential_get_zero_copy"
        };
        g.throughput(Throughput::Bytes(record_len * RECORDS));
        let mut sink = Vec::with_capacity(64 * 1024);
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                let mut total = 0usize;
                for _ in 0..iters {
                    for q in 0..8 {
                        let mut off = 0;
                        loop {
                            let r =
                                store.get_message("BenchTopic", q, off, 32, usize::MAX, &|_| true);
                            if r.status != GetMessageStatus::Found {
                                break;
                            }
                            for m in &r.messages {
                                if copy {
                                    sink.clear();
                                    sink.extend_from_slice(m);
                                }
                                total += m.len();
                            }
                            off = r.next_begin_offset;
                        }
                    }
                }
                assert!(total > 0);
                start.elapsed()
            })
        });
    }
    g.finish();
    store.shutdown();
}

criterion_group!(benches, read_seq);
criterion_main!(benches);
