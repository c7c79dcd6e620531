//! CONSUMER_SEND_MSG_BACK (36): a message the consumer failed goes to `%RETRY%<group>`
//! (or `%DLQ%<group>` past the group's retry limit), wire doc §7.5.
//! Retries go through the delay path (level 3 + reconsumeTimes when the client sends 0).

use std::sync::Arc;

use ferrumq_store::{
    decode_record, encode_properties, offset_msg_id, parse_properties, MessageToStore,
};

use super::{success, Reject, Reply};
use crate::broker::stats::Stat;
use crate::broker::topic_config::{DLQ_PREFIX, PERM_WRITE, RETRY_PREFIX};
use crate::broker::{schedule, BrokerInner};
use crate::protocol::{RemotingCommand, ResponseCode};

const TRANSACTION_BITS: i32 = 0xC;

pub async fn process(inner: &Arc<BrokerInner>, req: &RemotingCommand) -> Reply {
    let ext = &req.ext_fields;
    let group = ext.req("group")?;
    let physical_offset: i64 = ext.num("offset")?;
    let delay_level: i32 = ext.opt_num("delayLevel")?.unwrap_or(0);
    let Some((g, _)) = inner.groups.find_or_create(group) else {
        return Err(Reject::new(
            ResponseCode::SubscriptionGroupNotExist,
            format!("subscription group not exist, {group}"),
        ));
    };
    if inner.live.broker_permission() & PERM_WRITE == 0 || inner.config.is_slave() {
        return Err(Reject::new(
            ResponseCode::NoPermission,
            "the broker sending message is forbidden",
        ));
    }
    if g.retry_queue_nums <= 0 {
        return Ok(success(req, []));
    }
    let raw = inner
        .store
        .lookup_message_by_offset(physical_offset)
        .ok_or_else(|| {
            Reject::system(format!("look message by offset failed, {physical_offset}"))
        })?;
    let rec = decode_record(&raw)
        .map_err(|e| Reject::system(format!("stored message unreadable: {e}")))?;
    let max_times = match ext.opt_num::<i32>("maxReconsumeTimes")? {
        Some(m) if req.version >= 121 => m,
        _ => g.retry_max_times,
    };
    let to_dlq = rec.reconsume_times >= max_times || delay_level < 0;
    let (topic, queues) = if to_dlq {
        (format!("{DLQ_PREFIX}{group}"), 1)
    } else {
        (format!("{RETRY_PREFIX}{group}"), g.retry_queue_nums)
    };
    let (t, created) = inner.topics.get_or_create_system(&topic, queues, 6);
    if created {
        super::send::register_now(inner).await;
    }
    let mut props = retry_properties(&rec);
    let mut queue_id = (rec.queue_offset.unsigned_abs() % t.write_queue_nums.max(1) as u64) as i32;
    let mut topic = topic;
    if !to_dlq {
        let level = if delay_level > 0 {
            delay_level
        } else {
            3 + rec.reconsume_times
        };
        props.push(("DELAY".to_string(), level.to_string()));
        let max_level = inner.schedule.max_level();
        schedule::apply_delay(&mut topic, &mut queue_id, &mut props, max_level);
    }
    let msg = MessageToStore {
        topic,
        queue_id,
        flag: rec.flag,
        body: raw.slice_ref(rec.body),
        properties: encode_properties(&props),
        sys_flag: rec.sys_flag & !TRANSACTION_BITS,
        born_timestamp_ms: rec.born_timestamp_ms,
        born_host: rec.born_host,
        store_host: inner.store_host(),
        reconsume_times: rec.reconsume_times.saturating_add(1),
        prepared_transaction_offset: 0,
        store_timestamp_ms: None,
    };
    match inner.store.put_message(msg) {
        Ok((r, _)) if r.status == ferrumq_store::PutStatus::PutOk => {
            let key = format!("{}@{group}", rec.topic);
            inner.stats.add(Stat::SndbckPutNums, &key, 1, 1);
            Ok(success(req, []))
        }
        Ok((r, _)) => Err(Reject::system(format!("{:?}", r.status))),
        Err(e) => Err(Reject::system(e.to_string())),
    }
}

/// The failed message's properties for its retry: RETRY_TOPIC and ORIGIN_MESSAGE_ID kept
/// from an earlier retry or set now; WAIT and DELAY dropped.
fn retry_properties(rec: &ferrumq_store::DecodedRecord<'_>) -> Vec<(String, String)> {
    let mut props = parse_properties(rec.properties);
    if !props.iter().any(|(k, _)| k == "RETRY_TOPIC") {
        props.push(("RETRY_TOPIC".to_string(), rec.topic.to_string()));
    }
    if !props.iter().any(|(k, _)| k == "ORIGIN_MESSAGE_ID") {
        let id = offset_msg_id(rec.store_host, rec.physical_offset);
        props.push(("ORIGIN_MESSAGE_ID".to_string(), id));
    }
    props.retain(|(k, _)| k != "WAIT" && k != "DELAY");
    props
}
