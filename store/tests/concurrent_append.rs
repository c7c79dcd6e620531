//! Many threads appending to many queues (DESIGN.md C4): every queue's offsets are contiguous,
//! nothing is lost or doubled, each writer's order within a queue is kept.

mod common;

use std::collections::HashMap;
use std::sync::Arc;

use common::*;
use ferrumq_store::message::decode_record;

#[test]
fn many_threads_many_queues() {
    const THREADS: usize = 8;
    const QUEUES: i32 = 6;
    const PER_THREAD: usize = 600;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = small_config(dir.path());
    cfg.mapped_file_size_commit_log = 64 * 1024;
    let store = open(&cfg);
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                let mut got = Vec::new();
                for i in 0..PER_THREAD {
                    let q = ((t + i) % QUEUES as usize) as i32;
                    let topic = if i % 2 == 0 { "Even" } else { "Odd" };
                    let (r, _) = store
                        .put_message(msg(topic, q, format!("{t}:{i}")))
                        .unwrap();
                    got.push((topic, q, r.queue_offset, format!("{t}:{i}")));
                }
                got
            })
        })
        .collect();
    let mut assigned: HashMap<(&str, i32), Vec<(i64, String)>> = HashMap::new();
    for h in handles {
        for (topic, q, qo, body) in h.join().unwrap() {
            assigned.entry((topic, q)).or_default().push((qo, body));
        }
    }
    store.debug_wait_dispatched();
    let mut total = 0;
    for ((topic, q), mut list) in assigned {
        list.sort();
        let offsets: Vec<i64> = list.iter().map(|x| x.0).collect();
        assert_eq!(
            offsets,
            (0..list.len() as i64).collect::<Vec<_>>(),
            "{topic}-{q} contiguous"
        );
        assert_eq!(store.max_offset_in_queue(topic, q), list.len() as i64);
        let stored: Vec<String> = read_all_bodies(&store, topic, q)
            .into_iter()
            .map(|b| String::from_utf8(b).unwrap())
            .collect();
        let want: Vec<String> = list.iter().map(|x| x.1.clone()).collect();
        assert_eq!(
            stored, want,
            "{topic}-{q}: stored bodies match assigned offsets"
        );
        // a writer's own messages to one queue keep their order
        let mut last: HashMap<&str, usize> = HashMap::new();
        for b in &stored {
            let (t, i) = b.split_once(':').unwrap();
            let i: usize = i.parse().unwrap();
            if let Some(prev) = last.insert(t, i) {
                assert!(prev < i);
            }
        }
        total += stored.len();
    }
    assert_eq!(total, THREADS * PER_THREAD);
    // physical offsets recorded in each record match where they are
    let g = store.get_message("Even", 0, 0, 32, usize::MAX, &|_| true);
    for m in g.messages {
        let rec = decode_record(&m).unwrap();
        assert_eq!(
            store.lookup_message_by_offset(rec.physical_offset).unwrap(),
            m
        );
    }
    store.shutdown();
}

/// M1: readers running while writers append only ever see whole, valid records.
#[test]
fn readers_see_only_whole_records_while_writers_append() {
    use ferrumq_store::message::decode_record_checked;
    use std::sync::atomic::{AtomicBool, Ordering};
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = small_config(dir.path());
    cfg.mapped_file_size_commit_log = 32 * 1024;
    let store = open(&cfg);
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let (store, done) = (Arc::clone(&store), Arc::clone(&done));
        std::thread::spawn(move || {
            let mut next = 0i64;
            let mut seen = 0usize;
            while !done.load(Ordering::Acquire) || next < store.max_offset_in_queue("Live", 0) {
                let g = store.get_message("Live", 0, next, 32, usize::MAX, &|_| true);
                for m in &g.messages {
                    let rec = decode_record_checked(m, true).expect("whole record with good CRC");
                    assert_eq!(rec.queue_offset, next, "records arrive in queue order");
                    assert_eq!(
                        rec.body,
                        format!("live-{}", rec.queue_offset).repeat(20).as_bytes()
                    );
                    next = rec.queue_offset + 1;
                    seen += 1;
                }
                if g.messages.is_empty() {
                    std::thread::yield_now();
                }
            }
            seen
        })
    };
    for i in 0..3000 {
        store
            .put_message(msg("Live", 0, format!("live-{i}").repeat(20)))
            .unwrap();
    }
    store.debug_wait_dispatched();
    done.store(true, Ordering::Release);
    assert_eq!(reader.join().unwrap(), 3000);
}
