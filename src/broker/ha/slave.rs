//! The slave's side of the stream: dials the master's HA port, reports its CommitLog end,
//! appends every chunk at its offset and reports again; reconnects after any failure, from
//! its own offset.

use std::sync::Arc;
use std::time::Duration;

use ferrumq_store::MessageStore;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use super::{handshake, HEARTBEAT, HOUSEKEEPING, TRANSFER_BATCH};

/// Pause before dialling again after a failed or lost connection.
const RECONNECT_PAUSE: Duration = Duration::from_secs(1);

/// Follows the master whose HA address `master` returns (None: not known yet) until `stop`
/// is cancelled.
pub async fn follow<F>(store: Arc<MessageStore>, master: F, stop: CancellationToken)
where
    F: Fn() -> Option<String> + Send + 'static,
{
    tokio::select! {
        _ = follow_forever(store, master) => {}
        _ = stop.cancelled() => {}
    }
}

async fn follow_forever<F>(store: Arc<MessageStore>, master: F)
where
    F: Fn() -> Option<String> + Send + 'static,
{
    loop {
        if let Some(addr) = master() {
            match TcpStream::connect(&addr).await {
                Ok(mut conn) => {
                    let _ = conn.set_nodelay(true);
                    match agree(&store, &mut conn).await {
                        Ok(()) => {
                            tracing::info!(master = %addr, from = store.replica_received_offset(), "following the master");
                            let why = copy(&store, conn).await;
                            tracing::warn!(master = %addr, reason = %why, "replication stream ended; reconnecting");
                        }
                        Err(Opening::Diverged(at)) => {
                            tracing::error!(master = %addr, cut_at = at,
                                "this slave's log runs past its master's: it is cut there at the next start; restart this broker");
                            return;
                        }
                        Err(Opening::Failed(why)) => {
                            tracing::warn!(master = %addr, reason = %why, "handshake failed; reconnecting")
                        }
                    }
                }
                Err(e) => tracing::debug!(master = %addr, error = %e, "master not reachable"),
            }
        }
        tokio::time::sleep(RECONNECT_PAUSE).await;
    }
}

enum Opening {
    /// The master's log and this one part at this offset: cut here, then follow.
    Diverged(u64),
    Failed(String),
}

/// FerrumQ's handshake: this log's end and terms against the master's. When they agree the
/// master's terms are kept; when this log runs past the master's, the cut is recorded (made
/// at the next open, before any reader).
async fn agree(store: &Arc<MessageStore>, conn: &mut TcpStream) -> Result<(), Opening> {
    let hello = handshake::Hello {
        log_end: store.replica_received_offset(),
        epochs: store.epochs(),
    };
    let exchange = async {
        handshake::send_hello(conn, &hello).await?;
        handshake::read_answer(conn).await
    };
    let (agreed, epochs) = match tokio::time::timeout(HOUSEKEEPING, exchange).await {
        Ok(Ok(answer)) => answer,
        Ok(Err(e)) => return Err(Opening::Failed(e.to_string())),
        Err(_) => return Err(Opening::Failed("no answer".into())),
    };
    // Both are fsynced writes: not on the runtime's threads.
    let s = store.clone();
    let diverged = agreed < hello.log_end;
    let written = tokio::task::spawn_blocking(move || {
        if diverged {
            s.request_replica_truncation(agreed)
                .map_err(|e| format!("cut not recorded: {e}"))
        } else {
            s.adopt_epochs(&epochs)
                .map_err(|e| format!("terms not written: {e}"))
        }
    })
    .await
    .map_err(|e| Opening::Failed(format!("write task failed: {e}")))?;
    match (written, diverged) {
        (Err(why), _) => Err(Opening::Failed(why)),
        (Ok(()), true) => Err(Opening::Diverged(agreed)),
        (Ok(()), false) => Ok(()),
    }
}

/// One connection: report, then apply chunks until something fails; returns why.
async fn copy(store: &MessageStore, conn: TcpStream) -> String {
    let (mut read, mut write) = conn.into_split();
    let report = |offset: u64| (offset as i64).to_be_bytes();
    // Reported at once (RocketMQ waits up to 5 s for its first report).
    if let Err(e) = write
        .write_all(&report(store.replica_received_offset()))
        .await
    {
        return format!("report failed: {e}");
    }
    let mut header = [0u8; 12];
    let mut data = Vec::with_capacity(TRANSFER_BATCH);
    let mut last_report = tokio::time::Instant::now();
    loop {
        match tokio::time::timeout(HOUSEKEEPING, read.read_exact(&mut header)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return format!("read failed: {e}"),
            Err(_) => return "the master went silent".into(),
        }
        let offset = i64::from_be_bytes(header[..8].try_into().unwrap_or_default());
        let size = i32::from_be_bytes(header[8..].try_into().unwrap_or_default());
        let (Ok(offset), Ok(size)) = (u64::try_from(offset), usize::try_from(size)) else {
            return format!("bad chunk header: offset {offset}, size {size}");
        };
        if size > 0 {
            if size > 64 * TRANSFER_BATCH {
                return format!("chunk of {size} bytes is too large");
            }
            data.resize(size, 0);
            match tokio::time::timeout(HOUSEKEEPING, read.read_exact(&mut data)).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => return format!("read failed: {e}"),
                Err(_) => return "the master went silent mid-chunk".into(),
            }
            // A memcpy into a mapped file (pre-faulted by the store's warm-up thread).
            if let Err(e) = store.replica_append(offset, &data) {
                return format!("chunk at {offset} not applied: {e}");
            }
        }
        if size > 0 || last_report.elapsed() >= HEARTBEAT {
            if let Err(e) = write
                .write_all(&report(store.replica_received_offset()))
                .await
            {
                return format!("report failed: {e}");
            }
            last_report = tokio::time::Instant::now();
        }
    }
}
