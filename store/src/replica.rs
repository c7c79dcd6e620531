//! The store's side of master/slave replication: a master reads raw CommitLog bytes for its
//! slaves, a slave appends them at the same offsets (its dispatcher then builds its own
//! ConsumeQueues and index, as on a master).

use bytes::Bytes;

use crate::epoch::{self, Epoch};
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

    /// The replication terms this store's log went through, oldest first.
    pub fn epochs(&self) -> Vec<Epoch> {
        self.inner.epochs.lock().clone()
    }

    /// A master starting: a new term begins at the end of its log (written before it
    /// takes a send).
    pub fn begin_epoch(&self) -> Result<Epoch, StoreError> {
        let _writer = self.inner.epochs_writer.lock();
        let mut new = self.epochs();
        let next = Epoch {
            epoch: new.last().map_or(1, |e| e.epoch + 1),
            start: self.inner.commit_log.max_offset(),
        };
        new.push(next);
        self.write_epochs(new)?;
        Ok(next)
    }

    /// A slave takes its master's terms (after the handshake found their logs agree).
    /// Blocking (an fsynced write when they changed).
    pub fn adopt_epochs(&self, master: &[Epoch]) -> Result<(), StoreError> {
        let _writer = self.inner.epochs_writer.lock();
        if self.epochs().as_slice() == master {
            return Ok(());
        }
        self.write_epochs(master.to_vec())
    }

    /// Writes the list, then publishes it: readers never wait on the disk (the caller holds
    /// the writer lock, so writes land in order).
    fn write_epochs(&self, epochs: Vec<Epoch>) -> Result<(), StoreError> {
        epoch::store(&self.inner.root, &self.inner.io, &epochs)?;
        *self.inner.epochs.lock() = epochs;
        Ok(())
    }

    /// A slave whose log ran past its master's: the log is cut at `offset` at the next open
    /// (no reader may see bytes vanish). Durable before it returns; blocking.
    pub fn request_replica_truncation(&self, offset: u64) -> Result<(), StoreError> {
        let path = self.inner.root.join(epoch::TRUNCATE_FILE);
        self.inner
            .io
            .write_atomic(&path, offset.to_string().as_bytes())
            .map_err(|e| StoreError::io(&path, e))
    }
}
