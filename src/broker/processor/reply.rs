//! SEND_REPLY_MESSAGE (324) / SEND_REPLY_MESSAGE_V2 (325): the reply of a request-reply
//! exchange (wire doc §7.10). The broker pushes it to the requester's connection, found by
//! the REPLY_TO_CLIENT client id among producer heartbeats, with PUSH_REPLY_MESSAGE_TO_CLIENT
//! (326), and stores it on its `<cluster>_REPLY_TOPIC` topic as RocketMQ does
//! (`storeReplyMessageEnable`, default true).

use std::sync::Arc;
use std::time::Duration;

use ferrumq_store::{encode_properties, MessageToStore};

use super::send::{append, check_body_size, final_properties, prepare, send_ok, SendHeader};
use super::{Reject, Reply};
use crate::broker::topic_config::now_ms;
use crate::broker::BrokerInner;
use crate::protocol::{RemotingCommand, RequestCode};
use crate::remoting::ConnectionContext;

/// How long the requester may take to accept a pushed reply. Under the replier's own send
/// timeout (3 s in the Java client): a push still pending when the replier gives up would be
/// pushed again by its retry.
const PUSH_TIMEOUT: Duration = Duration::from_secs(2);

pub async fn process(
    inner: &Arc<BrokerInner>,
    ctx: &ConnectionContext,
    req: &RemotingCommand,
) -> Reply {
    let (h, _) = prepare(inner, req).await?;
    check_body_size(inner, req.body.len())?;
    let (mut props, _) = final_properties(&inner.config, h.properties);
    props.push(("PUSH_REPLY_TIME".to_string(), now_ms().to_string()));
    let properties = encode_properties(&props);
    let pushed = push(inner, ctx, &h, &properties, req, &props).await;
    // Stored whether or not the push worked, as RocketMQ does: the reply topic is where an
    // operator looks for a reply the requester says it never got.
    let (msg_id, queue_offset) = store(inner, ctx, &h, properties, req).await;
    pushed?;
    Ok(send_ok(inner, req, msg_id, h.queue_id, queue_offset))
}

/// Pushes the reply to the connection of the client named in REPLY_TO_CLIENT.
async fn push(
    inner: &BrokerInner,
    ctx: &ConnectionContext,
    h: &SendHeader<'_>,
    properties: &str,
    req: &RemotingCommand,
    props: &[(String, String)],
) -> Result<(), Reject> {
    let requester = props
        .iter()
        .find(|(k, _)| k == "REPLY_TO_CLIENT")
        .map(|(_, v)| v.as_str())
        .ok_or_else(|| Reject::system("reply message properties[REPLY_TO_CLIENT] is null"))?;
    let channel = inner.producers.find_channel(requester).ok_or_else(|| {
        Reject::system(format!(
            "push reply message fail, channel of <{requester}> not found."
        ))
    })?;
    let push = push_request(inner, ctx, h, properties, req);
    match channel.invoke(push, PUSH_TIMEOUT).await {
        Ok(r) if r.code == 0 => Ok(()),
        Ok(r) => Err(Reject::system(format!(
            "push reply message to {requester} return code: {}, remark: {}",
            r.code,
            r.remark.unwrap_or_default()
        ))),
        Err(e) => Err(Reject::system(format!(
            "push reply message to {requester} fail: {e}"
        ))),
    }
}

/// Stores the reply on its topic; (offset msg id, queue offset), or ("0", 0) when the store
/// refused it (logged: the reply itself already went to the requester, or failed there).
async fn store(
    inner: &BrokerInner,
    ctx: &ConnectionContext,
    h: &SendHeader<'_>,
    properties: String,
    req: &RemotingCommand,
) -> (String, i64) {
    let msg = MessageToStore {
        topic: h.topic.to_string(),
        queue_id: h.queue_id,
        flag: h.flag,
        body: req.body.clone(),
        properties,
        sys_flag: h.sys_flag,
        born_timestamp_ms: h.born_timestamp.unwrap_or_else(now_ms),
        born_host: ctx.peer,
        store_host: inner.store_host(),
        reconsume_times: h.reconsume_times,
        prepared_transaction_offset: 0,
        store_timestamp_ms: None,
    };
    match append(inner, false, |s| s.put_message(msg)).await {
        Ok((r, _)) => (r.msg_ids, r.queue_offset),
        Err(e) => {
            tracing::warn!(topic = %h.topic, remark = %e.remark, "reply message not stored");
            ("0".to_string(), 0)
        }
    }
}

/// PUSH_REPLY_MESSAGE_TO_CLIENT: ReplyMessageRequestHeader (the send header's fields by their
/// long names, plus bornHost, storeHost, storeTimestamp); body = the reply's body.
fn push_request(
    inner: &BrokerInner,
    ctx: &ConnectionContext,
    h: &SendHeader<'_>,
    properties: &str,
    req: &RemotingCommand,
) -> RemotingCommand {
    let fields = [
        ("producerGroup", h.producer_group.to_string()),
        ("topic", h.topic.to_string()),
        ("defaultTopic", h.default_topic.to_string()),
        (
            "defaultTopicQueueNums",
            h.default_topic_queue_nums.to_string(),
        ),
        ("queueId", h.queue_id.to_string()),
        ("sysFlag", h.sys_flag.to_string()),
        (
            "bornTimestamp",
            h.born_timestamp.unwrap_or_else(now_ms).to_string(),
        ),
        ("flag", h.flag.to_string()),
        ("properties", properties.to_string()),
        ("reconsumeTimes", h.reconsume_times.to_string()),
        ("unitMode", "false".to_string()),
        ("bornHost", ctx.peer.to_string()),
        ("storeHost", inner.store_host().to_string()),
        ("storeTimestamp", now_ms().to_string()),
    ];
    let ext = fields.into_iter().collect();
    RemotingCommand::new_request(RequestCode::PushReplyMessageToClient, ext)
        .with_body(req.body.clone())
}
