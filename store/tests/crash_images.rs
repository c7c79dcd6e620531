//! Power-loss crash consistency (DESIGN.md §8). A random workload runs against a store whose
//! durability operations are recorded (`crash::Recorder`); then the store folder is rebuilt as
//! it would be after a power cut at every sync point and at torn points in between, and each
//! image is opened and checked:
//! - the store opens;
//! - every message acknowledged before the cut (SYNC_FLUSH), and every record below the
//!   flushed offset the store reported before the cut (both modes), is there, intact, at its
//!   queue offset and physical offset, and findable by key;
//! - every queue reads contiguously from 0 to its max, and each record in it is the one that
//!   was sent to that queue offset (no hole, no ghost, no mix-up);
//! - a new message can be appended at the next queue offset and read back;
//! - for some torn images, a second power cut at every sync point of the recovery and of a
//!   few appends after it loses neither the first image's durable records nor the new
//!   acknowledged ones.
//!
//! `FERRUMQ_CRASH_SEEDS=N` runs N seeds per mode instead of the fast slice (the long run);
//! `FERRUMQ_CRASH_KEEP=<dir>` copies a failing image to `<dir>/first` (or `<dir>/second` for a
//! second power cut) and prints the events that built it.

mod common;
mod crash;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use crash::{Event, Recorder, Replay, Rng, Tear};
use ferrumq_store::disk::Disk;
use ferrumq_store::message::decode_record;
use ferrumq_store::{
    BatchEntry, BatchToStore, FlushDiskType, GetMessageStatus, MessageStore, PutStatus, StoreConfig,
};

const TOPICS: [&str; 3] = ["TopicA", "TopicB", "TopicC"];

/// Small files so the workload rolls CommitLog, ConsumeQueue and index files often; odd
/// seeds use ConsumeQueue files of 60 entries, whose entries straddle sector boundaries.
fn config(root: &Path, mode: FlushDiskType, seed: u64) -> StoreConfig {
    StoreConfig {
        flush_disk_type: mode,
        mapped_file_size_commit_log: 16 * 1024,
        mapped_file_size_consume_queue_entries: if seed.is_multiple_of(2) { 24 } else { 60 },
        max_hash_slot_num: 16,
        max_index_num: 40,
        flush_interval_commit_log_ms: 3,
        flush_interval_consume_queue_ms: 4,
        clean_resource_interval_ms: 3_600_000,
        ..StoreConfig::with_root(root)
    }
}

/// What the workload sent to one queue offset.
#[derive(Clone)]
struct Sent {
    body: Bytes,
    key: String,
    physical_offset: i64,
    end_offset: i64,
}

type QueueKey = (String, i32, i64);

struct Workload {
    sent: HashMap<QueueKey, Sent>,
    /// (recorder position after the ack was seen, message)
    acked: Vec<(usize, QueueKey)>,
    /// (recorder position, flushed offset the store reported before it)
    flushed: Vec<(usize, i64)>,
    events: Vec<Event>,
}

fn properties(key: &str) -> String {
    format!("KEYS\u{1}{key}\u{2}UNIQ_KEY\u{1}U{key}\u{2}")
}

fn run_workload(root: &Path, mode: FlushDiskType, seed: u64, ops: usize) -> Workload {
    let rec = Arc::new(Recorder::new(root));
    let store =
        MessageStore::open_on(config(root, mode, seed), Disk::observed(rec.clone())).unwrap();
    let mut rng = Rng::new(seed);
    let mut w = Workload {
        sent: HashMap::new(),
        acked: Vec::new(),
        flushed: Vec::new(),
        events: Vec::new(),
    };
    let mut n = 0u64;
    for _ in 0..ops {
        // Half the sends go to one queue, so its ConsumeQueue rolls files.
        let (topic, queue) = if rng.chance(50) {
            (TOPICS[0], 0)
        } else {
            (
                TOPICS[rng.below(TOPICS.len() as u64) as usize],
                rng.below(3) as i32,
            )
        };
        let count = if rng.chance(20) {
            2 + rng.below(3) as usize
        } else {
            1
        };
        let mut entries = Vec::new();
        for _ in 0..count {
            n += 1;
            let len = match rng.below(10) {
                0 => 2_000 + rng.below(3_000) as usize,
                1..=3 => rng.below(20) as usize,
                _ => 50 + rng.below(700) as usize,
            };
            let byte = (n % 251) as u8;
            entries.push((Bytes::from(vec![byte; len]), format!("s{seed}-m{n}")));
        }
        let mut common = common::msg(topic, queue, Bytes::new());
        let (result, waiter) = if count == 1 {
            let (body, key) = entries[0].clone();
            common.body = body;
            common.properties = properties(&key);
            store.put_message(common).unwrap()
        } else {
            let batch = BatchToStore {
                common,
                entries: entries
                    .iter()
                    .map(|(body, key)| BatchEntry {
                        flag: 0,
                        body: body.clone(),
                        properties: properties(key),
                    })
                    .collect(),
            };
            store.put_messages(batch).unwrap()
        };
        // Record offsets of every record appended, acknowledged or not.
        let mut phys = result.physical_offset;
        for (i, (body, key)) in entries.iter().enumerate() {
            let bytes = store.lookup_message_by_offset(phys).unwrap();
            let end = phys + bytes.len() as i64;
            let qk = (topic.to_string(), queue, result.queue_offset + i as i64);
            w.sent.insert(
                qk,
                Sent {
                    body: body.clone(),
                    key: key.clone(),
                    physical_offset: phys,
                    end_offset: end,
                },
            );
            phys = end;
        }
        if waiter.wait_blocking() == PutStatus::PutOk && mode == FlushDiskType::SyncFlush {
            let pos = rec.position();
            for i in 0..count {
                w.acked.push((
                    pos,
                    (topic.to_string(), queue, result.queue_offset + i as i64),
                ));
            }
        }
        // The flushed offset first, then the position: the msync behind it is recorded.
        let flushed = store.commit_log_flushed_offset();
        w.flushed.push((rec.position(), flushed));
        if rng.chance(25) {
            rec.snapshot();
        }
        if rng.chance(10) {
            std::thread::sleep(std::time::Duration::from_millis(rng.below(6)));
        }
    }
    // Power cut: no shutdown, the store is dropped as it is.
    drop(store);
    w.events = rec.events();
    w
}

/// Which records an image after `at` events must hold: acknowledged before it (SYNC_FLUSH)
/// or below a flushed offset the store reported before it.
fn required_at(
    acked: &[(usize, QueueKey)],
    flushed: &[(usize, i64)],
    sent: &HashMap<QueueKey, Sent>,
    at: usize,
) -> Vec<QueueKey> {
    let flushed = flushed
        .iter()
        .filter(|(p, _)| *p <= at)
        .map(|(_, f)| *f)
        .max()
        .unwrap_or(0);
    let mut required: Vec<QueueKey> = acked
        .iter()
        .filter(|(p, _)| *p <= at)
        .map(|(_, k)| k.clone())
        .collect();
    required.extend(
        sent.iter()
            .filter(|(_, s)| s.end_offset <= flushed)
            .map(|(k, _)| k.clone()),
    );
    required
}

/// Opens an image (through `disk`) and checks it; returns the open store.
fn open_and_check(
    dir: &Path,
    mode: FlushDiskType,
    seed: u64,
    disk: Disk,
    sent: &HashMap<QueueKey, Sent>,
    required: &[QueueKey],
) -> Result<Arc<MessageStore>, String> {
    let store =
        MessageStore::open_on(config(dir, mode, seed), disk).map_err(|e| format!("open: {e}"))?;
    // Every queue, read from 0: contiguous, each record the one sent there.
    let mut present: BTreeMap<QueueKey, i64> = BTreeMap::new();
    let mut queues: Vec<(String, i32)> = sent.keys().map(|(t, q, _)| (t.clone(), *q)).collect();
    queues.sort();
    queues.dedup();
    for (topic, queue) in &queues {
        let max = store.max_offset_in_queue(topic, *queue);
        let min = store.min_offset_in_queue(topic, *queue);
        if min != 0 {
            return Err(format!("{topic}-{queue}: min offset {min}, expected 0"));
        }
        let mut offset = 0;
        while offset < max {
            let r = store.get_message(topic, *queue, offset, 8, usize::MAX, &|_| true);
            if r.status != GetMessageStatus::Found || r.messages.is_empty() {
                return Err(format!(
                    "{topic}-{queue}: offset {offset} of {max} unreadable: {:?}",
                    r.status
                ));
            }
            for m in &r.messages {
                let rec = decode_record(m).map_err(|e| format!("{topic}-{queue}@{offset}: {e}"))?;
                let key = (topic.clone(), *queue, offset);
                let sent = sent
                    .get(&key)
                    .ok_or_else(|| format!("{key:?}: a record nobody sent"))?;
                if rec.topic != topic
                    || rec.queue_id != *queue
                    || rec.queue_offset != offset
                    || rec.body != &sent.body[..]
                    || rec.physical_offset != sent.physical_offset
                {
                    return Err(format!(
                        "{key:?}: wrong record (topic {} queue {} qo {} phys {} vs {}, body {} vs {} bytes)",
                        rec.topic,
                        rec.queue_id,
                        rec.queue_offset,
                        rec.physical_offset,
                        sent.physical_offset,
                        rec.body.len(),
                        sent.body.len()
                    ));
                }
                present.insert(key, rec.physical_offset);
                offset += 1;
            }
            if r.next_begin_offset != offset {
                return Err(format!(
                    "{topic}-{queue}: next offset {} after reading to {offset}",
                    r.next_begin_offset
                ));
            }
        }
    }
    for key in required {
        if !present.contains_key(key) {
            return Err(format!("{key:?}: durable (acked or flushed) but lost"));
        }
        let sent = &sent[key];
        let found = store.query_message(&key.0, &sent.key, 4, 0, i64::MAX);
        let hit = found
            .messages
            .iter()
            .filter_map(|m| decode_record(m).ok())
            .any(|r| r.physical_offset == sent.physical_offset);
        if !hit {
            return Err(format!("{key:?}: not found by key {}", sent.key));
        }
    }
    Ok(store)
}

/// Appends `n` messages to TopicA-0 after recovery: they must take the next queue offsets.
/// Adds them to `sent`; returns (acked, flushed) positions as `run_workload` does.
#[allow(clippy::type_complexity)]
fn append_after_recovery(
    store: &MessageStore,
    mode: FlushDiskType,
    rec: Option<&Recorder>,
    n: usize,
    sent: &mut HashMap<QueueKey, Sent>,
) -> Result<(Vec<(usize, QueueKey)>, Vec<(usize, i64)>), String> {
    let (mut acked, mut flushed) = (Vec::new(), Vec::new());
    for i in 0..n {
        store.debug_wait_dispatched();
        let max = store.max_offset_in_queue("TopicA", 0);
        let key = format!("after-crash-{i}");
        let body = Bytes::from(key.clone().into_bytes());
        let mut m = common::msg("TopicA", 0, body.clone());
        m.properties = properties(&key);
        let (r, waiter) = store
            .put_message(m)
            .map_err(|e| format!("append after recovery: {e}"))?;
        if r.queue_offset != max {
            return Err(format!(
                "append after recovery got queue offset {}, max was {max}",
                r.queue_offset
            ));
        }
        let qk = ("TopicA".to_string(), 0, r.queue_offset);
        sent.insert(
            qk.clone(),
            Sent {
                body,
                key,
                physical_offset: r.physical_offset,
                end_offset: r.physical_offset + r.wrote_bytes as i64,
            },
        );
        if waiter.wait_blocking() != PutStatus::PutOk {
            return Err("append after recovery not acknowledged".into());
        }
        if let Some(rec) = rec {
            if mode == FlushDiskType::SyncFlush {
                acked.push((rec.position(), qk));
            }
            let f = store.commit_log_flushed_offset();
            flushed.push((rec.position(), f));
        }
    }
    store.debug_wait_dispatched();
    let max = store.max_offset_in_queue("TopicA", 0);
    let back = store.get_message("TopicA", 0, max - 1, 1, usize::MAX, &|_| true);
    if back.messages.len() != 1 {
        return Err(format!("appended message not readable: {:?}", back.status));
    }
    Ok((acked, flushed))
}

/// A second power cut, during and after the recovery of a first-crash image: the recovery
/// and a few appends after it are recorded, and every image of that is checked with what
/// the first image had to hold plus what was acknowledged since (R2's fsynced cut: stale
/// records past it must not come back behind the new ones). Returns images checked.
fn check_second_crash(
    image: &Path,
    mode: FlushDiskType,
    seed: u64,
    sent: &HashMap<QueueKey, Sent>,
    required: &[QueueKey],
) -> Result<usize, String> {
    let live = tempfile::tempdir().unwrap();
    let status = std::process::Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", image.display()))
        .arg(live.path())
        .status()
        .map_err(|e| e.to_string())?;
    assert!(status.success());
    let rec = Arc::new(Recorder::from_existing(live.path()));
    let baseline = rec.position();
    let mut sent2 = sent.clone();
    let store = open_and_check(
        live.path(),
        mode,
        seed,
        Disk::observed(rec.clone()),
        sent,
        required,
    )?;
    // Keys of records the recovery cut are reused by the appends.
    let (acked, flushed) = append_after_recovery(&store, mode, Some(&rec), 3, &mut sent2)?;
    drop(store);
    let new_keys: HashMap<QueueKey, Sent> = sent2
        .iter()
        .filter(|(_, s)| s.key.starts_with("after-crash-"))
        .map(|(k, s)| (k.clone(), s.clone()))
        .collect();
    let scratch = tempfile::tempdir().unwrap();
    let mut replay = Replay::default();
    let mut checked = 0;
    for (i, ev) in rec.events().iter().enumerate() {
        replay.apply(ev);
        if i < baseline || !ev.is_sync() {
            continue;
        }
        let dir = scratch.path().join(format!("second{i}"));
        std::fs::create_dir_all(&dir).unwrap();
        replay.materialise(&dir, Tear::None).unwrap();
        let mut req = required.to_vec();
        req.extend(required_at(&acked, &flushed, &new_keys, i + 1));
        let store = match open_and_check(&dir, mode, seed, Disk::default(), &sent2, &req) {
            Ok(s) => s,
            Err(e) => {
                keep_failing_image(&dir, "second", &rec.events()[..=i]);
                return Err(format!("second crash after {} of its events: {e}", i + 1));
            }
        };
        store.shutdown();
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
        checked += 1;
    }
    Ok(checked)
}

/// Checks one image: opens, checks, appends, and for some images a second power cut.
/// Returns the images checked, or what is wrong.
fn check_image(
    dir: &Path,
    mode: FlushDiskType,
    seed: u64,
    w: &Workload,
    at: usize,
    second_crash: bool,
) -> Result<usize, String> {
    let required = required_at(&w.acked, &w.flushed, &w.sent, at);
    let mut checked = 1;
    if second_crash {
        checked += check_second_crash(dir, mode, seed, &w.sent, &required)?;
    }
    let store = open_and_check(dir, mode, seed, Disk::default(), &w.sent, &required)?;
    let mut sent = w.sent.clone();
    append_after_recovery(&store, mode, None, 1, &mut sent)?;
    store.shutdown();
    Ok(checked)
}

/// Builds and checks the images of one workload; returns how many were checked.
fn check_workload(mode: FlushDiskType, seed: u64, ops: usize) -> usize {
    let live = tempfile::tempdir().unwrap();
    let w = run_workload(live.path(), mode, seed, ops);
    let mut rng = Rng::new(seed ^ 0x5eed);
    let mut replay = Replay::default();
    let mut checked = 0;
    let scratch = tempfile::tempdir().unwrap();
    let mut check = |replay: &Replay, at: usize, tear: Tear<'_>, what: &str, second: bool| {
        let dir = scratch.path().join(format!("img{checked}"));
        std::fs::create_dir_all(&dir).unwrap();
        let torn = replay.materialise(&dir, tear).unwrap();
        match check_image(&dir, mode, seed, &w, at, second) {
            Ok(n) => checked += n,
            Err(e) => {
                keep_failing_image(&dir, "first", &w.events[..(at + 1).min(w.events.len())]);
                panic!(
                    "{mode:?} seed {seed}: image after {at} of {} events ({what}, {torn} torn pages): {e}",
                    w.events.len()
                );
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    };
    for (i, ev) in w.events.iter().enumerate() {
        match ev {
            Event::Snapshot { .. } => {
                let second = rng.chance(15);
                check(
                    &replay,
                    i,
                    Tear::Pages(ev, &mut rng),
                    "written pages at a random instant",
                    second,
                );
            }
            Event::Synced { .. } if rng.chance(30) => {
                let mut tear_rng = Rng::new(rng.next());
                check(
                    &replay,
                    i,
                    Tear::Pages(ev, &mut tear_rng),
                    "sync cut short",
                    false,
                );
            }
            _ => {}
        }
        replay.apply(ev);
        check(&replay, i + 1, Tear::None, "after a sync", false);
    }
    checked
}

/// Debugging aid: with `FERRUMQ_CRASH_KEEP=<dir>`, copies a failing image to `<dir>/<label>`
/// and lists the events that built it.
fn keep_failing_image(image: &Path, label: &str, events: &[Event]) {
    let Some(keep) = std::env::var_os("FERRUMQ_CRASH_KEEP") else {
        return;
    };
    let keep = std::path::PathBuf::from(keep).join(label);
    let _ = std::fs::remove_dir_all(&keep);
    std::fs::create_dir_all(&keep).unwrap();
    let _ = std::process::Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", image.display()))
        .arg(&keep)
        .status();
    for (i, e) in events.iter().enumerate() {
        eprintln!("{label} ev {i}: {}", crash::describe(e));
    }
}

fn seeds() -> u64 {
    std::env::var("FERRUMQ_CRASH_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2)
}

#[test]
fn sync_flush_power_loss_images() {
    let mut images = 0;
    for seed in 0..seeds() {
        images += check_workload(FlushDiskType::SyncFlush, seed, 100);
    }
    eprintln!("SYNC_FLUSH: {images} crash images checked, nothing lost");
}

#[test]
fn async_flush_power_loss_images() {
    let mut images = 0;
    for seed in 0..seeds() {
        images += check_workload(FlushDiskType::AsyncFlush, 1_000 + seed, 100);
    }
    eprintln!("ASYNC_FLUSH: {images} crash images checked, nothing lost");
}
