//! The store's replication calls: a slave copying its master's CommitLog in chunks that split
//! records (and cross file ends only where the master's files end) ends byte-identical, with
//! the same messages readable from its own ConsumeQueues; a chunk that does not continue the
//! log is refused; a slave that stops mid-record resumes after restart from its last whole
//! record.

mod common;

use common::*;
use ferrumq_store::{MessageStore, StoreError};

/// A queue's bodies as (length, first byte), short enough to print on a failure.
fn summary(store: &MessageStore, q: i32) -> Vec<(usize, u8)> {
    read_all_bodies(store, "Rep", q)
        .iter()
        .map(|b| (b.len(), b.first().copied().unwrap_or(0)))
        .collect()
}

/// Copies master → slave in chunks of at most `chunk` bytes until the slave has everything
/// the master published (or `limit` bytes were copied).
fn copy(master: &MessageStore, slave: &MessageStore, chunk: usize, limit: u64) -> u64 {
    let mut copied = 0;
    loop {
        let received = slave.replica_received_offset();
        // A new slave starts at the master's oldest byte.
        let from = if received == 0 {
            master.commit_log_min_offset() as u64
        } else {
            received
        };
        let want = chunk.min((limit - copied) as usize);
        let Some(bytes) = master.replica_read(from, want) else {
            return copied;
        };
        if bytes.is_empty() {
            return copied;
        }
        slave.replica_append(from, &bytes).unwrap();
        copied += bytes.len() as u64;
        if copied >= limit {
            return copied;
        }
    }
}

fn fill(master: &MessageStore, n: usize) {
    for i in 0..n {
        // Sizes vary so records straddle chunk edges and files end with blank tails.
        let body = vec![b'a' + (i % 26) as u8; 20 + (i * 37) % 400];
        put(master, msg("Rep", (i % 3) as i32, body));
    }
}

#[test]
fn a_slave_ends_identical_to_its_master() {
    let (md, sd) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let master = open(&small_config(md.path()));
    let slave = open(&small_config(sd.path()));
    fill(&master, 120);
    copy(&master, &slave, 333, u64::MAX);
    assert_eq!(
        slave.commit_log_max_offset(),
        master.commit_log_max_offset()
    );
    assert_eq!(
        slave.replica_received_offset(),
        master.commit_log_max_offset() as u64
    );
    slave.debug_wait_dispatched();
    master.debug_wait_dispatched();
    for q in 0..3 {
        assert_eq!(summary(&slave, q), summary(&master, q), "queue {q}");
        assert_eq!(
            slave.max_offset_in_queue("Rep", q),
            master.max_offset_in_queue("Rep", q)
        );
    }
    // More later: the slave follows.
    fill(&master, 30);
    copy(&master, &slave, 4096, u64::MAX);
    slave.debug_wait_dispatched();
    master.debug_wait_dispatched();
    assert_eq!(
        read_all_bodies(&slave, "Rep", 1),
        read_all_bodies(&master, "Rep", 1)
    );
}

#[test]
fn a_chunk_that_does_not_continue_the_log_is_refused() {
    let (md, sd) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let master = open(&small_config(md.path()));
    let slave = open(&small_config(sd.path()));
    fill(&master, 10);
    copy(&master, &slave, 100, 250);
    let at = slave.replica_received_offset();
    let bytes = master.replica_read(at + 10, 50).unwrap();
    match slave.replica_append(at + 10, &bytes) {
        Err(StoreError::ReplicaGap { expected, got }) => assert_eq!((expected, got), (at, at + 10)),
        other => panic!("accepted a gap: {other:?}"),
    }
    // Nothing changed: the right chunk still fits.
    copy(&master, &slave, 100, u64::MAX);
    assert_eq!(
        slave.commit_log_max_offset(),
        master.commit_log_max_offset()
    );
}

#[test]
fn a_slave_stopped_mid_record_resumes_from_its_last_whole_record() {
    let (md, sd) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let master = open(&small_config(md.path()));
    fill(&master, 60);
    let cfg = small_config(sd.path());
    let cut;
    {
        let slave = open(&cfg);
        copy(&master, &slave, 97, 3_001);
        // Stopped with part of a record received: only whole records are published.
        assert!(slave.replica_received_offset() > slave.commit_log_max_offset() as u64);
        cut = slave.commit_log_max_offset();
        slave.shutdown();
    }
    let slave = open(&cfg);
    assert_eq!(slave.commit_log_max_offset(), cut);
    assert_eq!(
        slave.replica_received_offset(),
        cut as u64,
        "the partial record is gone"
    );
    copy(&master, &slave, 97, u64::MAX);
    slave.debug_wait_dispatched();
    master.debug_wait_dispatched();
    for q in 0..3 {
        assert_eq!(
            read_all_bodies(&slave, "Rep", q),
            read_all_bodies(&master, "Rep", q)
        );
    }
}
