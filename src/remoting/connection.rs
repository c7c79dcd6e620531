//! Per-connection pieces shared by server and client: the writer task, the table of
//! requests waiting for a response, and the context handed to processors.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::SinkExt;
use parking_lot::Mutex;
use tokio::io::AsyncWrite;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::codec::FramedWrite;

use super::codec::FrameCodec;
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

/// Writes queued commands to the socket, flushing when the queue runs dry, until the
/// queue closes or `stop` turns true.
pub(crate) async fn write_loop<W: AsyncWrite + Unpin>(
    writer: W,
    max_frame_bytes: usize,
    mut rx: mpsc::Receiver<RemotingCommand>,
    mut stop: watch::Receiver<bool>,
) {
    let mut sink = FramedWrite::new(writer, FrameCodec::new(max_frame_bytes));
    loop {
        let cmd = tokio::select! {
            biased;
            cmd = rx.recv() => cmd,
            _ = stop.wait_for(|s| *s) => None,
        };
        let Some(cmd) = cmd else { break };
        if sink.feed(cmd).await.is_err() {
            return;
        }
        // Batch whatever else is already queued into the same flush.
        while let Ok(more) = rx.try_recv() {
            if sink.feed(more).await.is_err() {
                return;
            }
        }
        if sink.flush().await.is_err() {
            return;
        }
    }
    let _ = sink.flush().await;
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
        if let Err(e) = self.tx.try_send(cmd) {
            tracing::debug!(peer = %self.peer, "oneway to peer dropped: {e}");
        }
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
        match tokio::time::timeout_at(deadline, self.tx.send(cmd)).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => {
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
