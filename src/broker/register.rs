//! REGISTER_BROKER / UNREGISTER_BROKER to every NameServer (wire doc §9).

use std::sync::Arc;
use std::time::Duration;

use crate::protocol::{ExtFields, RemotingCommand, RequestCode, ResponseCode};

use super::topic_config::{TopicConfigSerializeWrapper, PERM_READ, PERM_WRITE};
use super::BrokerInner;

/// How long one NameServer may take to answer a registration.
const REGISTER_TIMEOUT: Duration = Duration::from_secs(3);

/// The RegisterBrokerBody: every topic and the table's data version. When the broker
/// itself is not read-write, each topic's perm is capped by the broker permission.
pub fn register_body(inner: &BrokerInner) -> String {
    let mut wrapper: TopicConfigSerializeWrapper = inner.topics.snapshot();
    let broker_perm = inner.live.broker_permission();
    if broker_perm & (PERM_READ | PERM_WRITE) != PERM_READ | PERM_WRITE {
        for t in wrapper.topic_config_table.values_mut() {
            Arc::make_mut(t).perm &= broker_perm;
        }
    }
    let body = serde_json::json!({
        "filterServerList": [],
        "topicConfigSerializeWrapper": wrapper,
    });
    body.to_string()
}

fn common_fields(inner: &BrokerInner) -> ExtFields {
    let cfg = &inner.config;
    let mut ext = ExtFields::with_capacity(7);
    ext.insert("brokerName", &cfg.broker_name);
    ext.insert("brokerAddr", inner.broker_addr());
    ext.insert("clusterName", &cfg.broker_cluster_name);
    ext.insert_display("brokerId", cfg.broker_id);
    ext
}

/// Registers with every NameServer concurrently; failures are logged (the next period
/// retries). Returns once every NameServer answered or timed out.
pub async fn register_all(inner: &BrokerInner) {
    let body = register_body(inner);
    let crc = (crc32fast::hash(body.as_bytes()) & 0x7FFF_FFFF) as i32;
    let mut ext = common_fields(inner);
    ext.insert("haServerAddr", inner.ha_server_addr());
    ext.insert("compressed", "false");
    ext.insert_display("bodyCrc32", crc);
    let calls = inner.config.namesrv_addr.iter().map(|addr| {
        let req = RemotingCommand::new_request(RequestCode::RegisterBroker, ext.clone())
            .with_body(body.clone().into_bytes());
        async move {
            match inner
                .namesrv_client
                .invoke(addr, req, REGISTER_TIMEOUT)
                .await
            {
                Ok(resp) if resp.code == i32::from(ResponseCode::Success) => {
                    tracing::debug!(namesrv = %addr, "registered");
                    // A slave learns its master's addresses from the answer.
                    if inner.config.broker_role == super::config::BrokerRole::Slave {
                        let field = |k| resp.ext_fields.get(k).filter(|a| !a.is_empty());
                        if let Some(ha) = field("haServerAddr") {
                            *inner.ha_master.lock() = Some(ha.to_string());
                        }
                        if let Some(master) = field("masterAddr") {
                            *inner.master_addr.lock() = Some(master.to_string());
                        }
                    }
                }
                Ok(resp) => tracing::warn!(namesrv = %addr, code = resp.code,
                    remark = ?resp.remark, "register refused"),
                Err(e) => tracing::warn!(namesrv = %addr, error = %e, "register failed"),
            }
        }
    });
    futures::future::join_all(calls).await;
}

/// UNREGISTER_BROKER to every NameServer (shutdown).
pub async fn unregister_all(inner: &BrokerInner) {
    let ext = common_fields(inner);
    let calls = inner.config.namesrv_addr.iter().map(|addr| {
        let req = RemotingCommand::new_request(RequestCode::UnregisterBroker, ext.clone());
        async move {
            if let Err(e) = inner
                .namesrv_client
                .invoke(addr, req, REGISTER_TIMEOUT)
                .await
            {
                tracing::warn!(namesrv = %addr, error = %e, "unregister failed");
            }
        }
    });
    futures::future::join_all(calls).await;
}
