//! FerrumQ: a RocketMQ-compatible message queue server.

pub mod admin_cli;
pub mod bench;
pub mod broker;
#[warn(missing_docs)]
pub mod client;
pub mod config_file;
pub mod logging;
pub mod namesrv;
pub mod protocol;
pub mod remoting;
pub mod signal;
pub mod sql92;
