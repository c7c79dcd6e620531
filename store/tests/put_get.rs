//! Basic put / dispatch / get, statuses of wire doc §7.3, validation errors.

mod common;

use common::*;
use ferrumq_store::{GetMessageStatus, MessageStore, StoreError};

#[test]
fn put_then_get_in_order_with_statuses() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&small_config(dir.path()));
    for i in 0..10 {
        let (_, qo) = put(&store, msg("TopicA", 1, format!("body-{i}")));
        assert_eq!(qo, i);
    }
    store.debug_wait_dispatched();
    assert_eq!(store.max_offset_in_queue("TopicA", 1), 10);
    assert_eq!(store.min_offset_in_queue("TopicA", 1), 0);
    let bodies = read_all_bodies(&store, "TopicA", 1);
    assert_eq!(bodies.len(), 10);
    assert_eq!(bodies[3], b"body-3");

    let g = store.get_message("TopicA", 1, 10, 32, usize::MAX, &|_| true);
    assert_eq!(
        (g.status, g.next_begin_offset),
        (GetMessageStatus::OffsetOverflowOne, 10)
    );
    let g = store.get_message("TopicA", 1, 12, 32, usize::MAX, &|_| true);
    assert_eq!(
        (g.status, g.next_begin_offset),
        (GetMessageStatus::OffsetOverflowBadly, 10)
    );
    let g = store.get_message("Nope", 1, 0, 32, usize::MAX, &|_| true);
    assert_eq!(g.status, GetMessageStatus::NoMatchedLogicQueue);
    let g = store.get_message("TopicA", 1, 2, 3, usize::MAX, &|_| true);
    assert_eq!(
        (g.status, g.messages.len(), g.next_begin_offset),
        (GetMessageStatus::Found, 3, 5)
    );
    // byte limit: the first message is always taken, the second would exceed
    let g = store.get_message("TopicA", 1, 0, 32, 1, &|_| true);
    assert_eq!((g.messages.len(), g.next_begin_offset), (1, 1));
    let g = store.get_message("TopicA", 1, 0, 32, usize::MAX, &|_| false);
    assert_eq!(
        (g.status, g.next_begin_offset),
        (GetMessageStatus::NoMatchedMessage, 10)
    );
    store.shutdown();
}

#[test]
fn bad_input_is_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&small_config(dir.path()));
    assert!(matches!(
        store.put_message(msg("bad topic", 0, "x")),
        Err(StoreError::IllegalTopic(_))
    ));
    assert!(matches!(
        store.put_message(msg("", 0, "x")),
        Err(StoreError::IllegalTopic(_))
    ));
    assert!(matches!(
        store.put_message(msg(&"a".repeat(128), 0, "x")),
        Err(StoreError::IllegalTopic(_))
    ));
    assert!(matches!(
        store.put_message(msg("T", -1, "x")),
        Err(StoreError::IllegalQueueId(-1))
    ));
    assert!(matches!(
        store.put_message(msg("T", 70_000, "x")),
        Err(StoreError::IllegalQueueId(_))
    ));
    let mut m = msg("T", 0, "x");
    m.properties = format!("k\u{1}{}", "v".repeat(40_000));
    assert!(matches!(
        store.put_message(m),
        Err(StoreError::PropertiesSizeExceeded(_))
    ));
    // bigger than a 4 KiB CommitLog file
    assert!(matches!(
        store.put_message(msg("T", 0, vec![0u8; 5000])),
        Err(StoreError::MessageIllegal(_))
    ));
    let cfg = ferrumq_store::StoreConfig {
        max_message_size: 10,
        ..small_config(dir.path())
    };
    drop(store);
    let store = MessageStore::open(cfg).unwrap();
    assert!(matches!(
        store.put_message(msg("T", 0, vec![0u8; 11])),
        Err(StoreError::MessageIllegal(_))
    ));
}

#[test]
fn second_open_of_same_dir_is_locked() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&small_config(dir.path()));
    assert!(matches!(
        MessageStore::open(small_config(dir.path())),
        Err(StoreError::Locked(_))
    ));
    store.shutdown();
    drop(store);
    let _again = open(&small_config(dir.path()));
}
