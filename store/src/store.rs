//! `MessageStore`: the facade the broker uses; open, recovery orchestration, shutdown.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::{JoinHandle, Thread};

use bytes::Bytes;
use parking_lot::{Mutex, RwLock};

use crate::checkpoint::Checkpoint;
use crate::commitlog::{CommitLog, QueueOffsetTable};
use crate::config::StoreConfig;
use crate::consume_queue::ConsumeQueue;
use crate::disk::Disk;
use crate::error::StoreError;
use crate::flush::FlushService;
use crate::index::IndexService;
use crate::retention::{DiskState, RetentionProbe, SystemProbe};

/// RocketMQ's GetMessageStatus (wire doc §7.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GetMessageStatus {
    /// at least one message
    Found,
    /// entries scanned, none matched the filter
    NoMatchedMessage,
    /// the CommitLog data was already deleted
    MessageWasRemoving,
    /// the ConsumeQueue file for the offset is missing
    OffsetFoundNull,
    /// offset > max
    OffsetOverflowBadly,
    /// offset == max
    OffsetOverflowOne,
    /// offset < min
    OffsetTooSmall,
    /// no such topic/queue
    NoMatchedLogicQueue,
    /// the queue is empty
    NoMessageInQueue,
}

/// Answer of `get_message`.
#[derive(Clone, Debug)]
pub struct GetMessageResult {
    /// status per wire doc §7.3
    pub status: GetMessageStatus,
    /// where the next pull should start
    pub next_begin_offset: i64,
    /// queue min offset
    pub min_offset: i64,
    /// queue max offset (next to write)
    pub max_offset: i64,
    /// whole stored records, zero-copy slices of the mapping
    pub messages: Vec<Bytes>,
    /// sum of the records' sizes
    pub total_bytes: usize,
}

/// Answer of `query_message`.
#[derive(Clone, Debug, Default)]
pub struct QueryMessageResult {
    /// whole stored records
    pub messages: Vec<Bytes>,
    /// store time of the newest indexed record
    pub index_last_update_timestamp: i64,
    /// physical offset of the newest indexed record
    pub index_last_update_phy_offset: i64,
}

/// Listener the dispatcher calls after entries are in a ConsumeQueue.
pub type ArrivalListener = Arc<dyn Fn(&str, i32, i64) + Send + Sync>;

/// Called after every append with the new end of the CommitLog (replication wakes its
/// streams with it).
pub type AppendListener = Arc<dyn Fn(u64) + Send + Sync>;

pub(crate) type CqTable = HashMap<String, HashMap<i32, Arc<ConsumeQueue>>>;

/// State shared by the facade and the background threads.
pub(crate) struct Inner {
    pub config: StoreConfig,
    pub root: PathBuf,
    pub commit_log: CommitLog,
    pub cqs: RwLock<CqTable>,
    pub index: IndexService,
    /// CommitLog offset up to which records are in ConsumeQueues and the index
    pub dispatched: AtomicU64,
    pub listener: RwLock<Option<ArrivalListener>>,
    pub append_listener: OnceLock<AppendListener>,
    /// Replication terms (`epoch.rs`).
    pub epochs: Mutex<Vec<crate::epoch::Epoch>>,
    /// Held while the epochs file is written (not `epochs`: readers never wait on the disk).
    pub epochs_writer: Mutex<()>,
    pub flush: FlushService,
    pub stopping: AtomicBool,
    /// sticky: a CommitLog flush failed, no more acks
    pub flush_failed: AtomicBool,
    pub dispatcher: OnceLock<Thread>,
    /// the warm-up thread, woken by appends when the warmed window runs short
    pub warmer: OnceLock<Thread>,
    /// test/bench hook: the dispatcher thread idles while set
    pub dispatch_paused: AtomicBool,
    /// topic → CommitLog offset below which its records belong to a deleted incarnation
    /// (DESIGN.md P2); dropped once dispatching passes it
    pub topic_fences: Mutex<HashMap<String, u64>>,
    pub any_topic_fence: AtomicBool,
    /// the fences saved in `topicfences`: kept until a checkpoint's dispatched offset passes
    /// them, since a restart re-dispatches from there
    pub saved_fences: Mutex<HashMap<String, u64>>,
    /// why dispatching is stalled on a record (a write that failed and is being retried)
    pub dispatch_error: Mutex<Option<String>>,
    pub probe: RwLock<Arc<dyn RetentionProbe>>,
    /// disk usage as the retention thread last saw it, and what retention deleted
    pub disk: DiskState,
    /// the durability seam every file operation goes through
    pub io: Disk,
    lock_file: Mutex<Option<File>>,
}

/// The storage engine. Dropping it without `shutdown` stops the threads but leaves the
/// `abort` file, like a crash (the next open recovers).
pub struct MessageStore {
    pub(crate) inner: Arc<Inner>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    shut_down: AtomicBool,
}

impl Inner {
    pub(crate) fn checkpoint_path(&self) -> PathBuf {
        self.root.join("checkpoint")
    }
    pub(crate) fn abort_path(&self) -> PathBuf {
        self.root.join("abort")
    }
    pub(crate) fn cq_dir(&self, topic: &str, queue_id: i32) -> PathBuf {
        self.root
            .join("consumequeue")
            .join(topic)
            .join(queue_id.to_string())
    }

    pub(crate) fn find_cq(&self, topic: &str, queue_id: i32) -> Option<Arc<ConsumeQueue>> {
        self.cqs.read().get(topic)?.get(&queue_id).cloned()
    }

    pub(crate) fn find_or_create_cq(
        &self,
        topic: &str,
        queue_id: i32,
    ) -> Result<Arc<ConsumeQueue>, StoreError> {
        if let Some(cq) = self.find_cq(topic, queue_id) {
            return Ok(cq);
        }
        let mut table = self.cqs.write();
        let queues = table.entry(topic.to_string()).or_default();
        if let Some(cq) = queues.get(&queue_id) {
            return Ok(cq.clone());
        }
        let cq = Arc::new(ConsumeQueue::open(
            topic,
            queue_id,
            &self.cq_dir(topic, queue_id),
            self.config.mapped_file_size_consume_queue_entries.max(1),
            &self.io,
        )?);
        queues.insert(queue_id, cq.clone());
        Ok(cq)
    }

    pub(crate) fn all_cqs(&self) -> Vec<Arc<ConsumeQueue>> {
        self.cqs
            .read()
            .values()
            .flat_map(|q| q.values().cloned())
            .collect()
    }

    pub(crate) fn wake_dispatcher(&self) {
        if let Some(t) = self.dispatcher.get() {
            t.unpark();
        }
    }

    /// After an append: wakes the warm-up thread once the warmed window runs short (about
    /// once per 2 MiB chunk, not per append).
    pub(crate) fn wake_warmer_if_needed(&self) {
        if self.commit_log.warm_wanted() {
            if let Some(t) = self.warmer.get() {
                t.unpark();
            }
        }
    }

    /// Flushes ConsumeQueues and index, then records the positions in the checkpoint.
    pub(crate) fn flush_logics_and_checkpoint(&self) -> std::io::Result<()> {
        let dispatched = self.dispatched.load(Ordering::Acquire);
        let logics_ts = self.commit_log.last_store_timestamp();
        let cl_flushed = self.commit_log.flushed_offset();
        for cq in self.all_cqs() {
            cq.flush()?;
        }
        self.index.flush()?;
        Checkpoint {
            physic_msg_timestamp: logics_ts,
            logics_msg_timestamp: logics_ts,
            index_msg_timestamp: logics_ts,
            commit_log_flushed_offset: cl_flushed,
            dispatched_offset: dispatched,
        }
        .store(&self.checkpoint_path(), &self.io)?;
        let mut saved = self.saved_fences.lock();
        let before = saved.len();
        saved.retain(|_, fence| *fence > dispatched);
        if saved.len() != before {
            crate::fences::store(&self.root, &self.io, &saved);
        }
        Ok(())
    }

    /// After a crash: a queue of a fenced topic whose first entry lies below the fence is the
    /// deleted incarnation (the folder's rename did not reach the disk); finish deleting it.
    pub(crate) fn drop_fenced_queues(&self) {
        let fences = self.topic_fences.lock().clone();
        let mut table = self.cqs.write();
        for (topic, fence) in &fences {
            let Some(queues) = table.get_mut(topic) else {
                continue;
            };
            queues.retain(|queue_id, cq| {
                let old = cq
                    .entry(cq.min_offset())
                    .is_some_and(|e| (e.physical_offset as u64) < *fence);
                if old {
                    cq.retire();
                    let _ = self.io.remove_dir_all(&self.cq_dir(topic, *queue_id));
                }
                !old
            });
        }
    }
}

fn lock_store(root: &Path) -> Result<File, StoreError> {
    let path = root.join("lock");
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| StoreError::io(&path, e))?;
    match f.try_lock() {
        Ok(()) => Ok(f),
        Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::Locked(root.to_path_buf())),
        Err(std::fs::TryLockError::Error(e)) => Err(StoreError::io(&path, e)),
    }
}

/// Name prefix of a deleted topic's ConsumeQueue folder waiting to be removed (topic names
/// cannot contain '.', so it never clashes with a topic).
pub(crate) const DELETED_PREFIX: &str = ".deleted-";

/// Loads every ConsumeQueue directory under `consumequeue/`.
fn load_cqs(root: &Path, entries_per_file: u64, disk: &Disk) -> Result<CqTable, StoreError> {
    let dir = root.join("consumequeue");
    disk.create_dir_all(&dir)
        .map_err(|e| StoreError::io(&dir, e))?;
    let mut table: CqTable = HashMap::new();
    for topic_entry in std::fs::read_dir(&dir)
        .map_err(|e| StoreError::io(&dir, e))?
        .flatten()
    {
        let Some(topic) = topic_entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        if topic.starts_with(DELETED_PREFIX) {
            // A deletion interrupted by a crash or a failed removal: finish it.
            let _ = disk.remove_dir_all(&topic_entry.path());
            continue;
        }
        if crate::message::validate_topic(&topic).is_err() {
            continue;
        }
        let Ok(queues) = std::fs::read_dir(topic_entry.path()) else {
            continue;
        };
        for q in queues.flatten() {
            let Some(qid) = q.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
                continue;
            };
            let cq = ConsumeQueue::open(&topic, qid, &q.path(), entries_per_file, disk)?;
            table
                .entry(topic.clone())
                .or_default()
                .insert(qid, Arc::new(cq));
        }
    }
    Ok(table)
}

impl MessageStore {
    /// Opens (recovering if needed) the store under `config.store_path_root_dir`.
    pub fn open(config: StoreConfig) -> Result<Arc<MessageStore>, StoreError> {
        Self::open_on(config, Disk::default())
    }

    /// `open` with every durability operation going through `disk` (crash-image and
    /// fault-injection tests).
    pub fn open_on(config: StoreConfig, disk: Disk) -> Result<Arc<MessageStore>, StoreError> {
        let root = config.store_path_root_dir.clone();
        disk.create_dir_all(&root)
            .map_err(|e| StoreError::io(&root, e))?;
        let lock_file = lock_store(&root)?;
        let commit_log = CommitLog::load(
            &config.commit_log_dir(),
            config.mapped_file_size_commit_log,
            &disk,
        )?;
        let index = IndexService::load(
            &root.join("index"),
            config.max_hash_slot_num,
            config.max_index_num,
            &disk,
        )?;
        let fences = crate::fences::load(&root);
        let epochs = crate::epoch::load(&root)?;
        let cqs = load_cqs(
            &root,
            config.mapped_file_size_consume_queue_entries.max(1),
            &disk,
        )?;
        let inner = Arc::new(Inner {
            config,
            root,
            commit_log,
            cqs: RwLock::new(cqs),
            index,
            dispatched: AtomicU64::new(0),
            listener: RwLock::new(None),
            append_listener: OnceLock::new(),
            epochs: Mutex::new(epochs),
            epochs_writer: Mutex::new(()),
            flush: FlushService::default(),
            stopping: AtomicBool::new(false),
            flush_failed: AtomicBool::new(false),
            dispatcher: OnceLock::new(),
            warmer: OnceLock::new(),
            dispatch_paused: AtomicBool::new(false),
            dispatch_error: Mutex::new(None),
            any_topic_fence: AtomicBool::new(!fences.is_empty()),
            topic_fences: Mutex::new(fences.clone()),
            saved_fences: Mutex::new(fences),
            probe: RwLock::new(Arc::new(SystemProbe)),
            disk: DiskState::default(),
            io: disk,
            lock_file: Mutex::new(Some(lock_file)),
        });
        inner.recover()?;
        inner.check_disk();
        // The abort file must survive a power cut too, or the next start takes the crash for
        // a clean stop and skips the checks a crash needs.
        let abort = inner.abort_path();
        inner
            .io
            .open_file(&abort)
            .and_then(|_| inner.io.sync_dir(&inner.root))
            .map_err(|e| StoreError::io(&abort, e))?;
        let store = Arc::new(MessageStore {
            threads: Mutex::new(crate::threads::spawn_all(&inner)?),
            inner,
            shut_down: AtomicBool::new(false),
        });
        Ok(store)
    }

    /// Called by the dispatcher thread after entries are in a ConsumeQueue.
    pub fn set_arrival_listener(&self, f: ArrivalListener) {
        *self.inner.listener.write() = Some(f);
    }

    /// Called after every append (on the appending thread: keep it short). Set once; false
    /// when one was set already.
    pub fn set_append_listener(&self, f: AppendListener) -> bool {
        self.inner.append_listener.set(f).is_ok()
    }

    /// Replaces the clock / disk probe the retention thread uses (tests).
    pub fn set_retention_probe(&self, probe: Arc<dyn RetentionProbe>) {
        *self.inner.probe.write() = probe;
        // The disk-full state follows the new probe at once, not at the next retention run.
        self.inner.check_disk();
    }

    fn stop_threads(&self) {
        self.inner.stopping.store(true, Ordering::Release);
        self.inner.flush.wake_all();
        self.inner.wake_dispatcher();
        let handles: Vec<_> = self.threads.lock().drain(..).collect();
        for h in handles {
            h.thread().unpark();
            let _ = h.join();
        }
    }

    /// Flushes everything, writes the checkpoint, removes `abort` and releases the lock.
    pub fn shutdown(&self) {
        if self.shut_down.swap(true, Ordering::AcqRel) {
            return;
        }
        self.stop_threads();
        let inner = &self.inner;
        // Dispatch whatever the thread had not reached, so the checkpoint covers everything.
        inner.dispatch_available();
        let ok = inner.commit_log.flush().is_ok() && inner.flush_logics_and_checkpoint().is_ok();
        if ok {
            let _ = inner.io.remove_file(&inner.abort_path());
        } else {
            tracing::error!(
                "flush at shutdown failed; leaving the abort file so the next start recovers"
            );
        }
        inner.lock_file.lock().take();
    }
}

impl Drop for MessageStore {
    fn drop(&mut self) {
        if !self.shut_down.load(Ordering::Acquire) {
            self.stop_threads();
        }
    }
}

/// Builds the queue offset table from the recovered ConsumeQueues.
pub(crate) fn queue_offsets_from(cqs: &CqTable) -> QueueOffsetTable {
    cqs.iter()
        .map(|(t, qs)| {
            (
                t.clone(),
                qs.iter().map(|(q, cq)| (*q, cq.max_offset())).collect(),
            )
        })
        .collect()
}

/// Test hooks (fault injection); not part of the broker API.
#[doc(hidden)]
impl MessageStore {
    /// The next CommitLog flush fails with an I/O error.
    pub fn debug_fail_next_flush(&self) {
        self.inner.flush.fail_next.store(true, Ordering::Release);
    }

    /// The flusher sleeps this long before each flush.
    pub fn debug_set_flush_stall_ms(&self, ms: u64) {
        self.inner.flush.stall_ms.store(ms, Ordering::Release);
    }

    /// Blocks until a flush round has begun sleeping for the stall (it reads what to flush
    /// only after the sleep, so a put made now waits for the whole stall).
    pub fn debug_wait_flush_stalled(&self) {
        let seen = self.inner.flush.stalled_rounds.load(Ordering::Acquire);
        self.inner.flush.wake_all();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while self.inner.flush.stalled_rounds.load(Ordering::Acquire) == seen {
            assert!(
                std::time::Instant::now() < deadline,
                "no flush round began within 30 s"
            );
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }

    /// Pauses or resumes the dispatcher thread (benchmarks).
    pub fn debug_pause_dispatch(&self, paused: bool) {
        self.inner.dispatch_paused.store(paused, Ordering::Release);
        self.inner.wake_dispatcher();
    }

    /// Blocks until the dispatcher has caught up with the CommitLog (tests, benches).
    pub fn debug_wait_dispatched(&self) {
        let mut spins = 0u32;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while self.dispatch_behind_bytes() > 0 {
            // A test that waits on a stalled dispatcher fails with the reason, not a hang.
            if std::time::Instant::now() > deadline {
                let why = self.inner.dispatch_error.lock().clone();
                panic!(
                    "dispatcher still {} bytes behind after 60 s: {why:?}",
                    self.dispatch_behind_bytes()
                );
            }
            self.inner.wake_dispatcher();
            spins += 1;
            if spins < 10_000 {
                std::thread::yield_now();
            } else {
                std::thread::sleep(std::time::Duration::from_micros(100));
            }
        }
    }
}
