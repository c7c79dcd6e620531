//! ConsumeQueue semantics (DESIGN.md Q3-Q5): transaction types, schedule-topic tag codes, tag
//! filtering, arrival listener, time lookups, OffsetFoundNull, topic deletion, IPv6 hosts.

mod common;

use std::sync::{Arc, Mutex};

use common::*;
use ferrumq_store::message::{
    decode_record, TRANSACTION_COMMIT_TYPE, TRANSACTION_PREPARED_TYPE, TRANSACTION_ROLLBACK_TYPE,
};
use ferrumq_store::{java_string_hash, GetMessageStatus};

#[test]
fn only_not_and_commit_records_enter_the_queue() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&small_config(dir.path()));
    let mut offsets = Vec::new();
    for (i, tx) in [
        0,
        TRANSACTION_PREPARED_TYPE,
        TRANSACTION_COMMIT_TYPE,
        TRANSACTION_ROLLBACK_TYPE,
        0,
    ]
    .iter()
    .enumerate()
    {
        let mut m = msg("Tx", 0, format!("m{i}"));
        m.sys_flag = *tx;
        let (r, _) = store.put_message(m).unwrap();
        offsets.push(r.queue_offset);
        let stored = decode_record(&store.lookup_message_by_offset(r.physical_offset).unwrap())
            .unwrap()
            .queue_offset;
        assert_eq!(stored, r.queue_offset);
    }
    assert_eq!(offsets, vec![0, 0, 1, 0, 2]);
    store.debug_wait_dispatched();
    assert_eq!(
        read_all_bodies(&store, "Tx", 0),
        vec![b"m0".to_vec(), b"m2".to_vec(), b"m4".to_vec()]
    );
}

#[test]
fn tag_codes_filtering_and_schedule_topic_due_time() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&small_config(dir.path()));
    let codes = Arc::new(Mutex::new(Vec::new()));
    let seen = codes.clone();
    store.set_arrival_listener(Arc::new(move |t: &str, q, max| {
        seen.lock().unwrap().push((t.to_string(), q, max))
    }));
    for (i, tag) in ["TagA", "TagB", "", "TagA"].iter().enumerate() {
        let mut m = msg("Tags", 3, format!("t{i}"));
        if !tag.is_empty() {
            m.properties = format!("TAGS\u{1}{tag}");
        }
        put(&store, m);
    }
    let mut m = msg("SCHEDULE_TOPIC_XXXX", 2, "delayed");
    m.properties = "DELAY\u{1}3\u{2}REAL_TOPIC\u{1}Tags".into();
    let (r, _) = store.put_message(m).unwrap();
    let mut clamp = msg("SCHEDULE_TOPIC_XXXX", 17, "clamped");
    clamp.properties = "DELAY\u{1}99".into();
    let (rc, _) = store.put_message(clamp).unwrap();
    store.debug_wait_dispatched();

    let tag_a = i64::from(java_string_hash("TagA"));
    let g = store.get_message("Tags", 3, 0, 32, usize::MAX, &|c| c == tag_a);
    assert_eq!(g.status, GetMessageStatus::Found);
    let got: Vec<_> = g
        .messages
        .iter()
        .map(|m| decode_record(m).unwrap().body.to_vec())
        .collect();
    assert_eq!(got, vec![b"t0".to_vec(), b"t3".to_vec()]);
    assert_eq!(g.next_begin_offset, 4);
    let g = store.get_message("Tags", 3, 0, 32, usize::MAX, &|c| c == 0);
    assert_eq!(g.messages.len(), 1, "no TAGS -> tag code 0");

    // schedule topic: tag code = store time + delay of the level (10 s for level 3)
    let g = store.get_message("SCHEDULE_TOPIC_XXXX", 2, 0, 1, usize::MAX, &|c| {
        c == r.store_timestamp_ms + 10_000
    });
    assert_eq!(g.status, GetMessageStatus::Found);
    let g = store.get_message("SCHEDULE_TOPIC_XXXX", 17, 0, 1, usize::MAX, &|c| {
        c == rc.store_timestamp_ms + 7_200_000
    });
    assert_eq!(
        g.status,
        GetMessageStatus::Found,
        "levels above the max clamp to the max"
    );

    let calls = codes.lock().unwrap().clone();
    assert_eq!(
        calls
            .iter()
            .filter(|c| c.0 == "Tags")
            .map(|c| c.2)
            .collect::<Vec<_>>(),
        vec![1, 2, 3, 4]
    );
}

#[test]
fn time_lookups_and_missing_cq_file() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = small_config(dir.path()); // 16 entries per CQ file
    let store = open(&cfg);
    let base = 1_000_000_000_000i64;
    for i in 0..48i64 {
        let mut m = msg("Time", 0, format!("x{i}"));
        m.store_timestamp_ms = Some(base + i * 1000);
        put(&store, m);
    }
    store.debug_wait_dispatched();
    assert_eq!(store.store_time_at("Time", 0, 5), Some(base + 5000));
    assert_eq!(store.earliest_message_time("Time", 0), Some(base));
    assert_eq!(store.offset_by_time("Time", 0, base + 5000), 5);
    assert_eq!(store.offset_by_time("Time", 0, base + 5001), 6);
    assert_eq!(store.offset_by_time("Time", 0, 0), 0);
    assert_eq!(store.offset_by_time("Time", 0, i64::MAX), 48);
    // UPPER boundary: the last entry stored at or before the time.
    assert_eq!(store.offset_by_time_upper("Time", 0, base + 5000), 5);
    assert_eq!(store.offset_by_time_upper("Time", 0, base + 5999), 5);
    assert_eq!(
        store.offset_by_time_upper("Time", 0, 0),
        0,
        "none older: the min"
    );
    assert_eq!(store.offset_by_time_upper("Time", 0, i64::MAX), 47);
    store.shutdown();
    drop(store);
    // lose the middle ConsumeQueue file (offsets 16..32)
    std::fs::remove_file(
        dir.path()
            .join("consumequeue/Time/0")
            .join(format!("{:020}", 16 * 20)),
    )
    .unwrap();
    let store = open(&cfg);
    let g = store.get_message("Time", 0, 20, 32, usize::MAX, &|_| true);
    assert_eq!(
        (g.status, g.next_begin_offset),
        (GetMessageStatus::OffsetFoundNull, 32)
    );
    let g = store.get_message("Time", 0, 30, 32, usize::MAX, &|_| true);
    assert_eq!(g.next_begin_offset, 32);
    // one pull never reads past the CQ file that holds the offset
    let g = store.get_message("Time", 0, 0, 32, usize::MAX, &|_| true);
    assert_eq!((g.messages.len(), g.next_begin_offset), (16, 16));
}

#[test]
fn delete_topics_drops_queues_and_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&small_config(dir.path()));
    put(&store, msg("Gone", 0, "a"));
    put(&store, msg("Gone", 0, "b"));
    store.debug_wait_dispatched();
    store.delete_topics(&["Gone".to_string()]);
    assert!(!dir.path().join("consumequeue/Gone").exists());
    assert_eq!(
        store
            .get_message("Gone", 0, 0, 32, usize::MAX, &|_| true)
            .status,
        GetMessageStatus::NoMatchedLogicQueue
    );
    let (qo, _) = store.put_message(msg("Gone", 0, "c")).unwrap();
    assert_eq!(qo.queue_offset, 0);
}

#[test]
fn ipv6_hosts_round_trip_and_msg_ids() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&small_config(dir.path()));
    let mut m = msg("V6", 0, "six");
    m.born_host = "[::1]:4000".parse().unwrap();
    m.store_host = "[2001:db8::7]:10911".parse().unwrap();
    let (r, _) = store.put_message(m).unwrap();
    assert_eq!(r.msg_ids.len(), 56);
    let (host, off) = ferrumq_store::decode_offset_msg_id(&r.msg_ids).unwrap();
    assert_eq!(
        (host, off),
        ("[2001:db8::7]:10911".parse().unwrap(), r.physical_offset)
    );
    store.debug_wait_dispatched();
    let g = store.get_message("V6", 0, 0, 1, usize::MAX, &|_| true);
    let rec = decode_record(&g.messages[0]).unwrap();
    assert_eq!(rec.sys_flag & 0x30, 0x30);
    assert_eq!(rec.born_host, "[::1]:4000".parse().unwrap());
    assert_eq!(
        store.store_time_at("V6", 0, 0),
        Some(rec.store_timestamp_ms)
    );
}

/// Topic "Del": old-0 dispatched, old-1 and old-2 not (dispatch paused, and left paused), then
/// the topic deleted and new-0 sent to it; returns new-0's queue offset.
fn delete_while_dispatch_lags_then_resend(store: &ferrumq_store::MessageStore) -> i64 {
    put(store, msg("Del", 0, "old-0"));
    store.debug_wait_dispatched();
    store.debug_pause_dispatch(true);
    put(store, msg("Del", 0, "old-1"));
    put(store, msg("Del", 0, "old-2"));
    store.delete_topics(&["Del".to_string()]);
    put(store, msg("Del", 0, "new-0")).1
}

/// P2: a topic deleted while the dispatcher lags and recreated at once. The old topic's
/// undispatched records must not land in the new topic's queue, and the new records (whose
/// queue offsets restart at 0) must not be dropped as duplicates of the old ones.
#[test]
fn topic_deleted_while_dispatch_lags_then_recreated() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&small_config(dir.path()));
    let qo = delete_while_dispatch_lags_then_resend(&store);
    assert_eq!(qo, 0, "a recreated topic starts at offset 0");
    put(&store, msg("Del", 0, "new-1"));
    store.debug_pause_dispatch(false);
    store.debug_wait_dispatched();
    let bodies = read_all_bodies(&store, "Del", 0);
    assert_eq!(bodies, vec![b"new-0".to_vec(), b"new-1".to_vec()]);
    store.shutdown();
}

/// A deleted topic's ConsumeQueue folder is renamed aside under the append lock and removed
/// after it; one left behind (crash between the two) is removed at the next open.
#[test]
fn deleted_topic_folder_left_behind_is_removed_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = small_config(dir.path());
    let store = open(&cfg);
    put(&store, msg("Gone", 0, "x"));
    store.debug_wait_dispatched();
    store.delete_topics(&["Gone".to_string()]);
    let cq_root = dir.path().join("consumequeue");
    let names = |root: &std::path::Path| -> Vec<String> {
        std::fs::read_dir(root)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    };
    assert!(names(&cq_root).is_empty(), "{:?}", names(&cq_root));
    store.shutdown();
    drop(store);
    std::fs::create_dir_all(cq_root.join(".deleted-Gone-1/0")).unwrap();
    let store = open(&cfg);
    assert!(names(&cq_root).is_empty(), "{:?}", names(&cq_root));
    store.shutdown();
}

/// P2 across a crash: the fence is saved with the deletion, so re-dispatch after a restart
/// (from the checkpoint, below the fence) does not bring the deleted topic's records back
/// into the recreated topic's queue.
#[test]
fn topic_fence_survives_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = small_config(dir.path());
    let store = open(&cfg);
    let qo = delete_while_dispatch_lags_then_resend(&store);
    assert_eq!(qo, 0);
    drop(store); // crash: nothing after the pause was dispatched
    let store = open(&cfg);
    store.debug_wait_dispatched();
    assert_eq!(read_all_bodies(&store, "Del", 0), vec![b"new-0".to_vec()]);
    let (_, qo) = put(&store, msg("Del", 0, "new-1"));
    assert_eq!(
        qo, 1,
        "the recreated topic continues after its own messages"
    );
    store.shutdown();
}
