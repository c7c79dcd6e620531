//! Message lookups: queryMsgById, queryMsgByKey, queryMsgByUniqueKey, queryMsgByOffset.

use clap::Args;
use serde_json::json;

use super::detail::{print_tracks, Detail};
use super::{fail, java_bool, print_json, Common, Run};
use crate::client::{Admin, Message, MessageQueue, Producer};

/// The track rows of a message: (group, track type, exception description or `null`).
macro_rules! track_rows {
    ($admin:expr, $m:expr) => {
        $admin
            .message_tracks($m)
            .await
            .map_err(|e| fail("tracks", e))?
            .into_iter()
            .map(|t| {
                let desc = t.exception_desc.unwrap_or_else(|| "null".into());
                (t.consumer_group, t.track_type.to_string(), desc)
            })
            .collect::<Vec<(String, String, String)>>()
    };
}

/// The JSON document of one message with its tracks.
fn detail_json(d: &Detail, tracks: &[(String, String, String)]) -> serde_json::Value {
    let mut v = d.to_json();
    let t: Vec<_> = tracks
        .iter()
        .map(|(g, k, e)| json!({"consumerGroup": g, "trackType": k, "exceptionDesc": e}))
        .collect();
    v["tracks"] = t.into();
    v
}

#[derive(Args, Debug)]
pub struct QueryMsgById {
    #[command(flatten)]
    common: Common,
    /// Message Id (the offset id; several separated by commas)
    #[arg(short = 'i', long = "msgId")]
    msg_id: String,
    /// consumer group name
    #[arg(short = 'g', long = "consumerGroup", requires = "client_id")]
    group: Option<String>,
    /// The consumer's client id
    #[arg(short = 'd', long = "clientId", requires = "group")]
    client_id: Option<String>,
    /// resend message
    #[arg(short = 's', long = "sendMessage", action = clap::ArgAction::Set, value_parser = java_bool, default_value = "false")]
    resend: bool,
    /// unit name
    #[arg(short = 'u', long = "unitName")]
    unit: Option<String>,
    /// one JSON document instead of the detail block
    #[arg(long)]
    json: bool,
}

impl Run for QueryMsgById {
    async fn run(self) -> Result<(), String> {
        let admin = self.common.admin()?;
        let mut docs = Vec::new();
        for id in self
            .msg_id
            .split(',')
            .map(str::trim)
            .filter(|i| !i.is_empty())
        {
            let m = admin
                .view_message(id)
                .await
                .map_err(|e| fail(format!("query message {id}"), e))?;
            if let (Some(g), Some(c)) = (&self.group, &self.client_id) {
                let r = admin
                    .consume_message_directly(g, c, &m)
                    .await
                    .map_err(|e| fail(format!("consume {id} directly at {c}"), e))?;
                println!("{}", consume_result_string(&r));
                continue;
            }
            if self.resend {
                resend(&self.common, m).await?;
                continue;
            }
            let tracks = track_rows!(admin, &m);
            if self.json {
                docs.push(detail_json(&m, &tracks));
                continue;
            }
            m.print_block(true, &m.msg_id)?;
            print_tracks(&tracks);
        }
        if self.json {
            print_json(&json!({ "messages": docs }));
        }
        Ok(())
    }
}

/// ConsumeMessageDirectlyResult.toString.
fn consume_result_string(r: &serde_json::Value) -> String {
    let f = |k: &str| match &r[k] {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "null".into(),
        v => v.to_string(),
    };
    format!(
        "ConsumeMessageDirectlyResult [order={}, autoCommit={}, consumeResult={}, remark={}, spentTimeMills={}]",
        f("order"),
        f("autoCommit"),
        f("consumeResult"),
        f("remark"),
        f("spentTimeMills")
    )
}

/// Sends a stored message again (producer group ReSendMsgById): same topic, body, tags,
/// keys and user properties.
async fn resend(common: &Common, d: Detail) -> Result<(), String> {
    let producer = Producer::builder(&common.addr()?)
        .group("ReSendMsgById")
        .build()
        .map_err(|e| fail("producer", e))?;
    let mut msg = Message::new(d.topic.clone(), d.body.clone()).with_flag(d.flag);
    const CLIENT_SET: [&str; 8] = [
        "UNIQ_KEY",
        "WAIT",
        "TRAN_MSG",
        "PGROUP",
        "MIN_OFFSET",
        "MAX_OFFSET",
        "CLUSTER",
        "REAL_TOPIC",
    ];
    for (k, v) in &d.properties {
        msg = match k.as_str() {
            "TAGS" => msg.with_tags(v.clone()),
            "KEYS" => msg.with_keys(v.split(' ')),
            k if CLIENT_SET.contains(&k) || k == "REAL_QID" || k == "DELAY" => msg,
            _ => msg.with_property(k.clone(), v.clone()),
        };
    }
    print!("prepare resend msg. originalMsgId={}", d.offset_msg_id);
    let r = producer
        .send(msg)
        .await
        .map_err(|e| fail(format!("resend {}", d.offset_msg_id), e))?;
    println!(
        "SendResult [sendStatus={}, msgId={}, offsetMsgId={}, messageQueue={}, queueOffset={}]",
        super::send::status_name(r.status),
        r.msg_id,
        r.offset_msg_id,
        super::table::queue_string(&r.queue),
        r.queue_offset
    );
    Ok(())
}

#[derive(Args, Debug)]
pub struct QueryMsgByKey {
    #[command(flatten)]
    common: Common,
    /// Topic name
    #[arg(short = 't', long = "topic")]
    topic: String,
    /// Message Key
    #[arg(short = 'k', long = "msgKey")]
    key: String,
    /// begin timestamp(ms), default 0
    #[arg(short = 'b', long = "beginTimestamp", default_value_t = 0)]
    begin: i64,
    /// end timestamp(ms), default Long.MAX
    #[arg(short = 'e', long = "endTimestamp", default_value_t = i64::MAX)]
    end: i64,
    /// The maximum number of messages returned by the query, default 64
    #[arg(short = 'm', long = "maxNum", default_value_t = 64)]
    max: i32,
    /// one JSON document instead of the table
    #[arg(long)]
    json: bool,
}

impl Run for QueryMsgByKey {
    async fn run(self) -> Result<(), String> {
        let (topic, key) = (self.topic.trim(), self.key.trim());
        let found = self
            .common
            .admin()?
            .query_messages(topic, key, false, self.max, (self.begin, self.end))
            .await
            .map_err(|e| fail(format!("query key {key} in {topic}"), e))?;
        if found.is_empty() {
            return Err(format!(
                "query key {key} in {topic}: NO_MESSAGE (208) query message by key finished, but no message."
            ));
        }
        if self.json {
            let rows: Vec<_> = found
                .iter()
                .map(
                    |m| json!({"msgId": m.msg_id, "queueId": m.queue_id, "offset": m.queue_offset}),
                )
                .collect();
            print_json(&json!({ "messages": rows }));
            return Ok(());
        }
        println!("{:<50} {:>4} {:>40}", "#Message ID", "#QID", "#Offset");
        for m in &found {
            println!("{:<50} {:>4} {:>40}", m.msg_id, m.queue_id, m.queue_offset);
        }
        Ok(())
    }
}

#[derive(Args, Debug)]
pub struct QueryMsgByUniqueKey {
    #[command(flatten)]
    common: Common,
    /// Message Id (the unique key)
    #[arg(short = 'i', long = "msgId")]
    msg_id: String,
    /// The topic of msg
    #[arg(short = 't', long = "topic")]
    topic: String,
    /// consumer group name
    #[arg(short = 'g', long = "consumerGroup", requires = "client_id")]
    group: Option<String>,
    /// The consumer's client id
    #[arg(short = 'd', long = "clientId", requires = "group")]
    client_id: Option<String>,
    /// Print all message, the number of message is limited to 32
    #[arg(short = 'a', long = "showAll")]
    show_all: bool,
    /// one JSON document instead of the detail block
    #[arg(long)]
    json: bool,
}

impl Run for QueryMsgByUniqueKey {
    async fn run(self) -> Result<(), String> {
        let admin = self.common.admin()?;
        let (topic, id) = (self.topic.trim(), self.msg_id.trim());
        let mut found = admin
            .query_messages(topic, id, true, 32, (0, i64::MAX))
            .await
            .map_err(|e| fail(format!("query unique key {id} in {topic}"), e))?;
        // The earliest stored copy only, as Apache's tool (a resent id may match twice).
        found.sort_by_key(|m| m.store_timestamp_ms);
        found.truncate(1);
        let Some(m) = found.pop() else {
            return Err(format!(
                "query unique key {id} in {topic}: NO_MESSAGE (208) query message by key finished, but no message."
            ));
        };
        if let (Some(g), Some(c)) = (&self.group, &self.client_id) {
            let r = admin
                .consume_message_directly(g, c, &m)
                .await
                .map_err(|e| fail(format!("consume {id} directly at {c}"), e))?;
            println!("{}", consume_result_string(&r));
            return Ok(());
        }
        let tracks = track_rows!(admin, &m);
        show_one(&m, &tracks, self.json, false, id)
    }
}

#[derive(Args, Debug)]
pub struct QueryMsgByOffset {
    #[command(flatten)]
    common: Common,
    /// topic name
    #[arg(short = 't', long = "topic")]
    topic: String,
    /// Broker Name
    #[arg(short = 'b', long = "brokerName")]
    broker: String,
    /// Queue Id
    #[arg(short = 'i', long = "queueId")]
    queue_id: i32,
    /// Queue Offset
    #[arg(short = 'o', long = "offset")]
    offset: i64,
    /// one JSON document instead of the detail block
    #[arg(long)]
    json: bool,
}

impl Run for QueryMsgByOffset {
    async fn run(self) -> Result<(), String> {
        let admin = self.common.admin()?;
        let queue = MessageQueue {
            topic: self.topic.trim().to_string(),
            broker_name: self.broker.trim().to_string(),
            queue_id: self.queue_id,
        };
        let what = format!(
            "message {} of {}",
            self.offset,
            super::table::queue_string(&queue)
        );
        let addr = broker_addr(&admin, &queue).await?;
        let pulled = admin
            .pull(
                &addr,
                super::scan::TOOLS_CONSUMER,
                &queue,
                self.offset,
                1,
                "*",
            )
            .await
            .map_err(|e| fail(&what, e))?;
        let Some(m) = pulled.messages.into_iter().next() else {
            return Err(format!("{what}: {}", pulled.status));
        };
        let tracks = track_rows!(admin, &m);
        show_one(&m, &tracks, self.json, true, &m.msg_id)
    }
}

/// One looked-up message: a `{"messages": [..]}` document with `json`, else its detail
/// block and track section.
fn show_one(
    m: &Detail,
    tracks: &[(String, String, String)],
    json: bool,
    with_offset_id: bool,
    body_name: &str,
) -> Result<(), String> {
    if json {
        print_json(&json!({ "messages": [detail_json(m, tracks)] }));
        return Ok(());
    }
    m.print_block(with_offset_id, body_name)?;
    print_tracks(tracks);
    Ok(())
}

/// The address of a queue's broker in the topic's route (master, else a slave).
pub async fn broker_addr(admin: &Admin, queue: &MessageQueue) -> Result<String, String> {
    let brokers = admin
        .route_brokers(&queue.topic)
        .await
        .map_err(|e| fail(format!("route of {}", queue.topic), e))?;
    brokers.get(&queue.broker_name).cloned().ok_or_else(|| {
        format!(
            "route of {}: no broker named {} in it",
            queue.topic, queue.broker_name
        )
    })
}
