//! SEND_REPLY_MESSAGE (324) / SEND_REPLY_MESSAGE_V2 (325): the reply of a request-reply
//! exchange (wire doc §7.10). The broker pushes it to the requester's connection, found by
//! the REPLY_TO_CLIENT client id among producer heartbeats, with PUSH_REPLY_MESSAGE_TO_CLIENT
//! (326), and stores it on its `<cluster>_REPLY_TOPIC` topic as RocketMQ does
//! (`storeReplyMessageEnable`, default true).

use std::sync::Arc;
use std::time::Duration;

use ferrumq_store::{encode_properties, MessageToStore};

use super::send::{
    append, check_body_size, check_broker, decode_header, final_properties, random_queue,
    resolve_topic, SendHeader,
};
use super::{Reject, Reply};
use crate::broker::topic_config::now_ms;
use crate::broker::BrokerInner;
use crate::protocol::{RemotingCommand, RequestCode};
use crate::remoting::ConnectionContext;

/// How long the requester may take to accept a pushed reply (RocketMQ's callClient).
const PUSH_TIMEOUT: Duration = Duration::from_secs(10);

pub async fn process(
    inner: &Arc<BrokerInner>,
    ctx: &ConnectionContext,
    req: &RemotingCommand,
) -> Reply {
    let mut h = decode_header(req)?;
    check_broker(inner)?;
    let topic = resolve_topic(inner, &mut h, req.version).await?;
    if h.queue_id < 0 {
        h.queue_id = random_queue(topic.write_queue_nums);
    }
    check_body_size(inner, req.body.len())?;
    let (mut props, _) = final_properties(inner, &h.properties);
    let requester = props
        .iter()
        .find(|(k, _)| k == "REPLY_TO_CLIENT")
        .map(|(_, v)| v.clone())
        .ok_or_else(|| Reject::system("reply message properties[REPLY_TO_CLIENT] is null"))?;
    let channel = inner.producers.find_channel(&requester).ok_or_else(|| {
        Reject::system(format!(
            "push reply message fail, channel of <{requester}> not found."
        ))
    })?;
    props.push(("PUSH_REPLY_TIME".to_string(), now_ms().to_string()));
    let properties = encode_properties(&props);
    let push = push_request(inner, ctx, &h, &properties, req);
    match channel.invoke(push, PUSH_TIMEOUT).await {
        Ok(r) if r.code == 0 => {}
        Ok(r) => {
            return Err(Reject::system(format!(
                "push reply message to {requester} return code: {}, remark: {}",
                r.code,
                r.remark.unwrap_or_default()
            )))
        }
        Err(e) => {
            return Err(Reject::system(format!(
                "push reply message to {requester} fail: {e}"
            )))
        }
    }
    let msg = MessageToStore {
        topic: h.topic.clone(),
        queue_id: h.queue_id,
        flag: h.flag,
        body: req.body.clone(),
        properties,
        sys_flag: h.sys_flag,
        born_timestamp_ms: h.born_timestamp_ms,
        born_host: ctx.peer,
        store_host: inner.store_host(),
        reconsume_times: h.reconsume_times,
        prepared_transaction_offset: 0,
        store_timestamp_ms: None,
    };
    // The reply has reached the requester; storing it is for tracing and queries, so a
    // store failure is logged rather than turned into a failed reply (RocketMQ does the same).
    let (msg_id, queue_offset) = match append(inner, false, |s| s.put_message(msg)).await {
        Ok((r, _)) => (r.msg_ids.join(","), r.queue_offset),
        Err(e) => {
            tracing::warn!(topic = %h.topic, remark = %e.remark, "reply pushed but not stored");
            ("0".to_string(), 0)
        }
    };
    Ok(super::success(
        req,
        &[
            ("msgId", msg_id),
            ("queueId", h.queue_id.to_string()),
            ("queueOffset", queue_offset.to_string()),
            ("MSG_REGION", inner.config.region_id.clone()),
            ("TRACE_ON", inner.config.trace_on.to_string()),
        ],
    ))
}

/// PUSH_REPLY_MESSAGE_TO_CLIENT: ReplyMessageRequestHeader (the send header's fields by their
/// long names, plus bornHost, storeHost, storeTimestamp); body = the reply's body.
fn push_request(
    inner: &BrokerInner,
    ctx: &ConnectionContext,
    h: &SendHeader,
    properties: &str,
    req: &RemotingCommand,
) -> RemotingCommand {
    let fields = [
        ("producerGroup", h.producer_group.clone()),
        ("topic", h.topic.clone()),
        ("defaultTopic", h.default_topic.clone()),
        (
            "defaultTopicQueueNums",
            h.default_topic_queue_nums.to_string(),
        ),
        ("queueId", h.queue_id.to_string()),
        ("sysFlag", h.sys_flag.to_string()),
        ("bornTimestamp", h.born_timestamp_ms.to_string()),
        ("flag", h.flag.to_string()),
        ("properties", properties.to_string()),
        ("reconsumeTimes", h.reconsume_times.to_string()),
        ("unitMode", "false".to_string()),
        ("bornHost", ctx.peer.to_string()),
        ("storeHost", inner.store_host().to_string()),
        ("storeTimestamp", now_ms().to_string()),
    ];
    let ext = fields
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    RemotingCommand::new_request(RequestCode::PushReplyMessageToClient, ext)
        .with_body(req.body.clone())
}
