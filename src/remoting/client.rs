//! The remoting client: one connection per address, opened lazily and reopened after a
//! failure; responses matched to requests by opaque; per-request timeouts; oneway.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio_util::codec::FramedRead;

use super::codec::FrameCodec;
use super::connection::{write_loop, Pending};
use super::error::RemotingError;
use crate::protocol::{RemotingCommand, DEFAULT_MAX_FRAME_BYTES, FLAG_RESPONSE};

/// Handles requests the server pushes (NOTIFY_CONSUMER_IDS_CHANGED, CHECK_TRANSACTION_STATE,
/// GET_CONSUMER_RUNNING_INFO…). Return a response for non-oneway requests, or None.
pub type PushHandler = Arc<dyn Fn(RemotingCommand) -> Option<RemotingCommand> + Send + Sync>;

/// A write to a server that does not read for this long closes the connection.
const CLIENT_WRITE_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone)]
pub struct ClientConfig {
    pub connect_timeout: Duration,
    pub max_frame_bytes: usize,
    /// Requests queued per connection before callers wait.
    pub send_queue_capacity: usize,
    pub push_handler: Option<PushHandler>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            connect_timeout: Duration::from_secs(3),
            max_frame_bytes: DEFAULT_MAX_FRAME_BYTES,
            send_queue_capacity: 4096,
            push_handler: None,
        }
    }
}

impl std::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfig")
            .field("connect_timeout", &self.connect_timeout)
            .field("max_frame_bytes", &self.max_frame_bytes)
            .field("push_handler", &self.push_handler.is_some())
            .finish()
    }
}

struct Conn {
    tx: mpsc::Sender<RemotingCommand>,
    pending: Arc<Pending>,
    closed: watch::Receiver<bool>,
}

impl Conn {
    fn is_closed(&self) -> bool {
        *self.closed.borrow() || self.tx.is_closed()
    }
}

type Slot = Arc<tokio::sync::Mutex<Option<Arc<Conn>>>>;

struct Inner {
    config: ClientConfig,
    slots: parking_lot::Mutex<HashMap<String, Slot>>,
}

/// Cheap to clone; clones share connections.
#[derive(Clone)]
pub struct RemotingClient {
    inner: Arc<Inner>,
}

impl RemotingClient {
    pub fn new(config: ClientConfig) -> Self {
        RemotingClient {
            inner: Arc::new(Inner {
                config,
                slots: parking_lot::Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Sends a request and waits for its response at most `timeout` (connecting included).
    pub async fn invoke(
        &self,
        addr: &str,
        mut req: RemotingCommand,
        timeout: Duration,
    ) -> Result<RemotingCommand, RemotingError> {
        // One span per request, so a caller's trace shows each round trip and its code.
        let span = tracing::debug_span!("remoting.request", code = req.code, addr = %addr);
        let work = async {
            let conn = self.connection(addr).await?;
            req.opaque = conn.pending.next_opaque();
            req.flag &= !FLAG_RESPONSE;
            let opaque = req.opaque;
            let rx = conn.pending.insert(opaque);
            // On timeout this future is dropped and the guard forgets the waiter, also while
            // the send still waits for room in a full queue (it used to leak there).
            let _guard = RemoveOnDrop {
                pending: &conn.pending,
                opaque,
            };
            if conn.tx.send(req).await.is_err() {
                return Err(RemotingError::ConnectionClosed(addr.to_owned()));
            }
            rx.await
                .map_err(|_| RemotingError::ConnectionClosed(addr.to_owned()))
        };
        match tracing::Instrument::instrument(tokio::time::timeout(timeout, work), span).await {
            Ok(r) => r,
            Err(_) => Err(RemotingError::Timeout {
                addr: addr.to_owned(),
                timeout_ms: timeout.as_millis(),
            }),
        }
    }

    /// Sends a oneway request: no response is expected.
    pub async fn invoke_oneway(
        &self,
        addr: &str,
        mut req: RemotingCommand,
    ) -> Result<(), RemotingError> {
        let conn = self.connection(addr).await?;
        req.opaque = conn.pending.next_opaque();
        req.flag &= !FLAG_RESPONSE;
        req.mark_oneway();
        conn.tx
            .send(req)
            .await
            .map_err(|_| RemotingError::ConnectionClosed(addr.to_owned()))
    }

    /// Requests to `addr` still waiting for a response (tests: nothing may leak).
    #[doc(hidden)]
    pub fn debug_pending(&self, addr: &str) -> usize {
        let slot = self.inner.slots.lock().get(addr).cloned();
        slot.and_then(|s| s.try_lock().ok()?.as_ref().map(|c| c.pending.len()))
            .unwrap_or(0)
    }

    /// Drops the connection to `addr`, if any (the next request reconnects).
    pub fn close(&self, addr: &str) {
        self.inner.slots.lock().remove(addr);
    }

    async fn connection(&self, addr: &str) -> Result<Arc<Conn>, RemotingError> {
        let slot = self
            .inner
            .slots
            .lock()
            .entry(addr.to_owned())
            .or_default()
            .clone();
        let mut guard = slot.lock().await;
        if let Some(conn) = guard.as_ref().filter(|c| !c.is_closed()) {
            return Ok(conn.clone());
        }
        let conn = Arc::new(self.connect(addr).await?);
        *guard = Some(conn.clone());
        Ok(conn)
    }

    async fn connect(&self, addr: &str) -> Result<Conn, RemotingError> {
        let cfg = &self.inner.config;
        let stream = match tokio::time::timeout(cfg.connect_timeout, TcpStream::connect(addr)).await
        {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                return Err(RemotingError::Connect {
                    addr: addr.to_owned(),
                    source: e,
                })
            }
            Err(_) => return Err(RemotingError::ConnectTimeout(addr.to_owned())),
        };
        let _ = stream.set_nodelay(true);
        let (rd, wr) = stream.into_split();
        let (tx, rx) = mpsc::channel(cfg.send_queue_capacity.max(1));
        let (closed_tx, closed_rx) = watch::channel(false);
        let pending = Arc::new(Pending::default());
        // The client's own requests are bounded by its callers (no budget); the deadline is
        // what matters here: a server that stops reading must not hang the connection forever.
        tokio::spawn(write_loop(
            wr,
            rx,
            closed_rx.clone(),
            None,
            CLIENT_WRITE_TIMEOUT,
        ));
        let reader = Reader {
            frames: FramedRead::new(rd, FrameCodec::new(cfg.max_frame_bytes)),
            pending: pending.clone(),
            // Weak: dropping the last client handle must close the connection.
            tx: tx.downgrade(),
            handler: cfg.push_handler.clone(),
            addr: addr.to_owned(),
        };
        tokio::spawn(async move {
            reader.run().await;
            let _ = closed_tx.send(true);
        });
        Ok(Conn {
            tx,
            pending,
            closed: closed_rx,
        })
    }
}

/// Removes a waiter whose `invoke` was cancelled (timeout or caller dropped).
struct RemoveOnDrop<'a> {
    pending: &'a Pending,
    opaque: i32,
}

impl Drop for RemoveOnDrop<'_> {
    fn drop(&mut self) {
        self.pending.remove(self.opaque);
    }
}

struct Reader {
    frames: FramedRead<tokio::net::tcp::OwnedReadHalf, FrameCodec>,
    pending: Arc<Pending>,
    tx: mpsc::WeakSender<RemotingCommand>,
    handler: Option<PushHandler>,
    addr: String,
}

impl Reader {
    async fn run(mut self) {
        while let Some(item) = self.frames.next().await {
            let cmd = match item {
                Ok(Ok(cmd)) => cmd,
                Ok(Err(e)) => {
                    tracing::warn!(addr = %self.addr, "undecodable frame from server: {e}");
                    continue;
                }
                Err(e) => {
                    tracing::warn!(addr = %self.addr, "connection broken: {e}");
                    break;
                }
            };
            if cmd.is_response() {
                self.pending.complete(cmd);
            } else {
                self.push(cmd);
            }
        }
        // Fail every waiter now rather than at its timeout.
        self.pending.clear();
    }

    fn push(&self, req: RemotingCommand) {
        let oneway = req.is_oneway();
        let (opaque, st) = (req.opaque, req.serialize_type);
        let resp = match &self.handler {
            Some(h) => h(req),
            None => (!oneway).then(|| crate::remoting::not_supported(&req)),
        };
        if let (Some(mut resp), false) = (resp, oneway) {
            resp.opaque = opaque;
            resp.flag |= FLAG_RESPONSE;
            resp.serialize_type = st;
            if let Some(tx) = self.tx.upgrade() {
                let _ = tx.try_send(resp);
            }
        }
    }
}
