//! The store's side of master/slave replication: a master reads raw CommitLog bytes for its
//! slaves, a slave appends them at the same offsets (its dispatcher then builds its own
//! ConsumeQueues and index, as on a master).

use bytes::Bytes;

use crate::error::StoreError;
use crate::store::MessageStore;

impl MessageStore {
    /// Master: up to `max` CommitLog bytes from `offset` for a slave, within one file. None
    /// when nothing is there yet.
    pub fn replica_read(&self, offset: u64, max: usize) -> Option<Bytes> {
        self.inner.commit_log.read_for_replica(offset, max)
    }

    /// Slave: where the bytes copied from the master end (what it reports to the master).
    pub fn replica_received_offset(&self) -> u64 {
        self.inner.commit_log.received_offset()
    }

    /// Slave: appends bytes the master sent for `offset` (which must continue this log), and
    /// publishes the whole records among them to the dispatcher. Refused like a send when the
    /// disk is full or the store is shut down.
    pub fn replica_append(&self, offset: u64, data: &[u8]) -> Result<u64, StoreError> {
        self.inner.check_writable()?;
        let received = self.inner.commit_log.append_replica(offset, data)?;
        self.inner.wake_dispatcher();
        self.inner.wake_warmer_if_needed();
        Ok(received)
    }
}
