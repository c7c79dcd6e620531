//! Reads every queue of a topic once from the group's committed offsets, prints what it
//! finds and commits the new positions.
//!
//!     cargo run --example pull               # NameServer at 127.0.0.1:9876, ExampleTopic

use std::time::Duration;

use ferrumq::client::PullConsumer;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let namesrv = std::env::var("NAMESRV_ADDR").unwrap_or_else(|_| "127.0.0.1:9876".into());
    let consumer = PullConsumer::builder(&namesrv)
        .group("example-pull")
        .build()?;
    let queues = consumer.queues("ExampleTopic").await?;
    consumer.assign(queues).await?;
    loop {
        let batch = consumer.poll(Duration::from_secs(1)).await?;
        if batch.is_empty() {
            break;
        }
        for m in batch {
            println!(
                "{} queue {} offset {}: {}",
                m.msg_id,
                m.queue.queue_id,
                m.queue_offset,
                String::from_utf8_lossy(&m.body)
            );
        }
    }
    consumer.commit().await?;
    Ok(())
}
