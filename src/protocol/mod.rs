//! RocketMQ 4.x remoting protocol: frames, commands, codes, headers, bodies.
//!
//! No tokio here: everything is plain bytes in, typed values out. Facts follow
//! `shared/docs/rocketmq-wire.md` §1–§4.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod binary_header;
pub mod body;
mod codes;
mod command;
mod error;
mod ext_fields;
pub mod header;
mod json_header;
mod json_scan;
pub mod lenient;
pub mod properties;
mod zlib;

pub use body::*;
pub use codes::{RequestCode, ResponseCode};
pub use command::{
    LanguageCode, RemotingCommand, SerializeType, CURRENT_VERSION, DEFAULT_MAX_FRAME_BYTES,
    FLAG_ONEWAY, FLAG_RESPONSE,
};
pub use error::{BodyError, HeaderError, ProtocolError};
pub use ext_fields::ExtFields;
pub use header::*;
pub use zlib::inflate_bounded;
