//! Sends ten messages to the quick-start servers and prints where each was stored.
//!
//!     cargo run --example producer            # NameServer at 127.0.0.1:9876
//!     NAMESRV_ADDR=host:9876 cargo run --example producer

use ferrumq::client::{Message, Producer};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let namesrv = std::env::var("NAMESRV_ADDR").unwrap_or_else(|_| "127.0.0.1:9876".into());
    let producer = Producer::builder(&namesrv)
        .group("example-producer")
        .build()?;
    for i in 0..10 {
        let msg = Message::new("ExampleTopic", format!("hello {i}"))
            .with_tags("TagA")
            .with_keys([format!("order-{i}")]);
        let sent = producer.send(msg).await?;
        println!(
            "{} -> {} queue {} offset {}",
            sent.msg_id, sent.queue.broker_name, sent.queue.queue_id, sent.queue_offset
        );
    }
    Ok(())
}
