//! Retention (DESIGN.md D1-D3) with an injected clock and disk probe: expired CommitLog files
//! go at the deleteWhen hour or at once when the disk is filling, never the last file;
//! unexpired files only with diskFullPolicy=deleteOldest (a full disk refuses appends
//! instead); ConsumeQueue and index files wholly below the new minimum follow; readers keep
//! deleted mappings alive.

mod common;

use std::path::Path;
use std::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

use common::*;
use ferrumq_store::message::decode_record;
use ferrumq_store::{GetMessageStatus, RetentionProbe};

struct FakeProbe {
    now_ms: AtomicI64,
    hour: AtomicU32,
    used_permille: AtomicU64,
}

impl RetentionProbe for FakeProbe {
    fn now_ms(&self) -> i64 {
        self.now_ms.load(Ordering::SeqCst)
    }
    fn local_hour(&self) -> u32 {
        self.hour.load(Ordering::SeqCst)
    }
    fn disk_used_ratio(&self, _: &Path) -> f64 {
        self.used_permille.load(Ordering::SeqCst) as f64 / 1000.0
    }
}

/// CommitLog files on disk holding data (the next file may already be pre-created, empty).
fn commit_log_files(dir: &Path, store: &ferrumq_store::MessageStore) -> usize {
    let max = store.commit_log_max_offset() as u64;
    std::fs::read_dir(dir.join("commitlog"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_str()
                .unwrap()
                .parse::<u64>()
                .unwrap()
                < max
        })
        .count()
}

fn fill(store: &ferrumq_store::MessageStore, n: usize) {
    for i in 0..n {
        let mut m = msg("Ret", 0, vec![(i % 256) as u8; 900]);
        m.properties = format!("KEYS\u{1}key{i}");
        put(store, m);
    }
    store.debug_wait_dispatched();
}

#[test]
fn deletes_old_files_only_at_delete_hour_and_never_the_last() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = small_config(dir.path());
    cfg.file_reserved_time_hours = 1;
    cfg.delete_when = "04".into();
    let store = open(&cfg);
    let probe = Arc::new(FakeProbe {
        now_ms: AtomicI64::new(0),
        hour: AtomicU32::new(3),
        used_permille: AtomicU64::new(100),
    });
    store.set_retention_probe(probe.clone());
    fill(&store, 40); // ~10 files of 4 KiB
    let files_before = commit_log_files(dir.path(), &store);
    assert!(files_before >= 8);
    let real_now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;

    // files are fresh: nothing is old enough even at the delete hour
    probe.now_ms.store(real_now, Ordering::SeqCst);
    probe.hour.store(4, Ordering::SeqCst);
    assert_eq!(store.run_retention().commit_log_files, 0);

    // old enough, wrong hour: nothing
    probe
        .now_ms
        .store(real_now + 2 * 3_600_000, Ordering::SeqCst);
    probe.hour.store(5, Ordering::SeqCst);
    assert_eq!(store.run_retention().commit_log_files, 0);

    // a reader holds a record from the first file across its deletion
    let held = store
        .get_message("Ret", 0, 0, 1, usize::MAX, &|_| true)
        .messages
        .remove(0);

    // old enough at the delete hour: everything but the last file
    probe.hour.store(4, Ordering::SeqCst);
    let report = store.run_retention();
    assert_eq!(report.commit_log_files, files_before - 1);
    assert_eq!(commit_log_files(dir.path(), &store), 1);
    assert!(
        report.consume_queue_files >= 1,
        "consume queue files below the minimum go too"
    );
    assert!(store.commit_log_min_offset() > 0);

    // the held slice still reads the deleted file's bytes
    let rec = decode_record(&held).unwrap();
    assert_eq!((rec.queue_offset, rec.body.len(), rec.body[0]), (0, 900, 0));

    // reading below the new minimum: too small (CQ file gone) or removing (CQ entry left)
    let g = store.get_message("Ret", 0, 0, 32, usize::MAX, &|_| true);
    assert!(
        matches!(
            g.status,
            GetMessageStatus::OffsetTooSmall | GetMessageStatus::MessageWasRemoving
        ),
        "{:?}",
        g.status
    );
    let min = store.min_offset_in_queue("Ret", 0);
    assert!(min > 0);
    let g = store.get_message("Ret", 0, min, 32, usize::MAX, &|_| true);
    assert_eq!(g.status, GetMessageStatus::Found);
    assert!(store.lookup_message_by_offset(0).is_none());
    // appends continue
    let (_, qo) = put(&store, msg("Ret", 0, "new"));
    assert_eq!(qo, 40);
    store.shutdown();
    drop(store);
    // the deletion survives a restart
    let store = open(&cfg);
    assert!(store.commit_log_min_offset() > 0);
    assert_eq!(store.max_offset_in_queue("Ret", 0), 41);
}

fn probe(used_permille: u64) -> Arc<FakeProbe> {
    Arc::new(FakeProbe {
        now_ms: AtomicI64::new(now_ms()),
        hour: AtomicU32::new(12), // not the delete hour
        used_permille: AtomicU64::new(used_permille),
    })
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Regression (issue 9): a disk over diskMaxUsedSpaceRatio made retention delete unexpired
/// files, i.e. acknowledged messages no consumer had read. By default (diskFullPolicy=reject)
/// a filling disk never costs an unexpired file: above diskSpaceWarningLevelRatio appends are
/// refused with a "disk full" error, nothing stored is touched, reads go on, and appends
/// resume by themselves once usage is back under the ratio.
#[test]
fn full_disk_refuses_appends_and_keeps_unexpired_files() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&small_config(dir.path()));
    let probe = probe(100);
    store.set_retention_probe(probe.clone());
    fill(&store, 40);
    let before = commit_log_files(dir.path(), &store);
    probe.used_permille.store(990, Ordering::SeqCst); // 99%: over every ratio
    let report = store.run_retention();
    assert_eq!(report.commit_log_files, 0, "no unexpired file is deleted");
    assert_eq!(commit_log_files(dir.path(), &store), before);
    let err = store.put_message(msg("Ret", 0, "more")).unwrap_err();
    assert!(err.to_string().contains("disk full"), "{err}");
    assert_eq!(
        err.put_status(),
        ferrumq_store::PutStatus::ServiceNotAvailable
    );
    let g = store.get_message("Ret", 0, 0, 32, usize::MAX, &|_| true);
    assert_eq!(g.status, GetMessageStatus::Found, "reads go on");
    let info: std::collections::HashMap<_, _> = store.runtime_info().into_iter().collect();
    assert_eq!(info["diskFull"], "true");
    assert_eq!(info["diskUsedPermille"], "990");

    probe.used_permille.store(500, Ordering::SeqCst);
    store.run_retention();
    let (_, qo) = put(&store, msg("Ret", 0, "again"));
    assert_eq!(qo, 40, "appends resume without a restart");
}

/// Over diskMaxUsedSpaceRatio (75%) but under the warning ratio: expired files go at once,
/// without waiting for deleteWhen; unexpired ones stay; appends are accepted.
#[test]
fn filling_disk_deletes_expired_files_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = small_config(dir.path());
    cfg.file_reserved_time_hours = 1;
    let store = open(&cfg);
    let probe = probe(800);
    store.set_retention_probe(probe.clone());
    fill(&store, 40);
    assert_eq!(
        store.run_retention().commit_log_files,
        0,
        "nothing expired yet"
    );
    probe
        .now_ms
        .store(now_ms() + 2 * 3_600_000, Ordering::SeqCst);
    assert!(
        store.run_retention().commit_log_files >= 1,
        "expired files go at 80%, hour 12"
    );
    assert_eq!(
        commit_log_files(dir.path(), &store),
        1,
        "never the last file"
    );
    put(&store, msg("Ret", 0, "accepted"));
}

/// RocketMQ's behaviour, opted into with diskFullPolicy=deleteOldest: above
/// diskSpaceCleanForciblyRatio unexpired files go oldest first, a bounded number per run,
/// never the last one.
#[test]
fn delete_oldest_policy_deletes_unexpired_files() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = small_config(dir.path());
    cfg.disk_full_policy = ferrumq_store::DiskFullPolicy::DeleteOldest;
    let store = open(&cfg);
    let probe = probe(100);
    store.set_retention_probe(probe.clone());
    fill(&store, 40);
    let before = commit_log_files(dir.path(), &store);
    assert_eq!(store.run_retention().commit_log_files, 0);
    probe.used_permille.store(870, Ordering::SeqCst); // over 85%, under 90%
    let deleted = store.run_retention().commit_log_files;
    assert!(
        (1..=10).contains(&deleted),
        "bounded per run, got {deleted}"
    );
    assert_eq!(commit_log_files(dir.path(), &store), before - deleted);
    while store.run_retention().commit_log_files > 0 {}
    assert_eq!(
        commit_log_files(dir.path(), &store),
        1,
        "never the last file"
    );
    let info: std::collections::HashMap<_, _> = store.runtime_info().into_iter().collect();
    assert_eq!(
        info["retentionDeletedUnexpiredFiles"],
        (before - 1).to_string()
    );
}
