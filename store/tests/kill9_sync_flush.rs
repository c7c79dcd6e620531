//! kill -9 during SYNC_FLUSH puts (DESIGN.md F1, R5): the test binary re-runs itself as a child
//! that prints each acknowledged record; the parent SIGKILLs it mid-stream, reopens the store
//! and checks that every acknowledged record is present exactly once, in order.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::*;
use ferrumq_store::PutStatus;

const CHILD_ENV: &str = "FQ_KILL9_CHILD_DIR";
const TOPIC: &str = "Kill9";

fn config(dir: &std::path::Path) -> ferrumq_store::StoreConfig {
    let mut cfg = sync_config(dir);
    cfg.mapped_file_size_commit_log = 16 * 1024;
    cfg.flush_interval_consume_queue_ms = 20;
    cfg
}

/// Child side: runs only when re-executed by the parent with the env var set.
#[test]
fn kill9_child_writer() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let store = ferrumq_store::MessageStore::open(config(dir.as_ref())).unwrap();
    let start = store.max_offset_in_queue(TOPIC, 0);
    for n in start.. {
        let body = format!("n={n:08}").repeat(1 + (n as usize % 7));
        let (r, waiter) = store.put_message(msg(TOPIC, 0, body)).unwrap();
        assert_eq!(waiter.wait_blocking(), PutStatus::PutOk);
        println!("ACK {} {}", r.queue_offset, r.physical_offset);
    }
}

fn run_child_and_kill(dir: &std::path::Path, acks_before_kill: usize) -> Vec<i64> {
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .args([
            "kill9_child_writer",
            "--exact",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(CHILD_ENV, dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut acked = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let Ok(line) = line else { break };
        // libtest prints "test name ... " without a newline before the first ack
        if let Some(rest) = line.find("ACK ").and_then(|i| line.get(i + 4..)) {
            acked.push(rest.split(' ').next().unwrap().parse::<i64>().unwrap());
            if acked.len() >= acks_before_kill {
                child.kill().unwrap(); // SIGKILL
                break;
            }
        }
    }
    child.wait().unwrap();
    acked
}

#[test]
fn acknowledged_records_survive_kill9() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut expected_next = 0i64;
    for (round, n) in [150usize, 37, 400].into_iter().enumerate() {
        let acked = run_child_and_kill(dir.path(), n);
        assert_eq!(acked.len(), n, "round {round}: child produced acks");
        assert_eq!(
            acked[0], expected_next,
            "round {round}: child continued at the recovered offset"
        );
        let last_acked = *acked.last().unwrap();
        assert!(
            dir.path().join("abort").exists(),
            "a SIGKILLed store leaves its abort file"
        );

        let store = open(&config(dir.path()));
        let bodies = read_all_bodies(&store, TOPIC, 0);
        // every acknowledged record is present exactly once, in order; unacknowledged records
        // that made it are allowed only as a contiguous continuation
        assert!(
            bodies.len() as i64 > last_acked,
            "round {round}: acked records missing"
        );
        for (i, b) in bodies.iter().enumerate() {
            let want = format!("n={i:08}").repeat(1 + (i % 7));
            assert!(b == want.as_bytes(), "round {round}: record {i} is wrong");
        }
        expected_next = bodies.len() as i64;
        store.shutdown();
        drop(store);
        // and the next round starts from a store that recovers as a crash again
        std::fs::write(dir.path().join("abort"), b"").unwrap();
    }
}
