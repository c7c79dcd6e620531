//! The remoting server: accept loop, per-connection reader, per-request tasks, limits,
//! idle and slow-frame timeouts, graceful shutdown (wire doc §1.8).

use std::future::Future;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use futures::FutureExt;
use tokio::io::AsyncReadExt;
use tokio::net::tcp::OwnedReadHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::codec::Decoder;

use super::codec::FrameCodec;
use super::connection::{write_loop, ConnectionContext, Pending, SendBudget};
use crate::protocol::{
    RemotingCommand, ResponseCode, SerializeType, DEFAULT_MAX_FRAME_BYTES, FLAG_RESPONSE,
};

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(120);
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;
pub const DEFAULT_MAX_IN_FLIGHT_PER_CONNECTION: usize = 1024;
/// Reply bytes queued for one connection and not yet written; past it the peer is not
/// reading its replies and the connection is closed.
pub const DEFAULT_MAX_QUEUED_BYTES_PER_CONNECTION: usize = 32 * 1024 * 1024;
/// One socket write or flush taking longer than this closes the connection.
pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// Handles requests; one instance serves every connection.
pub trait RequestProcessor: Send + Sync + 'static {
    /// Returns the response, or None for oneway requests (no reply is written for a oneway
    /// request either way). May await (long polling): each request runs in its own task.
    fn process(
        &self,
        ctx: ConnectionContext,
        req: RemotingCommand,
    ) -> BoxFuture<'static, Option<RemotingCommand>>;

    /// Called once per connection, after it closed.
    fn on_connection_closed(&self, _ctx: &ConnectionContext) {}
}

/// The standard reply to a code the processor does not serve.
pub fn not_supported(req: &RemotingCommand) -> RemotingCommand {
    req.response_to(
        ResponseCode::RequestCodeNotSupported,
        format!(" request type {} not supported", req.code),
    )
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Largest accepted frame, length word included (Java `frameMaxLength`, 16 MiB).
    pub max_frame_bytes: usize,
    /// A connection with no complete frame for this long is closed (Java: 120 s).
    pub idle_timeout: Duration,
    pub max_connections: usize,
    /// Requests of one connection being processed at once; beyond it a request with a reply
    /// gets SYSTEM_BUSY and a oneway request waits (the connection stops being read).
    pub max_in_flight_per_connection: usize,
    /// Reply bytes queued and unwritten per connection before it is closed.
    pub max_queued_bytes_per_connection: usize,
    /// Longest a single socket write or flush may take before the connection is closed.
    pub write_timeout: Duration,
    /// Once a frame has started arriving it must complete within this (slow senders).
    pub frame_timeout: Duration,
    /// Responses queued per connection before request tasks wait for the socket.
    pub send_queue_capacity: usize,
    /// How long shutdown waits for in-flight requests.
    pub shutdown_grace: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            max_frame_bytes: DEFAULT_MAX_FRAME_BYTES,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_in_flight_per_connection: DEFAULT_MAX_IN_FLIGHT_PER_CONNECTION,
            max_queued_bytes_per_connection: DEFAULT_MAX_QUEUED_BYTES_PER_CONNECTION,
            write_timeout: DEFAULT_WRITE_TIMEOUT,
            frame_timeout: Duration::from_secs(30),
            send_queue_capacity: 4096,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

struct Shared {
    config: ServerConfig,
    processor: Arc<dyn RequestProcessor>,
    next_id: AtomicU64,
    shutdown: watch::Receiver<bool>,
}

pub struct RemotingServer {
    local_addr: SocketAddr,
    shutdown_tx: watch::Sender<bool>,
    accept_task: JoinHandle<()>,
    /// Every connection task holds a clone of the sender; recv() returns None once all
    /// of them are gone.
    drained: mpsc::Receiver<()>,
    grace: Duration,
}

impl RemotingServer {
    pub async fn bind(
        addr: SocketAddr,
        config: ServerConfig,
        processor: Arc<dyn RequestProcessor>,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let local_addr = listener.local_addr()?;
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let (drain_tx, drained) = mpsc::channel(1);
        let grace = config.shutdown_grace;
        let shared = Arc::new(Shared {
            config,
            processor,
            next_id: AtomicU64::new(1),
            shutdown: shutdown_rx,
        });
        let accept_task = tokio::spawn(accept_loop(listener, shared, drain_tx));
        Ok(RemotingServer {
            local_addr,
            shutdown_tx,
            accept_task,
            drained,
            grace,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting, stops reading, lets in-flight requests finish and their replies be
    /// written (up to `shutdown_grace`), then closes every connection.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown_tx.send(true);
        let _ = self.accept_task.await;
        if tokio::time::timeout(self.grace, self.drained.recv())
            .await
            .is_err()
        {
            tracing::warn!("remoting server: connections still busy after shutdown grace");
        }
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, drain: mpsc::Sender<()>) {
    let limit = Arc::new(Semaphore::new(shared.config.max_connections));
    let mut shutdown = shared.shutdown.clone();
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = shutdown.wait_for(|s| *s) => return,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = limit.clone().try_acquire_owned() else {
            tracing::warn!(%peer, "connection limit reached, closing new connection");
            drop(stream);
            continue;
        };
        let shared = shared.clone();
        let drain = drain.clone();
        tokio::spawn(async move {
            serve_connection(stream, peer, shared).await;
            drop(permit);
            drop(drain);
        });
    }
}

async fn serve_connection(stream: TcpStream, peer: SocketAddr, shared: Arc<Shared>) {
    let _ = stream.set_nodelay(true);
    let Ok(local) = stream.local_addr() else {
        return;
    };
    let (rd, wr) = stream.into_split();
    let cfg = &shared.config;
    let (tx, rx) = mpsc::channel(cfg.send_queue_capacity.max(1));
    let (stop_tx, stop_rx) = watch::channel(false);
    let budget = Arc::new(SendBudget::new(cfg.max_queued_bytes_per_connection));
    let writer = tokio::spawn(write_loop(
        wr,
        rx,
        stop_rx,
        Some(budget.clone()),
        cfg.write_timeout,
    ));
    let ctx = ConnectionContext {
        peer,
        local,
        id: shared.next_id.fetch_add(1, Ordering::Relaxed),
        tx,
        pending: Arc::new(Pending::default()),
        budget,
        stop: Arc::new(stop_tx),
    };
    let in_flight = Arc::new(Semaphore::new(cfg.max_in_flight_per_connection.max(1)));
    let reason = read_loop(rd, &ctx, &shared, &in_flight).await;
    tracing::debug!(%peer, id = ctx.id, "connection closing: {reason}");
    if reason == Close::Shutdown {
        // Drain: wait until every request task has given its permit back.
        let all = u32::try_from(cfg.max_in_flight_per_connection.max(1)).unwrap_or(u32::MAX);
        let _ = tokio::time::timeout(cfg.shutdown_grace, in_flight.acquire_many(all)).await;
    }
    let _ = ctx.stop.send(true);
    let _ = writer.await;
    ctx.pending.clear();
    shared.processor.on_connection_closed(&ctx);
}

#[derive(Debug, PartialEq, Eq)]
enum Close {
    Eof,
    Idle,
    SlowFrame,
    Shutdown,
    Framing(String),
    Io(String),
    /// The writer gave up: a write timed out, or the peer left too many replies unread.
    WriterGone,
}

impl std::fmt::Display for Close {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

/// Read buffer size: many pipelined requests per read system call.
const READ_BUFFER_BYTES: usize = 64 * 1024;

/// Reads frames until EOF, error, timeout or shutdown, dispatching each one.
async fn read_loop(
    mut rd: OwnedReadHalf,
    ctx: &ConnectionContext,
    shared: &Arc<Shared>,
    in_flight: &Arc<Semaphore>,
) -> Close {
    let cfg = &shared.config;
    let mut codec = FrameCodec::new(cfg.max_frame_bytes);
    let mut buf = BytesMut::with_capacity(READ_BUFFER_BYTES);
    let mut shutdown = shared.shutdown.clone();
    let mut last_frame = Instant::now();
    let mut frame_started: Option<Instant> = None;
    let mut oneway_tail = OnewayTail::default();
    // One timer for the connection, moved when its deadline moves (not one per read).
    let timer = tokio::time::sleep_until(last_frame + cfg.idle_timeout);
    tokio::pin!(timer);
    loop {
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(item)) => {
                    frame_started = None;
                    let permit = match in_flight.clone().try_acquire_owned() {
                        Ok(p) => Some(p),
                        // A oneway request cannot be refused visibly: stop reading this
                        // socket until a request finishes, so TCP pushes back on the sender
                        // instead of the request being dropped unseen.
                        Err(_) if matches!(&item, Ok(r) if r.is_oneway() && !r.is_response()) => {
                            tokio::select! {
                                p = in_flight.clone().acquire_owned() => p.ok(),
                                _ = shutdown.wait_for(|s| *s) => return Close::Shutdown,
                            }
                        }
                        Err(_) => None,
                    };
                    dispatch(item, ctx, shared, permit, &mut oneway_tail);
                    // Time spent running the request inline is not idle time.
                    last_frame = Instant::now();
                }
                Ok(None) => break,
                Err(e) => {
                    reply_framing_error(ctx, &e.to_string()).await;
                    return Close::Framing(e.to_string());
                }
            }
        }
        if !buf.is_empty() && frame_started.is_none() {
            frame_started = Some(Instant::now());
        }
        let deadline = match frame_started {
            Some(start) => start + cfg.frame_timeout,
            None => last_frame + cfg.idle_timeout,
        };
        if timer.deadline() != deadline {
            timer.as_mut().reset(deadline);
        }
        if buf.capacity() - buf.len() < 4096 {
            buf.reserve(READ_BUFFER_BYTES);
        }
        tokio::select! {
            // Bytes that are there win over an expired timer: a peer that just sent is not
            // idle.
            biased;
            r = rd.read_buf(&mut buf) => match r {
                Ok(0) => return Close::Eof,
                Ok(_) => {}
                Err(e) => return Close::Io(e.to_string()),
            },
            _ = &mut timer => {
                if frame_started.is_some() {
                    return Close::SlowFrame;
                }
                // Not idle while a request of this connection is still being processed.
                if in_flight.available_permits() < cfg.max_in_flight_per_connection.max(1) {
                    last_frame = Instant::now();
                    continue;
                }
                return Close::Idle;
            }
            _ = shutdown.wait_for(|s| *s) => return Close::Shutdown,
            _ = ctx.tx.closed() => return Close::WriterGone,
        }
    }
}

/// The stream cannot be resynchronised: tell the peer why (opaque unknown: 0), then close.
async fn reply_framing_error(ctx: &ConnectionContext, why: &str) {
    let mut resp = RemotingCommand::new_response(ResponseCode::SystemError, Some(why.to_owned()));
    resp.serialize_type = SerializeType::Json;
    ctx.queue(resp).await;
}

/// Oneway requests of one connection are processed in arrival order: each waits for the
/// previous one to finish. They carry state that later ones overwrite (UPDATE_CONSUMER_OFFSET,
/// REGISTER_BROKER), and with no reply the sender cannot order them itself. Requests with
/// replies still run concurrently (long-polling pulls must not hold anything up).
#[derive(Default)]
struct OnewayTail(Option<oneshot::Receiver<()>>);

impl OnewayTail {
    /// The previous oneway's completion signal, and this one's (fired when it is dropped).
    fn link(&mut self) -> (Option<oneshot::Receiver<()>>, oneshot::Sender<()>) {
        let (done_tx, done_rx) = oneshot::channel();
        (self.0.replace(done_rx), done_tx)
    }
}

fn dispatch(
    item: Result<RemotingCommand, crate::protocol::ProtocolError>,
    ctx: &ConnectionContext,
    shared: &Arc<Shared>,
    permit: Option<OwnedSemaphorePermit>,
    oneway_tail: &mut OnewayTail,
) {
    let req = match item {
        Ok(req) => req,
        Err(e) => {
            // Framing is intact, only this header is bad: answer and carry on.
            let resp = RemotingCommand::new_response(
                ResponseCode::SystemError,
                Some(format!("decode request failed: {e}")),
            );
            ctx.try_queue(resp);
            return;
        }
    };
    if req.is_response() {
        if !ctx.pending.complete(req) {
            tracing::debug!(peer = %ctx.peer, "response with no waiter dropped");
        }
        return;
    }
    let oneway = req.is_oneway();
    let Some(permit) = permit else {
        if !oneway {
            let resp = req.response_to(
                ResponseCode::SystemBusy,
                "[OVERLOAD]system busy, too many requests in flight on this connection".to_owned(),
            );
            ctx.try_queue(resp);
        }
        return;
    };
    let ctx = ctx.clone();
    let processor = shared.processor.clone();
    let (previous_oneway, this_oneway_done) = match oneway {
        true => {
            let (prev, done) = oneway_tail.link();
            (prev, Some(done))
        }
        false => (None, None),
    };
    let task = async move {
        if let Some(prev) = previous_oneway {
            // Err only means the previous task ended without signalling: it is done too.
            let _ = prev.await;
        }
        let (opaque, st, code) = (req.opaque, req.serialize_type, req.code);
        let fut = processor.process(ctx.clone(), req);
        let resp = match AssertUnwindSafe(fut).catch_unwind().await {
            Ok(resp) => resp,
            Err(_) => {
                tracing::error!(code, "request processor panicked");
                Some(RemotingCommand::new_response(
                    ResponseCode::SystemError,
                    Some(format!("internal error processing request code {code}")),
                ))
            }
        };
        if let (Some(mut resp), false) = (resp, oneway) {
            resp.opaque = opaque;
            resp.flag |= FLAG_RESPONSE;
            resp.serialize_type = st;
            ctx.queue(resp).await;
        }
        drop(this_oneway_done);
        drop(permit);
    };
    // Run it right here until it first has to wait: a send (ASYNC_FLUSH) or a pull that
    // finds messages completes without waiting, and a task per request would cost more
    // than the request. Only what waits (long polls, flush waits, a full send queue) gets a
    // task of its own, which polls it again with a real waker.
    let mut task = Box::pin(task);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    if task.as_mut().poll(&mut cx).is_pending() {
        tokio::spawn(task);
    }
}
