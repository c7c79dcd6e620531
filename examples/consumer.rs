//! Consumes ExampleTopic as group example-push until Ctrl-C, printing each message.
//!
//!     cargo run --example consumer           # NameServer at 127.0.0.1:9876

use ferrumq::client::{ConsumeResult, PushConsumer};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let namesrv = std::env::var("NAMESRV_ADDR").unwrap_or_else(|_| "127.0.0.1:9876".into());
    let consumer = PushConsumer::builder(&namesrv)
        .group("example-push")
        .subscribe("ExampleTopic", "*")
        .start(|m| async move {
            println!("{} {}", m.msg_id, String::from_utf8_lossy(&m.body));
            ConsumeResult::Success
        })
        .await?;
    tokio::signal::ctrl_c().await?;
    consumer.shutdown().await;
    Ok(())
}
