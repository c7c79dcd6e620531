//! FerrumQ's opening of the HA stream, before RocketMQ's classic reports: the slave sends its
//! log end and replication terms, the master answers how far their logs agree and its own
//! terms. A slave whose log runs past that point (an old master restarted with a tail it
//! never replicated) is told to cut it instead of being streamed bytes that do not continue
//! its log. A classic slave starts with an 8-byte offset instead; the master tells the two
//! apart by the magic (an offset never has these high bytes).
//!
//! Slave → master: `FQHA` u32 version, u64 log end, u32 n, n × (u64 epoch, u64 start).
//! Master → slave: `FQHA` u64 agreed end, u32 n, n × (u64 epoch, u64 start).

use ferrumq_store::Epoch;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

pub const MAGIC: [u8; 4] = *b"FQHA";
pub const VERSION: u32 = 1;
/// More terms than this in a handshake is not a FerrumQ peer.
const MAX_EPOCHS: u32 = 100_000;

/// What the slave says of itself.
pub struct Hello {
    pub log_end: u64,
    pub epochs: Vec<Epoch>,
}

fn put_epochs(out: &mut Vec<u8>, epochs: &[Epoch]) {
    out.extend_from_slice(&(epochs.len() as u32).to_be_bytes());
    for e in epochs {
        out.extend_from_slice(&e.epoch.to_be_bytes());
        out.extend_from_slice(&e.start.to_be_bytes());
    }
}

async fn read_epochs<R: AsyncRead + Unpin>(r: &mut R) -> std::io::Result<Vec<Epoch>> {
    let n = r.read_u32().await?;
    if n > MAX_EPOCHS {
        return Err(std::io::Error::other(format!("{n} epochs in a handshake")));
    }
    let mut out = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let epoch = r.read_u64().await?;
        let start = r.read_u64().await?;
        out.push(Epoch { epoch, start });
    }
    Ok(out)
}

/// Slave: sends its hello.
pub async fn send_hello<W: AsyncWrite + Unpin>(w: &mut W, hello: &Hello) -> std::io::Result<()> {
    let mut out = Vec::with_capacity(24 + 16 * hello.epochs.len());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&VERSION.to_be_bytes());
    out.extend_from_slice(&hello.log_end.to_be_bytes());
    put_epochs(&mut out, &hello.epochs);
    w.write_all(&out).await
}

/// Master: the rest of a hello whose first 8 bytes (magic, version) were read.
pub async fn read_hello<R: AsyncRead + Unpin>(r: &mut R, first: [u8; 8]) -> std::io::Result<Hello> {
    let version = u32::from_be_bytes([first[4], first[5], first[6], first[7]]);
    if version != VERSION {
        return Err(std::io::Error::other(format!(
            "handshake version {version}"
        )));
    }
    let log_end = r.read_u64().await?;
    let epochs = read_epochs(r).await?;
    Ok(Hello { log_end, epochs })
}

/// Master: its answer.
pub async fn send_answer<W: AsyncWrite + Unpin>(
    w: &mut W,
    agreed_end: u64,
    epochs: &[Epoch],
) -> std::io::Result<()> {
    let mut out = Vec::with_capacity(16 + 16 * epochs.len());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&agreed_end.to_be_bytes());
    put_epochs(&mut out, epochs);
    w.write_all(&out).await
}

/// Slave: the master's answer (agreed end, its terms).
pub async fn read_answer<R: AsyncRead + Unpin>(r: &mut R) -> std::io::Result<(u64, Vec<Epoch>)> {
    let mut magic = [0u8; 4];
    r.read_exact(&mut magic).await?;
    if magic != MAGIC {
        return Err(std::io::Error::other(
            "the master does not speak FerrumQ's handshake",
        ));
    }
    let agreed = r.read_u64().await?;
    Ok((agreed, read_epochs(r).await?))
}
