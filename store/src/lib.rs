//! FerrumQ storage engine: the shared CommitLog, ConsumeQueues, dispatcher, flush, recovery,
//! index and retention. See `store/DESIGN.md` for the byte layouts and invariants.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![warn(missing_docs)]

pub mod config;
pub mod error;
pub mod message;
mod store;
mod waiter;

pub use config::{FlushDiskType, StoreConfig};
pub use error::{RecordError, StoreError};
pub use message::{
    decode_offset_msg_id, decode_record, encode_properties, java_string_hash, offset_msg_id,
    parse_properties, tag_code, BatchEntry, BatchToStore, DecodedRecord, MessageToStore,
    PutResult, PutStatus,
};
pub use store::{GetMessageResult, GetMessageStatus, MessageStore, QueryMessageResult};
pub use waiter::FlushWaiter;
