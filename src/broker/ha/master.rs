//! The master's side of the stream: accepts slaves on the HA port, reads their offset
//! reports, and streams CommitLog chunks from where each slave is.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use super::{handshake, HaService, HEARTBEAT, HOUSEKEEPING, TRANSFER_BATCH};

impl HaService {
    /// Listens for slaves on `bind`; returns the address bound (port 0 picks one).
    pub async fn listen(self: &Arc<Self>, bind: SocketAddr) -> std::io::Result<SocketAddr> {
        let listener = TcpListener::bind(bind).await?;
        let addr = listener.local_addr()?;
        let ha = self.clone();
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    a = listener.accept() => a,
                    _ = ha.stop.cancelled() => return,
                };
                match accepted {
                    Ok((conn, peer)) => {
                        let _ = conn.set_nodelay(true);
                        tokio::spawn(ha.clone().serve(conn, peer));
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "HA accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    }
                }
            }
        });
        Ok(addr)
    }

    async fn serve(self: Arc<Self>, mut conn: TcpStream, peer: SocketAddr) {
        let first = match tokio::time::timeout(HOUSEKEEPING, self.opening(&mut conn)).await {
            Ok(Ok(first)) => first,
            Ok(Err(why)) => return tracing::warn!(slave = %peer, reason = %why, "slave refused"),
            Err(_) => return tracing::warn!(slave = %peer, "slave silent after connecting"),
        };
        let (read, write) = conn.into_split();
        let (report_tx, report_rx) = watch::channel(first);
        self.slaves.fetch_add(1, Ordering::AcqRel);
        self.accepted.fetch_add(1, Ordering::AcqRel);
        tracing::info!(slave = %peer, "slave connected");
        let reports = tokio::spawn(read_reports(self.clone(), read, report_tx));
        let why = tokio::select! {
            why = self.stream(write, report_rx) => why,
            _ = self.stop.cancelled() => "the master is shutting down".to_string(),
        };
        reports.abort();
        self.slaves.fetch_sub(1, Ordering::AcqRel);
        tracing::info!(slave = %peer, reason = %why, "slave disconnected");
    }

    /// The first bytes: FerrumQ's handshake (answered; None: the first report follows), or a
    /// classic slave's first report. Err: a slave whose log ran past ours, told where to
    /// cut, or one that does not speak the protocol.
    async fn opening(&self, conn: &mut TcpStream) -> Result<Option<u64>, String> {
        let mut first = [0u8; 8];
        conn.read_exact(&mut first)
            .await
            .map_err(|e| format!("read failed: {e}"))?;
        if first[..4] != handshake::MAGIC {
            return u64::try_from(i64::from_be_bytes(first))
                .map(Some)
                .map_err(|_| "a negative first report".to_string());
        }
        let hello = handshake::read_hello(conn, first)
            .await
            .map_err(|e| format!("bad handshake: {e}"))?;
        let epochs = self.store.epochs();
        let max = self.store.commit_log_max_offset() as u64;
        let agreed = ferrumq_store::common_end(&epochs, max, &hello.epochs, hello.log_end);
        handshake::send_answer(conn, agreed, &epochs)
            .await
            .map_err(|e| format!("answer failed: {e}"))?;
        if agreed < hello.log_end {
            return Err(format!(
                "its log runs past this master's from offset {agreed} (it ends at {}): told to cut it there",
                hello.log_end
            ));
        }
        Ok(None)
    }

    /// Streams chunks from the slave's first report on; returns why it stopped.
    async fn stream(
        &self,
        mut out: OwnedWriteHalf,
        mut reports: watch::Receiver<Option<u64>>,
    ) -> String {
        // Nothing is sent before the slave says where it is.
        let reported = loop {
            if let Some(r) = *reports.borrow_and_update() {
                break r;
            }
            if reports.changed().await.is_err() {
                return "closed before its first report".into();
            }
        };
        let (min, max) = (
            self.store.commit_log_min_offset() as u64,
            self.store.commit_log_max_offset() as u64,
        );
        // A new slave copies everything still stored (RocketMQ: only the last file).
        let mut next = if reported == 0 { min } else { reported };
        if next > max {
            return format!(
                "its log ends at {next}, past this master's end {max}: it must be truncated first"
            );
        }
        if next < min {
            return format!("it needs offset {next}, already deleted here (oldest {min})");
        }
        let mut header = [0u8; 12];
        loop {
            let appended = self.appended.notified();
            tokio::pin!(appended);
            appended.as_mut().enable();
            let chunk = self.store.replica_read(next, TRANSFER_BATCH);
            let len = chunk.as_ref().map_or(0, |c| c.len());
            if len == 0 {
                tokio::select! {
                    _ = &mut appended => continue,
                    _ = tokio::time::sleep(HEARTBEAT) => {}
                    r = reports.changed() => {
                        if r.is_err() {
                            return "its connection closed".into();
                        }
                        continue;
                    }
                }
            }
            header[..8].copy_from_slice(&(next as i64).to_be_bytes());
            header[8..].copy_from_slice(&(len as i32).to_be_bytes());
            let sent = async {
                out.write_all(&header).await?;
                if let Some(c) = &chunk {
                    out.write_all(c).await?;
                }
                out.flush().await
            };
            match tokio::time::timeout(HOUSEKEEPING, sent).await {
                Ok(Ok(())) => next += len as u64,
                Ok(Err(e)) => return format!("write failed: {e}"),
                Err(_) => return "it stopped reading".into(),
            }
        }
    }
}

/// Reads the slave's 8-byte offset reports; each acknowledges everything below it.
async fn read_reports(ha: Arc<HaService>, mut read: OwnedReadHalf, tx: watch::Sender<Option<u64>>) {
    let mut buf = [0u8; 8];
    loop {
        match tokio::time::timeout(HOUSEKEEPING, read.read_exact(&mut buf)).await {
            Ok(Ok(_)) => {
                let Ok(offset) = u64::try_from(i64::from_be_bytes(buf)) else {
                    tracing::warn!("negative offset from a slave; closing");
                    return;
                };
                if tx.borrow().is_some() {
                    ha.ack(offset);
                }
                tx.send_replace(Some(offset));
            }
            // Closed, failed or silent too long: dropping `tx` ends the stream.
            _ => return,
        }
    }
}
