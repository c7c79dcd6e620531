//! A transactional send: the half message is stored, the local transaction runs, then the
//! message is committed; the checker answers the broker's check-backs.
//!
//!     cargo run --example transaction

use ferrumq::client::{Message, Producer, TransactionState};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let namesrv = std::env::var("NAMESRV_ADDR").unwrap_or_else(|_| "127.0.0.1:9876".into());
    let producer = Producer::builder(&namesrv)
        .group("example-tx")
        .build_transactional(|m| {
            println!("broker asks about {}", m.msg_id);
            TransactionState::Commit
        })?;
    let (sent, state) = producer
        .send_in_transaction(Message::new("ExampleTopic", "paid order 42"), |r| {
            println!("local transaction for {}", r.msg_id);
            TransactionState::Commit
        })
        .await?;
    println!("{} {:?}", sent.msg_id, state);
    Ok(())
}
