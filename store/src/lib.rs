//! FerrumQ storage engine: the shared CommitLog, ConsumeQueues, dispatcher, flush, recovery,
//! index and retention. See `store/DESIGN.md` for the byte layouts and invariants.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![warn(missing_docs)]
#![cfg_attr(
    test,
    allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

mod alloc;
mod checkpoint;
mod commitlog;
pub mod config;
mod consume_queue;
pub mod disk;
mod dispatch;
mod epoch;
pub mod error;
mod fences;
mod flush;
mod get;
mod index;
mod mapped_file;
pub mod message;
mod put;
mod recovery;
mod replica;
pub mod retention;
mod store;
mod threads;
mod waiter;

pub use config::{DiskFullPolicy, FlushDiskType, RecoverCorruptPolicy, StoreConfig};
pub use epoch::{common_end, Epoch};
pub use error::{RecordError, StoreError};
pub use get::RecordFilter;
pub use index::civil_from_days;
pub use message::{
    decode_offset_msg_id, decode_record, encode_properties, java_string_hash, offset_msg_id,
    parse_properties, tag_code, with_destination, BatchEntry, BatchToStore, DecodedRecord,
    MessageToStore, PutResult, PutStatus,
};
pub use put::{MAX_BATCH_RECORDS, MAX_QUEUE_ID};
pub use retention::{RetentionProbe, RetentionReport, SystemProbe};
pub use store::{
    AppendListener, ArrivalListener, GetMessageResult, GetMessageStatus, MessageStore,
    QueryMessageResult,
};
pub use waiter::FlushWaiter;
