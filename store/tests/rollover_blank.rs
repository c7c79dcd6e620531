//! Roll-over at tiny file sizes (DESIGN.md C1, C2, C3): records never straddle files, each file
//! ends with a blank marker whose TOTALSIZE is the bytes left, everything reads back after reopen.

mod common;

use common::*;
use ferrumq_store::message::{decode_record, MAGIC_BLANK};

fn file_bytes(dir: &std::path::Path) -> Vec<(u64, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .map(|e| {
            (
                e.file_name().to_str().unwrap().parse::<u64>().unwrap(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

#[test]
fn records_roll_over_with_blank_markers() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = small_config(dir.path());
    let store = open(&cfg);
    let mut expected = Vec::new();
    let mut phys = Vec::new();
    for i in 0..120u32 {
        // sizes vary so the tails differ: 91 + 1 + body
        let body = vec![(i % 251) as u8; 100 + (i as usize * 37) % 700];
        let (p, qo) = put(&store, msg("Roll", 0, body.clone()));
        assert_eq!(qo, i as i64);
        expected.push(body);
        phys.push(p);
    }
    store.debug_wait_dispatched();
    assert!(read_all_bodies(&store, "Roll", 0) == expected);
    for (i, p) in phys.iter().enumerate() {
        let rec = store.lookup_message_by_offset(*p).unwrap();
        assert_eq!(decode_record(&rec).unwrap().body, &expected[i][..]);
        assert_eq!(decode_record(&rec).unwrap().physical_offset, *p);
    }
    store.shutdown();
    drop(store);

    // C1/C2: walk every file on disk by TOTALSIZE; all but the last end with a blank marker.
    let files = file_bytes(&cfg.commit_log_dir());
    assert!(files.len() > 10, "expected many files, got {}", files.len());
    let mut seen = 0;
    for (idx, (start, bytes)) in files.iter().enumerate() {
        assert_eq!(bytes.len(), 4096);
        assert_eq!(start % 4096, 0);
        let mut pos = 0usize;
        loop {
            let size = i32::from_be_bytes(bytes[pos..pos + 4].try_into().unwrap());
            let magic = u32::from_be_bytes(bytes[pos + 4..pos + 8].try_into().unwrap());
            if magic == MAGIC_BLANK {
                assert_eq!(
                    size as usize,
                    4096 - pos,
                    "C2: blank TOTALSIZE = bytes left"
                );
                break;
            }
            if size == 0 {
                // only the last data file may end without a blank; a pre-created next file
                // after it is all zeros
                assert!(files[idx + 1..]
                    .iter()
                    .all(|(_, b)| b.iter().all(|x| *x == 0)));
                break;
            }
            let rec = decode_record(&bytes[pos..]).unwrap();
            assert_eq!(rec.physical_offset as u64, start + pos as u64);
            assert!(
                pos + rec.total_size <= 4096,
                "C1: no record straddles files"
            );
            pos += rec.total_size;
            seen += 1;
        }
    }
    assert_eq!(seen, 120);

    let store = open(&cfg);
    assert!(
        read_all_bodies(&store, "Roll", 0) == expected,
        "all records back after reopen"
    );
    let (_, qo) = put(&store, msg("Roll", 0, "after reopen"));
    assert_eq!(qo, 120);
    store.shutdown();
}

#[test]
fn batch_lands_in_one_file_with_consecutive_offsets() {
    use ferrumq_store::{BatchEntry, BatchToStore};
    let dir = tempfile::tempdir().unwrap();
    let store = open(&small_config(dir.path()));
    put(&store, msg("B", 2, vec![1u8; 3000]));
    let entries: Vec<_> = (0..5)
        .map(|i| BatchEntry {
            flag: i,
            body: vec![i as u8; 200].into(),
            properties: format!("TAGS\u{1}t{i}"),
        })
        .collect();
    let (r, w) = store
        .put_messages(BatchToStore {
            common: msg("B", 2, ""),
            entries,
        })
        .unwrap();
    assert_eq!(w.wait_blocking(), ferrumq_store::PutStatus::PutOk);
    assert_eq!((r.queue_offset, r.msg_count), (1, 5));
    // the batch did not fit after the 3000-byte record, so it starts the next file
    assert_eq!(r.physical_offset, 4096);
    assert_eq!(r.msg_id_list().count(), 5);
    store.debug_wait_dispatched();
    let g = store.get_message("B", 2, 1, 32, usize::MAX, &|_| true);
    assert_eq!(g.messages.len(), 5);
    let ts: Vec<i64> = g
        .messages
        .iter()
        .map(|m| decode_record(m).unwrap().store_timestamp_ms)
        .collect();
    assert!(
        ts.iter().all(|t| *t == ts[0]),
        "one store timestamp per batch"
    );
    for (i, m) in g.messages.iter().enumerate() {
        let rec = decode_record(m).unwrap();
        assert_eq!((rec.queue_offset, rec.flag), (1 + i as i64, i as i32));
    }
}
