//! Damage below the checkpoint (DESIGN.md R3): the store refuses to open, naming the file and
//! offset and deleting nothing, unless `recoverCorruptPolicy=truncate`; records whose body CRC
//! matches but whose header is damaged (illegal topic) count as damage too.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use ferrumq_store::{MessageStore, RecoverCorruptPolicy, StoreConfig, StoreError};

const N: usize = 100;

fn body(i: usize) -> Vec<u8> {
    format!("record-{i:04}-").repeat(8 + i % 7).into_bytes()
}

/// Writes N records over several 4 KiB files and shuts down cleanly (checkpoint = end).
fn write_records(cfg: &StoreConfig) -> Vec<(u64, usize)> {
    let store = open(cfg);
    let out = (0..N)
        .map(|i| {
            let (r, _) = store.put_message(msg("Rec", 0, body(i))).unwrap();
            (r.physical_offset as u64, r.wrote_bytes)
        })
        .collect();
    store.shutdown();
    out
}

fn file_for(cfg: &StoreConfig, offset: u64) -> (PathBuf, u64) {
    let size = cfg.mapped_file_size_commit_log;
    let start = offset - offset % size;
    (
        cfg.commit_log_dir().join(format!("{start:020}")),
        offset - start,
    )
}

/// A record in the middle of the second-to-last file: start-up walks the last files (all of
/// them after a crash from the checkpoint's file), and this one is below the checkpoint.
fn in_walked_file(cfg: &StoreConfig, records: &[(u64, usize)]) -> usize {
    let last_start = records.last().unwrap().0 / cfg.mapped_file_size_commit_log
        * cfg.mapped_file_size_commit_log;
    let prev_start = last_start - cfg.mapped_file_size_commit_log;
    records.iter().position(|(p, _)| *p >= prev_start).unwrap() + 2
}

fn patch(path: &Path, at: u64, f: impl FnOnce(&mut [u8])) {
    let mut data = std::fs::read(path).unwrap();
    f(&mut data[at as usize..]);
    std::fs::write(path, data).unwrap();
}

fn commit_log_files(cfg: &StoreConfig) -> Vec<(String, u64)> {
    let mut v: Vec<_> = std::fs::read_dir(cfg.commit_log_dir())
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                e.metadata().unwrap().len(),
            )
        })
        .collect();
    v.sort();
    v
}

fn expect_corrupt(cfg: &StoreConfig, offset: u64, file: &Path, reason: &str) {
    let before = commit_log_files(cfg);
    let e = match MessageStore::open(cfg.clone()) {
        Err(e) => e,
        Ok(_) => panic!("a store damaged below its checkpoint opened"),
    };
    let StoreError::Corrupt {
        offset: o,
        ref path,
        ..
    } = e
    else {
        panic!("expected Corrupt, got {e}");
    };
    assert_eq!(o, offset, "{e}");
    assert_eq!(path, file, "{e}");
    let text = e.to_string();
    assert!(text.contains(reason), "{text}");
    assert!(text.contains("recoverCorruptPolicy=truncate"), "{text}");
    assert_eq!(commit_log_files(cfg), before, "refusing deletes nothing");
}

#[test]
fn flipped_byte_below_the_checkpoint_refuses_then_truncate_policy_cuts() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = small_config(dir.path());
    let records = write_records(&cfg);
    let k = in_walked_file(&cfg, &records);
    let (phys, len) = records[k];
    let (file, at) = file_for(&cfg, phys);
    patch(&file, at + len as u64 - 30, |b| b[0] ^= 0xff); // inside the body
    expect_corrupt(&cfg, phys, &file, "crc");

    let cfg = StoreConfig {
        recover_corrupt_policy: RecoverCorruptPolicy::Truncate,
        ..cfg
    };
    let store = open(&cfg);
    let bodies = read_all_bodies(&store, "Rec", 0);
    assert_eq!(
        bodies.len(),
        k,
        "truncate keeps the records before the damage"
    );
    assert_eq!(store.commit_log_max_offset(), phys as i64);
    store.shutdown();
}

#[test]
fn record_with_a_valid_crc_but_an_illegal_topic_is_damage() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = small_config(dir.path());
    let records = write_records(&cfg);
    let (phys, len) = records[in_walked_file(&cfg, &records) + 1];
    let (file, at) = file_for(&cfg, phys);
    // The topic follows the body as a length byte and the name; the body CRC does not
    // cover it.
    patch(&file, at, |b| {
        let rec = &mut b[..len];
        let pos = rec.windows(4).rposition(|w| w == b"\x03Rec").unwrap();
        rec[pos + 2] = b'?';
    });
    expect_corrupt(&cfg, phys, &file, "illegal topic");
}

#[test]
fn missing_file_in_the_middle_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = small_config(dir.path());
    write_records(&cfg);
    let files = commit_log_files(&cfg);
    assert!(files.len() >= 4, "records span several files");
    let gone = cfg.commit_log_dir().join(&files[files.len() - 2].0);
    std::fs::remove_file(&gone).unwrap();
    let offset: u64 = files[files.len() - 2].0.parse().unwrap();
    // The walk reaches the file after the gap, expecting one at `offset`.
    let after = cfg.commit_log_dir().join(&files[files.len() - 1].0);
    expect_corrupt(&cfg, offset, &after, "gap");
}

#[test]
fn missing_last_files_refuse() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = small_config(dir.path());
    let records = write_records(&cfg);
    // The file holding the last record, and any after it (the pre-created next file is
    // empty: losing it alone loses nothing, and the store rightly opens).
    let (holding, _) = file_for(&cfg, records.last().unwrap().0);
    let offset: u64 = holding
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    for (name, _) in commit_log_files(&cfg) {
        if name.parse::<u64>().unwrap() >= offset {
            std::fs::remove_file(cfg.commit_log_dir().join(name)).unwrap();
        }
    }
    expect_corrupt(&cfg, offset, &holding, "missing");
}
