//! R2 across two power cuts (DESIGN.md §7): a cut made by recovery must itself be durable.
//! Recovery cuts a log whose record B is damaged (dropping C after it), a same-sized B' is
//! appended where B was, and the power goes again: C must not come back behind B' (its bytes
//! and its ConsumeQueue entry line up exactly, so an un-synced cut would resurrect it).

mod common;
mod crash;

use std::path::Path;
use std::sync::Arc;

use crash::{Recorder, Replay, Tear};
use ferrumq_store::disk::Disk;
use ferrumq_store::{FlushDiskType, MessageStore, StoreConfig};

fn config(root: &Path) -> StoreConfig {
    StoreConfig {
        flush_disk_type: FlushDiskType::SyncFlush,
        ..common::small_config(root)
    }
}

/// Replays every recorded event and writes the resulting image into a new folder.
fn image_of(rec: &Recorder) -> tempfile::TempDir {
    let mut replay = Replay::default();
    for ev in rec.events() {
        replay.apply(&ev);
    }
    let dir = tempfile::tempdir().unwrap();
    replay.materialise(dir.path(), Tear::None).unwrap();
    dir
}

#[test]
fn a_recovery_cut_stays_cut_after_a_second_power_cut() {
    let live = tempfile::tempdir().unwrap();
    let rec = Arc::new(Recorder::new(live.path()));
    let store = MessageStore::open_on(config(live.path()), Disk::observed(rec.clone())).unwrap();
    let mut phys = Vec::new();
    for b in [b'a', b'b', b'c'] {
        let (p, _) = common::put(&store, common::msg("Cut", 0, vec![b; 100]));
        phys.push(p);
    }
    drop(store); // power cut after all three were acknowledged

    // The first image, with B damaged and no checkpoint: B and C are a tail recovery cuts.
    let first = image_of(&rec);
    let _ = std::fs::remove_file(first.path().join("checkpoint"));
    let log = first.path().join("commitlog").join(format!("{:020}", 0));
    let mut bytes = std::fs::read(&log).unwrap();
    bytes[phys[1] as usize + 120] ^= 0xff; // inside B's body
    std::fs::write(&log, bytes).unwrap();

    let rec2 = Arc::new(Recorder::from_existing(first.path()));
    let store = MessageStore::open_on(config(first.path()), Disk::observed(rec2.clone())).unwrap();
    assert_eq!(
        store.max_offset_in_queue("Cut", 0),
        1,
        "recovery cut B and C"
    );
    let (p, qo) = common::put(&store, common::msg("Cut", 0, vec![b'B'; 100]));
    assert_eq!((p, qo), (phys[1], 1), "B' takes B's place exactly");
    drop(store); // the second power cut

    let second = image_of(&rec2);
    let store = common::open(&config(second.path()));
    let bodies = common::read_all_bodies(&store, "Cut", 0);
    assert_eq!(
        bodies,
        vec![vec![b'a'; 100], vec![b'B'; 100]],
        "C, cut by the first recovery, came back"
    );
    store.shutdown();
}
