//! Timer messages (features sheet §3): delivery at an arbitrary time, set by the 5.x
//! properties TIMER_DELIVER_MS, TIMER_DELAY_SEC or TIMER_DELAY_MS.
//!
//! As in RocketMQ 5, a timed send is stored first on `rmq_sys_wheel_timer` queue 0 with
//! TIMER_OUT_MS, REAL_TOPIC and REAL_QID. FerrumQ's wheel differs from RocketMQ's timerlog
//! + timerwheel files but keeps the same promises with less machinery:
//! - an enqueue step follows the timer queue and appends a 16-byte entry (due ms, CommitLog
//!   offset) to the file of the entry's minute (`timer/<minute start ms>`), fsynced before
//!   the queue position is committed: nothing read is lost;
//! - a dequeue step loads only the files of minutes that have begun into a heap ordered by
//!   (due, offset), so memory follows what is due now, not what is scheduled (1 M messages
//!   over 30 days cost their files, not RAM);
//! - each due message goes back to its real topic and queue, and a watermark (the last
//!   delivered (due, offset), `timer/checkpoint`) is written after it; files wholly below the
//!   watermark are deleted. After a crash, entries above the watermark are delivered again:
//!   at least once, never early (an entry's due time is never before TIMER_OUT_MS).
//!
//! An entry read after its minute was loaded (a short delay) gets due = max(TIMER_OUT_MS,
//! now + 1 ms), so it always sorts above the watermark.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashSet};
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use ferrumq_store::message::find_property;
use ferrumq_store::{decode_record, MessageToStore};
use parking_lot::Mutex;

use super::processor::{send, Reject};
use super::topic_config::now_ms;
use super::BrokerInner;
use crate::protocol::ResponseCode;

pub const TIMER_TOPIC: &str = "rmq_sys_wheel_timer";
/// The timer queue position is this group's offset.
const TIMER_GROUP: &str = "CID_SYS_WHEEL_TIMER";
const MINUTE_MS: i64 = 60_000;
/// Most timer-queue messages one enqueue step reads.
const ENQUEUE_BATCH: i32 = 256;

/// Decides whether a send is a timer message and rewrites it for the timer queue. `Ok(false)`:
/// not timed (or due already): store it as it is.
pub fn make_timed(
    inner: &BrokerInner,
    topic: &mut String,
    queue_id: &mut i32,
    props: &mut Vec<(String, String)>,
) -> Result<bool, Reject> {
    let is_timer_key =
        |k: &str| matches!(k, "TIMER_DELIVER_MS" | "TIMER_DELAY_SEC" | "TIMER_DELAY_MS");
    if !props.iter().any(|(k, _)| is_timer_key(k)) || props.iter().any(|(k, _)| k == "TIMER_OUT_MS")
    {
        return Ok(false);
    }
    // A delay level wins: the classic path, TIMER_* dropped (as RocketMQ 5).
    if props
        .iter()
        .any(|(k, v)| k == "DELAY" && v.trim().parse::<i32>().is_ok_and(|l| l > 0))
    {
        props.retain(|(k, _)| !is_timer_key(k));
        return Ok(false);
    }
    let cfg = &inner.config;
    if !cfg.timer_wheel_enable {
        return Err(Reject::system(
            "accurate timer message is not enabled, timerWheelEnable is false",
        ));
    }
    let illegal = |m: String| Reject::new(ResponseCode::MessageIllegal, m);
    let get = |k: &str| {
        props
            .iter()
            .rev()
            .find(|(pk, _)| pk == k)
            .map(|(_, v)| v.trim())
    };
    let now = now_ms();
    let parse = |k: &str, v: &str| {
        v.parse::<i64>()
            .map_err(|_| illegal(format!("timer message illegal: {k}={v:?} is not a number")))
    };
    let due = if let Some(v) = get("TIMER_DELAY_SEC") {
        now.saturating_add(parse("TIMER_DELAY_SEC", v)?.saturating_mul(1000))
    } else if let Some(v) = get("TIMER_DELAY_MS") {
        now.saturating_add(parse("TIMER_DELAY_MS", v)?)
    } else {
        parse("TIMER_DELIVER_MS", get("TIMER_DELIVER_MS").unwrap_or(""))?
    };
    if due <= now {
        return Ok(false);
    }
    let max_ms = cfg.timer_max_delay_sec.saturating_mul(1000) as i64;
    if due - now > max_ms {
        return Err(illegal(format!(
            "timer message illegal, the delay time should not be bigger than the max delay {max_ms}ms"
        )));
    }
    props.retain(|(k, _)| !matches!(k.as_str(), "REAL_TOPIC" | "REAL_QID"));
    props.push(("TIMER_OUT_MS".into(), due.to_string()));
    props.push(("REAL_TOPIC".into(), std::mem::take(topic)));
    props.push(("REAL_QID".into(), queue_id.to_string()));
    inner.topics.get_or_create_system(TIMER_TOPIC, 1, 6);
    *topic = TIMER_TOPIC.to_string();
    *queue_id = 0;
    Ok(true)
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
struct Entry {
    due_ms: i64,
    offset: i64,
}

struct Wheel {
    /// Entries of begun minutes not delivered yet, earliest first.
    heap: BinaryHeap<Reverse<Entry>>,
    /// Minutes whose file is in the heap.
    loaded: HashSet<i64>,
    /// Minutes that have a file (listed once at start, then kept up to date): the dequeue
    /// step looks here every few ms, not at the folder.
    files: std::collections::BTreeSet<i64>,
    /// The last delivered entry (persisted).
    watermark: Entry,
}

/// The timer's files and in-memory state.
pub struct TimerService {
    dir: PathBuf,
    wheel: Mutex<Wheel>,
}

/// Minutes that have a file in `dir`.
fn list_minutes(dir: &std::path::Path) -> std::collections::BTreeSet<i64> {
    fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

fn minute_of(ms: i64) -> i64 {
    ms.div_euclid(MINUTE_MS) * MINUTE_MS
}

impl TimerService {
    pub fn open(store_root: &std::path::Path) -> std::io::Result<Self> {
        let dir = store_root.join("timer");
        fs::create_dir_all(&dir)?;
        let watermark = fs::read_to_string(dir.join("checkpoint"))
            .ok()
            .and_then(|t| {
                let (d, o) = t.trim().split_once(' ')?;
                Some(Entry {
                    due_ms: d.parse().ok()?,
                    offset: o.parse().ok()?,
                })
            })
            .unwrap_or(Entry {
                due_ms: i64::MIN,
                offset: i64::MIN,
            });
        let files = list_minutes(&dir);
        Ok(TimerService {
            dir,
            wheel: Mutex::new(Wheel {
                heap: BinaryHeap::new(),
                loaded: HashSet::new(),
                files,
                watermark,
            }),
        })
    }

    fn file(&self, minute: i64) -> PathBuf {
        self.dir.join(minute.to_string())
    }

    fn read_file(&self, minute: i64) -> Vec<Entry> {
        let bytes = fs::read(self.file(minute)).unwrap_or_default();
        bytes
            .chunks_exact(16)
            .filter_map(|c| {
                let due = i64::from_be_bytes(c.get(..8)?.try_into().ok()?);
                let offset = i64::from_be_bytes(c.get(8..)?.try_into().ok()?);
                Some(Entry {
                    due_ms: due,
                    offset,
                })
            })
            .collect()
    }

    /// Loads every begun minute's file not loaded yet (entries above the watermark).
    fn load_begun(&self, wheel: &mut Wheel, now: i64) {
        let begun: Vec<i64> = wheel
            .files
            .range(..=minute_of(now))
            .filter(|m| !wheel.loaded.contains(m))
            .copied()
            .collect();
        for minute in begun {
            if wheel.loaded.insert(minute) {
                let watermark = wheel.watermark;
                wheel.heap.extend(
                    self.read_file(minute)
                        .into_iter()
                        .filter(|e| *e > watermark)
                        .map(Reverse),
                );
            }
        }
    }
}

/// Loads the minutes that began, reads new timer-queue messages into the minute files
/// (fsynced), then commits the position. Blocking.
pub fn enqueue(inner: &BrokerInner) -> std::io::Result<usize> {
    let timer = &inner.timer;
    let store = &inner.store;
    // Runs on a blocking thread: the files of minutes that began are read here, not in the
    // async dequeue step.
    timer.load_begun(&mut timer.wheel.lock(), now_ms());
    let start = inner
        .offsets
        .query(TIMER_GROUP, TIMER_TOPIC, 0)
        .unwrap_or(0)
        .max(store.min_offset_in_queue(TIMER_TOPIC, 0));
    if start >= store.max_offset_in_queue(TIMER_TOPIC, 0) {
        return Ok(0);
    }
    let r = store.get_message(TIMER_TOPIC, 0, start, ENQUEUE_BATCH, 1 << 24, &|_| true);
    if r.next_begin_offset <= start {
        return Ok(0);
    }
    let now = now_ms();
    let mut by_minute: BTreeMap<i64, Vec<Entry>> = BTreeMap::new();
    let mut wheel = timer.wheel.lock();
    for raw in &r.messages {
        let Ok(rec) = decode_record(raw) else {
            continue;
        };
        let Some(due) =
            find_property(rec.properties, "TIMER_OUT_MS").and_then(|d| d.parse::<i64>().ok())
        else {
            continue;
        };
        // A minute already loaded would not see a file append: such entries go to the heap
        // too, due no earlier than now + 1 ms (above any watermark).
        let minute = minute_of(due);
        let entry = if wheel.loaded.contains(&minute) || due <= now {
            Entry {
                due_ms: due.max(now + 1),
                offset: rec.physical_offset,
            }
        } else {
            Entry {
                due_ms: due,
                offset: rec.physical_offset,
            }
        };
        by_minute
            .entry(minute_of(entry.due_ms))
            .or_default()
            .push(entry);
    }
    let mut count = 0;
    for (minute, entries) in &by_minute {
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(timer.file(*minute))?;
        let created = wheel.files.insert(*minute);
        let mut buf = Vec::with_capacity(entries.len() * 16);
        for e in entries {
            buf.extend_from_slice(&e.due_ms.to_be_bytes());
            buf.extend_from_slice(&e.offset.to_be_bytes());
        }
        f.write_all(&buf)?;
        f.sync_data()?;
        if created {
            // A new file's name must survive power loss too, before the position moves.
            fs::File::open(&timer.dir)?.sync_all()?;
        }
        if wheel.loaded.contains(minute) {
            wheel.heap.extend(entries.iter().copied().map(Reverse));
        }
        count += entries.len();
    }
    drop(wheel);
    inner
        .offsets
        .commit(TIMER_GROUP, TIMER_TOPIC, 0, r.next_begin_offset);
    Ok(count)
}

/// Most entries one dequeue step delivers before writing the watermark.
const DEQUEUE_BATCH: usize = 4096;

/// Delivers the due entries to their real topics and queues, in due order, then writes the
/// watermark once. Returns when the next loaded entry is due, if there is one.
pub async fn dequeue(inner: &Arc<BrokerInner>) -> Option<i64> {
    let timer = &inner.timer;
    let now = now_ms();
    let due: Vec<Entry> = {
        let mut wheel = timer.wheel.lock();
        let mut out = Vec::new();
        while out.len() < DEQUEUE_BATCH {
            match wheel.heap.peek() {
                Some(Reverse(e)) if e.due_ms <= now => out.extend(wheel.heap.pop().map(|r| r.0)),
                _ => break,
            }
        }
        out
    };
    let mut last = None;
    for (i, e) in due.iter().enumerate() {
        if let Err(err) = deliver(inner, *e).await {
            tracing::warn!(offset = e.offset, remark = %err.remark, "timer message not delivered; retrying");
            let mut wheel = timer.wheel.lock();
            wheel.heap.extend(
                due.get(i..)
                    .unwrap_or_default()
                    .iter()
                    .copied()
                    .map(Reverse),
            );
            break;
        }
        last = Some(*e);
    }
    let (next, done_files) = {
        let mut wheel = timer.wheel.lock();
        let mut done_files = Vec::new();
        if let Some(w) = last.filter(|w| *w > wheel.watermark) {
            wheel.watermark = w;
            // Files of minutes wholly below the watermark are done.
            let done: Vec<i64> = wheel
                .loaded
                .iter()
                .copied()
                .filter(|m| m + MINUTE_MS <= w.due_ms)
                .collect();
            for m in done {
                wheel.loaded.remove(&m);
                wheel.files.remove(&m);
                done_files.push(timer.file(m));
            }
        }
        (wheel.heap.peek().map(|Reverse(e)| e.due_ms), done_files)
    };
    if let Some(w) = last {
        // The checkpoint is fsynced: off the runtime's threads, and before the files go.
        let path = timer.dir.join("checkpoint");
        let text = format!("{} {}", w.due_ms, w.offset);
        let written = tokio::task::spawn_blocking(move || {
            if let Err(e) = crate::config_file::write_atomic(&path, &text) {
                tracing::error!(error = %e, "timer checkpoint not written");
                return;
            }
            for f in done_files {
                let _ = fs::remove_file(f);
            }
        })
        .await;
        if let Err(e) = written {
            tracing::error!(error = %e, "timer checkpoint task failed");
        }
    }
    next
}

/// The message at `entry` stored again on its real topic and queue (a delay level applied).
async fn deliver(inner: &Arc<BrokerInner>, entry: Entry) -> Result<(), Reject> {
    let Some(raw) = inner.store.lookup_message_by_offset(entry.offset) else {
        // Gone with retention: nothing to deliver.
        return Ok(());
    };
    let rec = decode_record(&raw).map_err(|e| Reject::system(e.to_string()))?;
    let Some(topic) = find_property(rec.properties, "REAL_TOPIC") else {
        return Ok(());
    };
    let queue_id = find_property(rec.properties, "REAL_QID")
        .and_then(|q| q.parse().ok())
        .unwrap_or(0);
    let mut props = ferrumq_store::parse_properties(rec.properties);
    props.push(("TIMER_DEQUEUE_MS".into(), now_ms().to_string()));
    let msg = MessageToStore {
        topic: topic.to_string(),
        queue_id,
        flag: rec.flag,
        body: raw.slice_ref(rec.body),
        properties: ferrumq_store::encode_properties(&props),
        sys_flag: rec.sys_flag,
        born_timestamp_ms: rec.born_timestamp_ms,
        born_host: rec.born_host,
        store_host: inner.store_host(),
        reconsume_times: rec.reconsume_times,
        prepared_transaction_offset: 0,
        store_timestamp_ms: None,
    };
    send::append(inner, true, |s| s.put_message(msg)).await?;
    Ok(())
}
