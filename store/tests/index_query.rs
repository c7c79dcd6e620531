//! Query by key and unique id through the index files (DESIGN.md I1-I3): KEYS and UNIQ_KEY,
//! max_num, time range, topic isolation, rollback records not indexed, rebuilt after loss.

mod common;

use common::*;
use ferrumq_store::message::{decode_record, find_property, TRANSACTION_ROLLBACK_TYPE};

fn keyed(topic: &str, keys: &str, uniq: &str, body: &str) -> ferrumq_store::MessageToStore {
    let mut m = msg(topic, 0, body.to_string());
    m.properties = format!("KEYS\u{1}{keys}\u{2}UNIQ_KEY\u{1}{uniq}\u{2}TAGS\u{1}TagA");
    m
}

fn bodies(r: &ferrumq_store::QueryMessageResult) -> Vec<String> {
    r.messages
        .iter()
        .map(|m| String::from_utf8(decode_record(m).unwrap().body.to_vec()).unwrap())
        .collect()
}

#[test]
fn query_by_key_and_unique_id() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = small_config(dir.path());
    let store = open(&cfg);
    for i in 0..30 {
        put(
            &store,
            keyed(
                "Idx",
                &format!("order-{} common", i % 3),
                &format!("UNIQ{i:04}"),
                &format!("b{i}"),
            ),
        );
    }
    put(
        &store,
        keyed("Other", "order-0 common", "UNIQ9999", "other-topic"),
    );
    let mut rb = keyed("Idx", "rolled", "UNIQROLL", "rollback");
    rb.sys_flag = TRANSACTION_ROLLBACK_TYPE;
    put(&store, rb);
    store.debug_wait_dispatched();
    let all = (0, i64::MAX);

    let r = store.query_message("Idx", "UNIQ0007", 32, all.0, all.1);
    assert_eq!(bodies(&r), vec!["b7"]);
    assert!(r.index_last_update_timestamp > 0);
    let r = store.query_message("Idx", "order-1", 100, all.0, all.1);
    let mut got = bodies(&r);
    got.sort();
    let mut want: Vec<String> = (0..30)
        .filter(|i| i % 3 == 1)
        .map(|i| format!("b{i}"))
        .collect();
    want.sort();
    assert_eq!(got, want);
    // every record carries the key it was found by
    for m in &r.messages {
        let rec = decode_record(m).unwrap();
        assert!(find_property(rec.properties, "KEYS")
            .unwrap()
            .split(' ')
            .any(|k| k == "order-1"));
    }
    assert_eq!(
        store
            .query_message("Idx", "common", 5, all.0, all.1)
            .messages
            .len(),
        5,
        "max_num"
    );
    assert_eq!(
        store
            .query_message("Other", "order-0", 32, all.0, all.1)
            .messages
            .len(),
        1,
        "topic isolation"
    );
    assert!(
        store
            .query_message("Idx", "rolled", 32, all.0, all.1)
            .messages
            .is_empty(),
        "rollback not indexed"
    );
    assert!(store
        .query_message("Idx", "nope", 32, all.0, all.1)
        .messages
        .is_empty());
    // a time range before everything finds nothing
    assert!(store
        .query_message("Idx", "UNIQ0007", 32, 0, 1_000)
        .messages
        .is_empty());
    store.shutdown();
    drop(store);

    // after a clean restart, and after losing the index entirely (crash), queries still work
    let store = open(&cfg);
    assert_eq!(
        bodies(&store.query_message("Idx", "UNIQ0011", 32, all.0, all.1)),
        vec!["b11"]
    );
    store.shutdown();
    drop(store);
    std::fs::remove_dir_all(dir.path().join("index")).unwrap();
    std::fs::remove_file(dir.path().join("checkpoint")).unwrap();
    std::fs::write(dir.path().join("abort"), b"").unwrap();
    let store = open(&cfg);
    assert_eq!(
        bodies(&store.query_message("Idx", "UNIQ0023", 32, all.0, all.1)),
        vec!["b23"]
    );
    assert_eq!(
        store
            .query_message("Idx", "order-2", 100, all.0, all.1)
            .messages
            .len(),
        10
    );
}

#[test]
fn index_rolls_to_new_files_when_full() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = small_config(dir.path());
    cfg.max_index_num = 8; // 7 usable entries per file
    cfg.max_hash_slot_num = 4;
    let store = open(&cfg);
    for i in 0..40 {
        put(
            &store,
            keyed("Roll", &format!("k{i}"), &format!("U{i}"), &format!("b{i}")),
        );
    }
    store.debug_wait_dispatched();
    let files = std::fs::read_dir(dir.path().join("index")).unwrap().count();
    assert!(files >= 10, "index files: {files}");
    for i in [0, 13, 39] {
        assert_eq!(
            bodies(&store.query_message("Roll", &format!("k{i}"), 4, 0, i64::MAX)),
            vec![format!("b{i}")]
        );
        assert_eq!(
            bodies(&store.query_message("Roll", &format!("U{i}"), 4, 0, i64::MAX)),
            vec![format!("b{i}")]
        );
    }
}

/// I4: an index file whose header claims more entries than it holds (damaged) is refused at
/// open instead of letting a query read outside its mapping; every index file is then
/// rebuilt from the CommitLog, so keys are found again, once each.
#[test]
fn damaged_index_header_is_refused_and_rebuilt_from_the_log() {
    use std::io::{Seek, SeekFrom, Write};
    let dir = tempfile::tempdir().unwrap();
    let cfg = small_config(dir.path());
    let store = open(&cfg);
    for i in 0..10 {
        put(
            &store,
            keyed("Dmg", &format!("k{i}"), &format!("U{i}"), &format!("b{i}")),
        );
    }
    store.debug_wait_dispatched();
    store.shutdown();
    drop(store);
    let mut damaged = 0;
    for e in std::fs::read_dir(dir.path().join("index")).unwrap() {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(e.unwrap().path())
            .unwrap();
        f.seek(SeekFrom::Start(36)).unwrap(); // indexCount
        f.write_all(&u32::MAX.to_be_bytes()).unwrap();
        // and every hash slot (small_config: 64, after the 40-byte header) far past the end
        for _ in 0..64 {
            f.write_all(&0x7FFF_FFFFu32.to_be_bytes()).unwrap();
        }
        damaged += 1;
    }
    assert!(damaged >= 1);
    let store = open(&cfg);
    for i in [0, 3, 9] {
        let r = store.query_message("Dmg", &format!("k{i}"), 32, 0, i64::MAX);
        assert_eq!(
            bodies(&r),
            vec![format!("b{i}")],
            "key k{i} after the rebuild"
        );
    }
    store.shutdown();
}
