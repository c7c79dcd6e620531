//! FerrumQ: a RocketMQ-compatible message queue server.

pub mod protocol;
