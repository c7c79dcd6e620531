//! Typed errors of the protocol layer.

use thiserror::Error;

/// A frame or command header that cannot be decoded.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtocolError {
    /// Fewer bytes than the fixed parts need.
    #[error("frame truncated: need {need} bytes, have {have}")]
    Truncated { need: usize, have: usize },
    /// The length word is 0, negative or smaller than the header-length word.
    #[error("invalid frame length {0}")]
    InvalidLength(i64),
    /// The frame is larger than the configured maximum.
    #[error("frame of {len} bytes exceeds the limit of {max} bytes")]
    FrameTooLarge { len: usize, max: usize },
    /// The header length word points past the end of the frame.
    #[error("header length {header_len} exceeds frame body of {available} bytes")]
    HeaderTooLong { header_len: usize, available: usize },
    /// The high byte of the header-length word is neither JSON (0) nor ROCKETMQ (1).
    #[error("unknown serialize type {0}")]
    UnknownSerializeType(u8),
    /// The JSON header is not valid JSON or lacks a required field.
    #[error("invalid JSON header: {0}")]
    InvalidJson(String),
    /// The binary (ROCKETMQ) header is malformed.
    #[error("invalid ROCKETMQ header: {0}")]
    InvalidBinary(String),
}

/// A custom header field that is missing or cannot be parsed.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HeaderError {
    /// A required (`@CFNotNull`) field is absent; the text mirrors Java's.
    #[error("the custom field <{0}> is null")]
    Missing(&'static str),
    /// A field is present but does not parse as its type.
    #[error("invalid value for field <{field}>: {value:?}")]
    Invalid { field: &'static str, value: String },
}

/// A JSON body that cannot be decoded.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BodyError {
    #[error("invalid JSON body: {0}")]
    Json(String),
    #[error("invalid compressed body: {0}")]
    Compressed(String),
    #[error("empty body")]
    Empty,
}

impl From<serde_json::Error> for BodyError {
    fn from(e: serde_json::Error) -> Self {
        BodyError::Json(e.to_string())
    }
}
