//! FerrumQ's Rust client (issue 12): async, typed, over RocketMQ's remoting protocol, so it
//! works against FerrumQ and Apache RocketMQ brokers alike. So far: the producer (sends with
//! retries on another broker, a broker that failed recently avoided for a while, per-key
//! ordering, batches, delay levels and 5.x delivery times), the transactional producer, the
//! pull consumer (assigned queues, poll, seek, commit), the push consumer (clustering) and
//! the admin API.
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

pub use admin::{Admin, QueueProgress};
pub use error::ClientError;
pub use group::allocate_averagely;
pub use idempotent::IdempotentWindow;
pub use message::{Message, MessageQueue, SendResult, SendStatus};
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
