//! The client's one error type.

use crate::protocol::ResponseCode;
use crate::remoting::RemotingError;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The broker or NameServer answered with an error code.
    #[error("{what}: {code:?} {remark}")]
    Broker {
        what: String,
        code: ResponseCode,
        remark: String,
    },
    /// The request did not get an answer (connection, timeout).
    #[error(transparent)]
    Remoting(#[from] RemotingError),
    /// No NameServer knows the topic, and no broker allows creating it.
    #[error("no route to topic {0}")]
    NoRoute(String),
    /// The message cannot be sent as it is.
    #[error("invalid message: {0}")]
    InvalidMessage(String),
    #[error("invalid client configuration: {0}")]
    Config(String),
}

impl ClientError {
    /// The broker's response code, when the broker answered.
    pub fn code(&self) -> Option<ResponseCode> {
        match self {
            ClientError::Broker { code, .. } => Some(*code),
            _ => None,
        }
    }
}
