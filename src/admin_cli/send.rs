//! Sending subcommands: sendMessage.

use clap::Args;

use super::{fail, Common, Run};
use crate::client::{Message, MessageQueue, Producer, SendStatus};

/// RocketMQ's SendStatus names.
pub fn status_name(s: SendStatus) -> &'static str {
    match s {
        SendStatus::SendOk => "SEND_OK",
        SendStatus::FlushDiskTimeout => "FLUSH_DISK_TIMEOUT",
        SendStatus::FlushSlaveTimeout => "FLUSH_SLAVE_TIMEOUT",
        SendStatus::SlaveNotAvailable => "SLAVE_NOT_AVAILABLE",
    }
}

/// A producer in a group named after the current time, as Apache's tool makes one.
pub fn tool_producer(common: &Common) -> Result<Producer, String> {
    Producer::builder(&common.addr()?)
        .group(super::table::now_ms().to_string())
        .build()
        .map_err(|e| fail("producer", e))
}

/// `"%-32s  %-4s  %-20s    %s%n"`, the layout of sendMessage and checkMsgSendRT.
pub fn send_row(broker: &str, qid: &str, result: &str, last: &str) {
    println!("{broker:<32}  {qid:<4}  {result:<20}    {last}");
}

#[derive(Args, Debug)]
pub struct SendMessage {
    #[command(flatten)]
    common: Common,
    /// Topic name
    #[arg(short = 't', long = "topic")]
    topic: String,
    /// UTF-8 string format of the message body
    #[arg(short = 'p', long = "body")]
    body: String,
    /// Message keys
    #[arg(short = 'k', long = "key")]
    key: Option<String>,
    /// Message tags
    #[arg(short = 'c', long = "tags")]
    tags: Option<String>,
    /// Send message to target broker
    #[arg(short = 'b', long = "broker")]
    broker: Option<String>,
    /// Send message to target queue
    #[arg(short = 'i', long = "qid")]
    qid: Option<i32>,
    /// Message Trace Enable (accepted; FerrumQ's producer sends no trace)
    #[arg(short = 'm', long = "msgTraceEnable", action = clap::ArgAction::Set, value_parser = super::java_bool, default_value = "false")]
    trace: bool,
}

impl Run for SendMessage {
    async fn run(self) -> Result<(), String> {
        let topic = self.topic.trim();
        if self.qid.is_some() && self.broker.is_none() {
            return Err("sendMessage: Broker name must be set if the queue is chosen!".into());
        }
        let _ = self.trace;
        let producer = tool_producer(&self.common)?;
        let mut msg = Message::new(topic, self.body.clone().into_bytes());
        if let Some(k) = &self.key {
            msg = msg.with_keys([k]);
        }
        if let Some(t) = &self.tags {
            msg = msg.with_tags(t.clone());
        }
        let sent = match (&self.broker, self.qid) {
            (Some(b), Some(q)) => {
                let queue = MessageQueue {
                    topic: topic.to_string(),
                    broker_name: b.clone(),
                    queue_id: q,
                };
                producer.send_to_queue(msg, &queue).await
            }
            _ => producer.send(msg).await,
        }
        .map_err(|e| fail(format!("send to {topic}"), e))?;
        send_row("#Broker Name", "#QID", "#Send Result", "#MsgId");
        send_row(
            &sent.queue.broker_name,
            &sent.queue.queue_id.to_string(),
            status_name(sent.status),
            &sent.msg_id,
        );
        Ok(())
    }
}
