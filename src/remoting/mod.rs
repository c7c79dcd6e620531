//! tokio networking on the remoting protocol: a server that dispatches requests to a
//! processor, and a client with connection reuse, opaque matching, timeouts and oneway.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod client;
mod codec;
mod connection;
mod error;
mod server;

pub use client::{ClientConfig, PushHandler, RemotingClient};
pub use codec::{FrameCodec, FrameError};
pub use connection::ConnectionContext;
pub use error::RemotingError;
pub use server::{
    not_supported, BoxFuture, RemotingServer, RequestProcessor, ServerConfig, DEFAULT_IDLE_TIMEOUT,
    DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_IN_FLIGHT_PER_CONNECTION,
};
