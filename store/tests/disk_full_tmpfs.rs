//! A real full disk (issue 9, DESIGN.md A1): a small tmpfs mounted by the test fills up under
//! appends. Mapped files get their blocks before they are written, so the full disk is a
//! "disk full" error on the append that needs a new file (never SIGBUS, which would kill this
//! test process); everything acknowledged stays readable, and once space is freed appends
//! and dispatching resume by themselves. Needs root to mount; elsewhere it says so and passes.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size_bytes: usize) -> Option<Self> {
        std::fs::create_dir_all(dir).ok()?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size_bytes}"), "tmpfs"])
            .arg(dir)
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Self(dir.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn full_tmpfs_refuses_appends_keeps_acked_messages_and_recovers() {
    let base = tempfile::tempdir().unwrap();
    let mnt = base.path().join("disk");
    let Some(_fs) = Tmpfs::mount(&mnt, 2 * 1024 * 1024) else {
        println!("skipped: cannot mount a tmpfs here (needs root)");
        return;
    };
    let root = mnt.join("store");
    let filler = mnt.join("filler");
    std::fs::write(&filler, vec![0u8; 768 * 1024]).unwrap();
    let mut cfg = small_config(&root);
    cfg.mapped_file_size_commit_log = 64 * 1024;
    cfg.mapped_file_size_consume_queue_entries = 8192; // 160 KiB files, allocated in chunks
    cfg.disk_space_warning_level_ratio = 100; // only the real ENOSPC refuses here
    let store = open(&cfg);

    let mut acked = 0usize;
    let err = loop {
        let body = format!("m{acked:06}").repeat(128); // ~1 KiB
        match store.put_message(msg("Full", 0, body)) {
            Ok(_) => acked += 1,
            Err(e) => break e,
        }
        assert!(acked < 5_000, "a 2 MiB disk never filled");
    };
    assert!(err.to_string().contains("disk full"), "{err}");
    assert_eq!(
        err.put_status(),
        ferrumq_store::PutStatus::ServiceNotAvailable
    );
    assert!(acked > 100, "only {acked} appends before the disk filled");
    assert!(store.put_message(msg("Full", 0, "still full")).is_err());

    std::fs::remove_file(&filler).unwrap();
    let (r, _) = store
        .put_message(msg("Full", 0, "after space returned"))
        .expect("appends resume once space is freed");
    assert_eq!(r.queue_offset, acked as i64);
    store.debug_wait_dispatched();
    let bodies = read_all_bodies(&store, "Full", 0);
    assert_eq!(
        bodies.len(),
        acked + 1,
        "every acknowledged message is readable"
    );
    for (i, b) in bodies.iter().take(acked).enumerate() {
        assert_eq!(b, format!("m{i:06}").repeat(128).as_bytes(), "message {i}");
    }
    store.shutdown();
    drop(store);
    let store = open(&cfg);
    assert_eq!(
        read_all_bodies(&store, "Full", 0).len(),
        acked + 1,
        "after reopening"
    );
    store.shutdown();
}

/// Fills what is left of the file system with a filler file; returns its path. A write can
/// fail while the store's warm-up thread briefly holds pages for a file it then gives back
/// (its pre-create fails on the full disk and is retried every second), so the disk counts
/// as full only after writes kept failing for a while.
fn fill_disk(dir: &Path) -> PathBuf {
    use std::io::Write;
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).unwrap();
    let page = vec![0u8; 4096];
    let mut failures = 0;
    while failures < 40 {
        if f.write_all(&page).and_then(|_| f.sync_all()).is_ok() {
            failures = 0;
        } else {
            failures += 1;
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
    path
}

/// P1: the CommitLog file has its blocks, the next ConsumeQueue chunk cannot get any. Appends
/// go on, dispatching stalls on the record that needs the chunk (shown in runtime info, never
/// skipped), and resumes by itself once space is freed: every message lands in its queue.
#[test]
fn dispatcher_stalls_on_a_failed_queue_write_and_resumes() {
    let base = tempfile::tempdir().unwrap();
    let mnt = base.path().join("disk");
    let Some(_fs) = Tmpfs::mount(&mnt, 4 * 1024 * 1024) else {
        println!("skipped: cannot mount a tmpfs here (needs root)");
        return;
    };
    let mut cfg = small_config(&mnt.join("store"));
    // One file holds the whole test; the disk has room for the next one too, which the
    // warm-up thread pre-creates (on a 2 MiB disk that could take the space the first
    // ConsumeQueue file needs, and nothing would ever be dispatched).
    cfg.mapped_file_size_commit_log = 1024 * 1024;
    cfg.mapped_file_size_consume_queue_entries = 8192; // 64 KiB chunks = 3276 entries
    cfg.disk_space_warning_level_ratio = 100;
    let store = open(&cfg);
    put(&store, msg("Stall", 0, "first"));
    store.debug_wait_dispatched();
    let filler = fill_disk(&mnt);

    let n = 4_000; // the 3,277th entry needs a second chunk
    for i in 1..n {
        let (r, _) = store
            .put_message(msg("Stall", 0, format!("{i:05}")))
            .unwrap();
        assert_eq!(r.queue_offset, i as i64);
    }
    let info = |store: &ferrumq_store::MessageStore| -> std::collections::HashMap<String, String> {
        store.runtime_info().into_iter().collect()
    };
    let mut stalled = String::new();
    for _ in 0..500 {
        stalled = info(&store)["dispatchError"].clone();
        if !stalled.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(
        stalled.contains("disk full"),
        "dispatch did not report its stall: {stalled:?}"
    );
    let visible = store.max_offset_in_queue("Stall", 0);
    assert!(
        visible < n as i64,
        "{visible} entries with no space for them"
    );

    std::fs::remove_file(filler).unwrap();
    store.debug_wait_dispatched();
    assert_eq!(
        store.max_offset_in_queue("Stall", 0),
        n as i64,
        "nothing skipped"
    );
    assert_eq!(info(&store)["dispatchError"], "");
    let bodies = read_all_bodies(&store, "Stall", 0);
    assert_eq!(bodies.len(), n);
    for (i, b) in bodies.iter().enumerate().skip(1) {
        assert_eq!(b, format!("{i:05}").as_bytes());
    }
    store.shutdown();
}

/// Retention on a real nearly-full file system (the ratio as `statvfs` reports it, no probe):
/// with the default `diskFullPolicy=reject` no unexpired CommitLog file is deleted however
/// full the disk is; sends are refused above diskSpaceWarningLevelRatio and accepted again
/// once space is freed. The same disk with `deleteOldest` does delete the oldest file (so the
/// first half proves something).
#[test]
fn nearly_full_real_disk_keeps_unexpired_files_unless_delete_oldest() {
    let base = tempfile::tempdir().unwrap();
    let mnt = base.path().join("disk");
    let Some(_fs) = Tmpfs::mount(&mnt, 4 * 1024 * 1024) else {
        println!("skipped: cannot mount a tmpfs here (needs root)");
        return;
    };
    let root = mnt.join("store");
    let mut cfg = small_config(&root);
    cfg.mapped_file_size_commit_log = 64 * 1024;
    cfg.file_reserved_time_hours = 72; // nothing is expired
    cfg.delete_when = "99".into(); // never the delete hour
    let store = open(&cfg);
    for i in 0..400 {
        put(&store, msg("Keep", 0, format!("k{i:05}").repeat(100)));
    }
    store.debug_wait_dispatched();
    // Names, not a count: warm-up may pre-create the next file at any time.
    let files = |root: &Path| -> std::collections::BTreeSet<String> {
        std::fs::read_dir(root.join("commitlog"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    };
    let filler = fill_disk(&mnt);
    let before = files(&root);
    assert!(before.len() >= 4, "{before:?}"); // ~280 KB in 64 KiB files

    let report = store.run_retention();
    assert_eq!(
        report.commit_log_files, 0,
        "reject deletes no unexpired file"
    );
    assert!(files(&root).is_superset(&before), "a file was deleted");
    let err = store
        .put_message(msg("Keep", 0, "refused"))
        .expect_err("a full disk refuses sends");
    assert!(err.to_string().contains("disk full"), "{err}");
    assert_eq!(read_all_bodies(&store, "Keep", 0).len(), 400, "reads go on");

    std::fs::remove_file(&filler).unwrap();
    store.run_retention(); // the periodic disk check, run now
    put(&store, msg("Keep", 0, "accepted again"));
    store.shutdown();
    drop(store);

    let filler = fill_disk(&mnt);
    cfg.disk_full_policy = ferrumq_store::DiskFullPolicy::DeleteOldest;
    let store = open(&cfg);
    let report = store.run_retention();
    assert!(
        report.commit_log_files > 0,
        "deleteOldest deletes unexpired files on the same disk"
    );
    assert!(!files(&root).is_superset(&before), "nothing was deleted");
    std::fs::remove_file(&filler).unwrap();
    store.shutdown();
}
