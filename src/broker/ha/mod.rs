//! Master/slave replication (wire doc §8, RocketMQ's classic HAService stream): a slave dials
//! its master's HA port and reports how far its CommitLog goes (8 bytes); the master streams
//! `[offset i64][size i32][bytes]` chunks from there (`master`); the slave appends them at
//! the same offsets and reports again (`slave`). A SYNC_MASTER send is answered once a slave
//! acknowledged its bytes (`HaService::wait_replicated`): many sends share one ack.

pub mod handshake;
pub mod master;
pub mod metadata;
pub mod slave;
pub mod slave_offsets;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ferrumq_store::MessageStore;
use parking_lot::Mutex;
use tokio::sync::{oneshot, Notify};
use tokio_util::sync::CancellationToken;

/// Largest chunk on the stream (haTransferBatchSize).
pub const TRANSFER_BATCH: usize = 32 * 1024;
/// An idle stream sends an empty chunk, and a slave reports, this often.
pub const HEARTBEAT: Duration = Duration::from_secs(5);
/// Either side closes a connection it has read nothing from for this long.
pub const HOUSEKEEPING: Duration = Duration::from_secs(20);

/// What a SYNC_MASTER send learns from `wait_replicated`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replicated {
    /// A slave has the bytes.
    Yes,
    /// No slave acknowledged them in time (FLUSH_SLAVE_TIMEOUT).
    Timeout,
    /// No slave connected, or the connected ones are too far behind (SLAVE_NOT_AVAILABLE).
    NoSlave,
}

/// The master's replication state: connected slaves, the highest offset one acknowledged,
/// and the sends waiting for an acknowledgement.
pub struct HaService {
    store: Arc<MessageStore>,
    /// Highest CommitLog offset a slave reported having.
    acked: AtomicU64,
    slaves: AtomicUsize,
    /// Slave connections accepted since start.
    accepted: AtomicU64,
    /// New bytes in the CommitLog: wakes the streams.
    appended: Notify,
    /// End offset → sends waiting until a slave has everything below it.
    waiters: Mutex<BTreeMap<u64, Vec<oneshot::Sender<()>>>>,
    /// A slave further behind than this does not count as in sync (haMaxGapNotInSync).
    max_gap: u64,
    /// Cancelled by `shutdown`: the listener and every stream stop.
    stop: CancellationToken,
}

impl HaService {
    /// The service for `store`; wakes its streams on every append.
    pub fn new(store: Arc<MessageStore>, max_gap: u64) -> Arc<Self> {
        let ha = Arc::new(HaService {
            store: store.clone(),
            acked: AtomicU64::new(0),
            slaves: AtomicUsize::new(0),
            accepted: AtomicU64::new(0),
            appended: Notify::new(),
            waiters: Mutex::new(BTreeMap::new()),
            max_gap,
            stop: CancellationToken::new(),
        });
        let weak = Arc::downgrade(&ha);
        store.set_append_listener(Arc::new(move |_| {
            if let Some(ha) = weak.upgrade() {
                if ha.slaves.load(Ordering::Acquire) > 0 {
                    ha.appended.notify_waiters();
                }
            }
        }));
        ha
    }

    /// Stops listening and closes every slave's stream.
    pub fn shutdown(&self) {
        self.stop.cancel();
    }

    /// Slaves connected now.
    pub fn slaves(&self) -> usize {
        self.slaves.load(Ordering::Acquire)
    }

    /// Slave connections accepted since start.
    pub fn connections_accepted(&self) -> u64 {
        self.accepted.load(Ordering::Acquire)
    }

    /// The highest offset a slave acknowledged.
    pub fn acked_offset(&self) -> u64 {
        self.acked.load(Ordering::Acquire)
    }

    /// A slave reported having everything below `offset`: sends waiting for it complete.
    fn ack(&self, offset: u64) {
        self.acked.fetch_max(offset, Ordering::AcqRel);
        let done = {
            let mut waiters = self.waiters.lock();
            let later = waiters.split_off(&(offset + 1));
            std::mem::replace(&mut *waiters, later)
        };
        for tx in done.into_values().flatten() {
            let _ = tx.send(());
        }
    }

    /// Waits until a slave has the CommitLog up to `end` (a SYNC_MASTER send), at most
    /// `timeout`. No slave in sync answers at once.
    pub async fn wait_replicated(&self, end: u64, timeout: Duration) -> Replicated {
        if self.acked_offset() >= end {
            return Replicated::Yes;
        }
        let behind =
            (self.store.commit_log_max_offset() as u64).saturating_sub(self.acked_offset());
        if self.slaves() == 0 || behind > self.max_gap {
            return Replicated::NoSlave;
        }
        let (tx, rx) = oneshot::channel();
        self.waiters.lock().entry(end).or_default().push(tx);
        // An ack between the first check and the registration would be missed.
        if self.acked_offset() >= end {
            return Replicated::Yes;
        }
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(())) => Replicated::Yes,
            _ => {
                // Forget this waiter (and any other that gave up) so none piles up.
                let mut waiters = self.waiters.lock();
                if let Some(v) = waiters.get_mut(&end) {
                    v.retain(|tx| !tx.is_closed());
                    if v.is_empty() {
                        waiters.remove(&end);
                    }
                }
                Replicated::Timeout
            }
        }
    }
}
