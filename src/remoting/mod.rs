//! tokio networking on the remoting protocol.
