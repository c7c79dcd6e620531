//! Errors of the remoting client.

use thiserror::Error;

use crate::protocol::ProtocolError;

#[derive(Debug, Error)]
#[non_exhaustive]
pub enum RemotingError {
    #[error("invalid address {0:?}")]
    InvalidAddr(String),
    #[error("connect to {addr} failed: {source}")]
    Connect {
        addr: String,
        source: std::io::Error,
    },
    #[error("connect to {0} timed out")]
    ConnectTimeout(String),
    #[error("request to {addr} timed out after {timeout_ms} ms")]
    Timeout { addr: String, timeout_ms: u128 },
    #[error("connection to {0} closed")]
    ConnectionClosed(String),
    #[error("send queue to {0} is full")]
    SendQueueFull(String),
    #[error("protocol error: {0}")]
    Protocol(#[from] ProtocolError),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}
