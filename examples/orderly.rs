//! Orderly consumption of ExampleOrders: each queue locked on its broker and consumed one
//! message at a time, in order, until Ctrl-C.
//!
//!     cargo run --example orderly

use ferrumq::client::{ConsumeResult, PushConsumer};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let namesrv = std::env::var("NAMESRV_ADDR").unwrap_or_else(|_| "127.0.0.1:9876".into());
    let consumer = PushConsumer::builder(&namesrv)
        .group("example-orderly")
        .subscribe("ExampleOrders", "*")
        .orderly()
        .start(|m| async move {
            println!(
                "queue {} offset {}: {}",
                m.queue.queue_id,
                m.queue_offset,
                String::from_utf8_lossy(&m.body)
            );
            ConsumeResult::Success
        })
        .await?;
    tokio::signal::ctrl_c().await?;
    consumer.shutdown().await;
    Ok(())
}
