//! Per-connection pieces shared by server and client: the writer task, the table of
//! requests waiting for a response, and the context handed to processors.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use std::io::IoSlice;

use bytes::{Buf, Bytes, BytesMut};
use parking_lot::Mutex;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot, watch};

use super::error::RemotingError;
use crate::protocol::{RemotingCommand, SerializeType, FLAG_RESPONSE};

/// Requests sent on a connection that wait for a response, by opaque.
#[derive(Default)]
pub(crate) struct Pending {
    map: Mutex<HashMap<i32, oneshot::Sender<RemotingCommand>>>,
    next_opaque: AtomicI32,
}

impl Pending {
    pub(crate) fn next_opaque(&self) -> i32 {
        self.next_opaque.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn insert(&self, opaque: i32) -> oneshot::Receiver<RemotingCommand> {
        let (tx, rx) = oneshot::channel();
        self.map.lock().insert(opaque, tx);
        rx
    }

    pub(crate) fn len(&self) -> usize {
        self.map.lock().len()
    }

    pub(crate) fn remove(&self, opaque: i32) {
        self.map.lock().remove(&opaque);
    }

    /// Hands a response to its waiter; false if nobody waits for it (late or unknown).
    pub(crate) fn complete(&self, resp: RemotingCommand) -> bool {
        let waiter = self.map.lock().remove(&resp.opaque);
        match waiter {
            Some(tx) => tx.send(resp).is_ok(),
            None => false,
        }
    }

    /// Fails every waiter (their receivers see the sender dropped).
    pub(crate) fn clear(&self) {
        self.map.lock().clear();
    }
}

/// Bytes queued for one connection's writer and not yet handed to the socket, against a
/// cap: a peer that sends requests and never reads the replies must cost a bounded amount of
/// memory. Costs are estimates (body plus header fields), charged when a command is queued
/// and refunded when it is written.
pub(crate) struct SendBudget {
    queued_bytes: AtomicUsize,
    limit_bytes: usize,
}

impl SendBudget {
    pub(crate) fn new(limit_bytes: usize) -> Self {
        Self {
            queued_bytes: AtomicUsize::new(0),
            limit_bytes,
        }
    }

    /// Charges `cmd`; false (nothing charged) if that would pass the cap.
    fn charge(&self, cmd: &RemotingCommand) -> bool {
        let cost = queued_cost(cmd);
        let before = self.queued_bytes.fetch_add(cost, Ordering::AcqRel);
        if before.saturating_add(cost) > self.limit_bytes {
            self.refund(cost);
            return false;
        }
        true
    }

    fn refund(&self, cost: usize) {
        self.queued_bytes.fetch_sub(cost, Ordering::AcqRel);
    }
}

/// A charge on the budget that is refunded when dropped (cost 0 once the writer owns it).
struct Charge<'a> {
    budget: &'a SendBudget,
    cost: usize,
}

impl Drop for Charge<'_> {
    fn drop(&mut self) {
        if self.cost > 0 {
            self.budget.refund(self.cost);
        }
    }
}

fn queued_cost(cmd: &RemotingCommand) -> usize {
    let fields: usize = cmd
        .ext_fields
        .iter()
        .map(|(k, v)| k.len() + v.len() + 6)
        .sum();
    cmd.body_len() + fields + cmd.remark.as_ref().map_or(0, String::len) + 128
}

/// Body pieces at least this long go to the socket as they are (one iovec each, no copy);
/// shorter ones are copied next to the header, where a separate iovec would cost more.
const ZERO_COPY_MIN: usize = 512;
/// A batch of queued commands is written once it holds this many bytes.
const BATCH_BYTES: usize = 1 << 20;
/// Most iovecs handed to one `writev`.
const MAX_IOVECS: usize = 64;

/// Frames ready for the socket: headers and small bodies copied into `head`, large body
/// pieces (mapped CommitLog slices) kept as they are, in order.
#[derive(Default)]
struct Outgoing {
    chunks: Vec<Bytes>,
    head: BytesMut,
    bytes: usize,
}

impl Outgoing {
    fn push(&mut self, cmd: &RemotingCommand) {
        cmd.encode_head(&mut self.head);
        for part in std::iter::once(&cmd.body).chain(&cmd.body_parts) {
            if part.len() >= ZERO_COPY_MIN {
                if !self.head.is_empty() {
                    self.chunks.push(self.head.split().freeze());
                }
                self.chunks.push(part.clone());
            } else {
                self.head.extend_from_slice(part);
            }
        }
        self.bytes += cmd.body_len() + 64;
    }

    /// Writes everything with vectored writes, each within `timeout`.
    async fn write_to<W: AsyncWrite + Unpin>(
        &mut self,
        w: &mut W,
        timeout: Duration,
    ) -> std::io::Result<()> {
        if !self.head.is_empty() {
            self.chunks.push(self.head.split().freeze());
        }
        let mut first = 0;
        while first < self.chunks.len() {
            let slices: Vec<IoSlice<'_>> = self
                .chunks
                .get(first..)
                .unwrap_or_default()
                .iter()
                .take(MAX_IOVECS)
                .map(|c| IoSlice::new(c))
                .collect();
            let wrote = tokio::time::timeout(timeout, w.write_vectored(&slices))
                .await
                .map_err(|_| {
                    std::io::Error::new(std::io::ErrorKind::TimedOut, "write timed out")
                })??;
            if wrote == 0 {
                return Err(std::io::ErrorKind::WriteZero.into());
            }
            let mut left = wrote;
            while left > 0 {
                let Some(chunk) = self.chunks.get_mut(first) else {
                    break;
                };
                if left >= chunk.len() {
                    left -= chunk.len();
                    first += 1;
                } else {
                    chunk.advance(left);
                    left = 0;
                }
            }
        }
        self.chunks.clear();
        self.bytes = 0;
        tokio::time::timeout(timeout, w.flush())
            .await
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "flush timed out"))?
    }
}

/// Writes queued commands to the socket: whatever is queued is batched into vectored
/// writes (headers copied together, large body pieces such as a pull's mapped records passed
/// as they are), until the queue closes or `stop` turns true. Every write must finish within
/// `write_timeout` (a peer that stops reading fills its socket buffer); past it, the writer
/// gives up, which closes the connection. `budget` is refunded once a batch is written
/// (servers, whose queueing charges it); clients queue without one.
pub(crate) async fn write_loop<W: AsyncWrite + Unpin>(
    mut writer: W,
    mut rx: mpsc::Receiver<RemotingCommand>,
    mut stop: watch::Receiver<bool>,
    budget: Option<Arc<SendBudget>>,
    write_timeout: Duration,
) {
    let mut out = Outgoing::default();
    loop {
        let cmd = tokio::select! {
            biased;
            cmd = rx.recv() => cmd,
            _ = stop.wait_for(|s| *s) => None,
        };
        let Some(cmd) = cmd else { break };
        let mut cost = queued_cost(&cmd);
        out.push(&cmd);
        drop(cmd);
        // Batch whatever else is already queued into the same writes.
        while out.bytes < BATCH_BYTES {
            let Ok(more) = rx.try_recv() else { break };
            cost += queued_cost(&more);
            out.push(&more);
        }
        let written = out.write_to(&mut writer, write_timeout).await;
        if let Some(b) = &budget {
            b.refund(cost);
        }
        if written.is_err() {
            return;
        }
    }
    let _ = out.write_to(&mut writer, write_timeout).await;
}

/// What a processor knows about the connection a request came on.
#[derive(Clone)]
pub struct ConnectionContext {
    pub peer: SocketAddr,
    pub local: SocketAddr,
    /// Unique per server process.
    pub id: u64,
    pub(crate) tx: mpsc::Sender<RemotingCommand>,
    pub(crate) pending: Arc<Pending>,
    pub(crate) budget: Arc<SendBudget>,
    /// Stops the writer (and so the connection): set on shutdown or when the budget overflows.
    pub(crate) stop: Arc<watch::Sender<bool>>,
}

impl std::fmt::Debug for ConnectionContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionContext")
            .field("peer", &self.peer)
            .field("local", &self.local)
            .field("id", &self.id)
            .finish()
    }
}

impl ConnectionContext {
    /// Sends a oneway request to the peer (e.g. NOTIFY_CONSUMER_IDS_CHANGED). Always JSON:
    /// the C++ client does not mask the serialize-type byte. Dropped when the send queue is
    /// full or the connection is gone: oneway requests are best effort.
    pub fn send_oneway(&self, mut cmd: RemotingCommand) {
        cmd.mark_oneway();
        cmd.flag &= !FLAG_RESPONSE;
        cmd.serialize_type = SerializeType::Json;
        cmd.opaque = self.pending.next_opaque();
        if !self.try_queue(cmd) {
            tracing::debug!(peer = %self.peer, "oneway to peer dropped");
        }
    }

    /// Queues a command for the writer, waiting while the queue is full. False if the
    /// connection is gone, or if the peer has left more unread bytes queued than the budget
    /// allows: then the connection is closed and its memory freed.
    pub(crate) async fn queue(&self, cmd: RemotingCommand) -> bool {
        if !self.budget.charge(&cmd) {
            self.overflowed();
            return false;
        }
        // Refunded unless the writer got it, also when this future is dropped mid-send.
        let mut charge = Charge {
            budget: &self.budget,
            cost: queued_cost(&cmd),
        };
        if self.tx.send(cmd).await.is_err() {
            return false;
        }
        charge.cost = 0;
        true
    }

    /// `queue` without waiting: false (dropped) when the queue is full.
    pub(crate) fn try_queue(&self, cmd: RemotingCommand) -> bool {
        if !self.budget.charge(&cmd) {
            self.overflowed();
            return false;
        }
        let cost = queued_cost(&cmd);
        if self.tx.try_send(cmd).is_err() {
            self.budget.refund(cost);
            return false;
        }
        true
    }

    fn overflowed(&self) {
        tracing::warn!(peer = %self.peer, limit = self.budget.limit_bytes,
            "peer does not read its replies: queued bytes over the limit, closing");
        let _ = self.stop.send(true);
    }

    /// Sends a request to the peer and waits for its response (e.g. PUSH_REPLY_MESSAGE_TO_CLIENT).
    /// `timeout` bounds the whole exchange, queueing included: a peer that stops reading
    /// fills its send queue, and the caller must not wait on it for longer than that.
    pub async fn invoke(
        &self,
        mut cmd: RemotingCommand,
        timeout: Duration,
    ) -> Result<RemotingCommand, RemotingError> {
        cmd.flag &= !FLAG_RESPONSE;
        cmd.serialize_type = SerializeType::Json;
        cmd.opaque = self.pending.next_opaque();
        let opaque = cmd.opaque;
        let rx = self.pending.insert(opaque);
        let peer = self.peer.to_string();
        let deadline = tokio::time::Instant::now() + timeout;
        let timed_out = |peer: String| RemotingError::Timeout {
            addr: peer,
            timeout_ms: timeout.as_millis(),
        };
        match tokio::time::timeout_at(deadline, self.queue(cmd)).await {
            Ok(true) => {}
            Ok(false) => {
                self.pending.remove(opaque);
                return Err(RemotingError::ConnectionClosed(peer));
            }
            Err(_) => {
                self.pending.remove(opaque);
                return Err(timed_out(peer));
            }
        }
        match tokio::time::timeout_at(deadline, rx).await {
            Ok(Ok(resp)) => Ok(resp),
            Ok(Err(_)) => Err(RemotingError::ConnectionClosed(peer)),
            Err(_) => {
                self.pending.remove(opaque);
                Err(timed_out(peer))
            }
        }
    }

    /// True while the connection's writer is alive.
    pub fn is_open(&self) -> bool {
        !self.tx.is_closed()
    }
}
