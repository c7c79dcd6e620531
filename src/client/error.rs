//! The client's one error type.

use crate::protocol::ResponseCode;
use crate::remoting::RemotingError;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
/// Everything the client can fail with.
pub enum ClientError {
    /// The broker or NameServer answered with an error code.
    #[error("{what}: {code:?} {remark}")]
    Broker {
        /// The request, e.g. `send to broker-a (10.0.0.1:10911)`.
        what: String,
        /// The broker's response code.
        code: ResponseCode,
        /// The broker's remark (its explanation).
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
    /// A builder setting that cannot work (no NameServer, an empty group...).
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

/// The stored records a pull or query body carries; `what` names them in the error.
pub(crate) fn decode_records(
    body: &[u8],
    what: impl FnOnce() -> String,
) -> Result<Vec<ferrumq_store::message::DecodedRecord<'_>>, ClientError> {
    ferrumq_store::message::decode_records(body).map_err(|e| ClientError::Broker {
        what: what(),
        code: ResponseCode::SystemError,
        remark: e.to_string(),
    })
}
