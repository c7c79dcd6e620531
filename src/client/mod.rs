//! FerrumQ's Rust client: async, typed, over RocketMQ's remoting protocol, so it works
//! against FerrumQ and Apache RocketMQ brokers alike and shares consumer groups with the
//! official clients. [`Producer`] (retries on another broker, latency fault tolerance,
//! per-key ordering, batches, delay levels and 5.x delivery times), [`TransactionProducer`],
//! [`PushConsumer`] (clustering, broadcasting, orderly; tag or SQL92 subscriptions; flow
//! control), [`PullConsumer`] (lite pull: assign or subscribe), [`Admin`] and
//! [`IdempotentWindow`]. Every send, pull, handled message and round trip opens a `tracing`
//! span.
//!
//! ```no_run
//! # async fn demo() -> Result<(), ferrumq::client::ClientError> {
//! use ferrumq::client::{Message, Producer};
//! let producer = Producer::builder("127.0.0.1:9876").group("orders").build()?;
//! let sent = producer
//!     .send(Message::new("Orders", "order 42").with_tags("created").with_keys(["42"]))
//!     .await?;
//! println!("{} at {:?} offset {}", sent.msg_id, sent.queue, sent.queue_offset);
//! # Ok(()) }
//! ```

mod admin;
mod error;
mod fault;
mod group;
mod idempotent;
mod message;
mod msg_id;
mod producer;
mod pull_consumer;
mod push_consumer;
mod route;
mod transaction;

pub use admin::{Admin, MessageDetail, MessageTrack, PullOutcome, QueueProgress};
pub use error::ClientError;
pub use group::allocate_averagely;
pub use idempotent::IdempotentWindow;
pub use message::{Message, MessageQueue, SendResult, SendStatus};
pub(crate) use msg_id::new_id as new_msg_id;
pub use producer::{Producer, ProducerBuilder};
pub use pull_consumer::{PullConsumer, PullConsumerBuilder, ReceivedMessage};
pub use push_consumer::{ConsumeResult, PushConsumer, PushConsumerBuilder};
pub use transaction::{TransactionProducer, TransactionState};

/// A NameServer address list as RocketMQ writes it (`NAMESRV_ADDR`): `;`-separated.
fn namesrv_list(namesrv: &str) -> Vec<String> {
    namesrv
        .split(';')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(String::from)
        .collect()
}
