//! A slave copies its master's tables every 10 s (first as soon as the master is known):
//! topics (GET_ALL_TOPIC_CONFIG), consumer offsets (GET_ALL_CONSUMER_OFFSET), delay-level
//! offsets (GET_ALL_DELAY_OFFSET) and subscription groups (GET_ALL_SUBSCRIPTIONGROUP_CONFIG),
//! and persists them, so it can serve reads and take over with them.

use std::sync::Arc;
use std::time::Duration;

use crate::broker::topic_config::TopicConfigSerializeWrapper;
use crate::broker::BrokerInner;
use crate::protocol::{ExtFields, RemotingCommand, RequestCode, ResponseCode};

/// How often the tables are copied (RocketMQ: 10 s).
pub const SYNC_EVERY: Duration = Duration::from_secs(10);
const CALL_TIMEOUT: Duration = Duration::from_secs(3);

/// One round of copies from the master at `master` (its remoting address). Each table is
/// copied on its own: one failure does not keep the others stale.
pub async fn sync_once(inner: &Arc<BrokerInner>, master: &str) {
    let call = |code: RequestCode| async move {
        let req = RemotingCommand::new_request(code, ExtFields::new());
        match inner.namesrv_client.invoke(master, req, CALL_TIMEOUT).await {
            Ok(resp) if resp.response_code() == ResponseCode::Success => Some(resp.body),
            Ok(resp) => {
                tracing::warn!(%master, ?code, remark = ?resp.remark, "master refused a table copy");
                None
            }
            Err(e) => {
                tracing::debug!(%master, ?code, error = %e, "table copy failed");
                None
            }
        }
    };
    if let Some(body) = call(RequestCode::GetAllTopicConfig).await {
        match serde_json::from_slice::<TopicConfigSerializeWrapper>(&body) {
            Ok(table) => {
                inner.topics.mirror(table);
            }
            Err(e) => tracing::warn!(error = %e, "master's topic table unreadable"),
        }
    }
    if let Some(body) = call(RequestCode::GetAllConsumerOffset).await {
        if let Err(e) = inner.offsets.mirror(&body) {
            tracing::warn!(error = %e, "master's consumer offsets unreadable");
        }
    }
    if let Some(body) = call(RequestCode::GetAllDelayOffset).await {
        if let Err(e) = inner.schedule.mirror(&body) {
            tracing::warn!(error = %e, "master's delay offsets unreadable");
        }
    }
    if let Some(body) = call(RequestCode::GetAllSubscriptionGroupConfig).await {
        if let Err(e) = inner.groups.mirror(&body) {
            tracing::warn!(error = %e, "master's subscription groups unreadable");
        }
    }
    // Written off the runtime's threads.
    let i = inner.clone();
    let written = tokio::task::spawn_blocking(move || {
        i.topics.persist_if_dirty();
        let results = [
            i.offsets.persist(),
            i.schedule.persist(),
            i.groups.persist(),
        ];
        results.into_iter().find_map(Result::err)
    })
    .await;
    match written {
        Ok(Some(e)) => tracing::warn!(error = %e, "copied tables not written"),
        Err(e) => tracing::warn!(error = %e, "table write task failed"),
        Ok(None) => {}
    }
}
