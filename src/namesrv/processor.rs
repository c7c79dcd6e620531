//! NameServer request processing: one code, one small function.

use std::sync::Arc;
use std::time::Duration;

use parking_lot::RwLock;
use tokio::time::Instant;

use super::config::NamesrvConfig;
use super::kv::KvConfigManager;
use super::routes::{Registration, RouteTable};
use super::topics::UnitFilter;
use crate::protocol::*;
use crate::remoting::{not_supported, BoxFuture, ConnectionContext, RequestProcessor};

/// KV namespace holding `orderTopicConf` per topic.
pub const ORDER_TOPIC_CONFIG: &str = "ORDER_TOPIC_CONFIG";
/// First client version (V4_9_4) that gets routes with quoted brokerAddrs keys.
const STANDARD_JSON_VERSION: i32 = 401;
/// V3_0_11: REGISTER_BROKER bodies are RegisterBrokerBody from here on.
const REGISTER_BODY_VERSION: i32 = 37;
/// Keys UPDATE_NAMESRV_CONFIG may not change (Java's configBlackList).
const CONFIG_BLACK_LIST: &[&str] = &["configBlackList", "configStorePath", "kvConfigPath"];

pub struct NamesrvProcessor {
    pub(crate) routes: Arc<RouteTable>,
    pub(crate) kv: Arc<KvConfigManager>,
    pub(crate) config: Arc<RwLock<NamesrvConfig>>,
}

type Reply = Result<RemotingCommand, String>;

impl RequestProcessor for NamesrvProcessor {
    fn process(
        &self,
        ctx: ConnectionContext,
        req: RemotingCommand,
    ) -> BoxFuture<'static, Option<RemotingCommand>> {
        let reply = self.handle(&ctx, &req).unwrap_or_else(|remark| {
            tracing::debug!(code = req.code, "namesrv request failed: {remark}");
            req.response_to(ResponseCode::SystemError, remark)
        });
        Box::pin(std::future::ready((!req.is_oneway()).then_some(reply)))
    }

    fn on_connection_closed(&self, ctx: &ConnectionContext) {
        for addr in self.routes.on_connection_closed(ctx.id) {
            tracing::info!(broker = %addr, peer = %ctx.peer, "broker connection closed, removed from routes");
        }
    }
}

fn ok(req: &RemotingCommand) -> RemotingCommand {
    req.response_to(ResponseCode::Success, None)
}

fn header<H: CommandHeader>(req: &RemotingCommand) -> Result<H, String> {
    req.decode_header().map_err(|e| e.to_string())
}

impl NamesrvProcessor {
    fn handle(&self, ctx: &ConnectionContext, req: &RemotingCommand) -> Reply {
        use RequestCode as C;
        match req.request_code() {
            C::PutKvConfig => self.put_kv(req),
            C::GetKvConfig => self.get_kv(req),
            C::DeleteKvConfig => self.delete_kv(req),
            C::GetKvlistByNamespace => self.kv_list(req),
            C::RegisterBroker => self.register_broker(ctx, req),
            C::UnregisterBroker => self.unregister_broker(req),
            C::QueryDataVersion => self.query_data_version(req),
            C::GetRouteinfoByTopic => self.route(req),
            C::GetBrokerClusterInfo => Ok(ok(req).with_body(self.routes.cluster_info().encode())),
            C::WipeWritePermOfBroker => self.write_perm(req, false),
            C::AddWritePermOfBroker => self.write_perm(req, true),
            C::GetAllTopicListFromNameserver => {
                Ok(ok(req).with_body(self.routes.all_topics().encode()))
            }
            C::GetTopicsByCluster => {
                let h: GetTopicsByClusterRequestHeader = header(req)?;
                Ok(ok(req).with_body(self.routes.topics_by_cluster(&h.cluster).encode()))
            }
            C::DeleteTopicInNamesrv => {
                let h: DeleteTopicFromNamesrvRequestHeader = header(req)?;
                self.routes
                    .delete_topic(&h.topic, h.cluster_name.as_deref());
                Ok(ok(req))
            }
            C::GetSystemTopicListFromNs => {
                Ok(ok(req).with_body(self.routes.system_topics().encode()))
            }
            C::GetUnitTopicList => self.unit(req, UnitFilter::Unit),
            C::GetHasUnitSubTopicList => self.unit(req, UnitFilter::HasUnitSub),
            C::GetHasUnitSubUnunitTopicList => self.unit(req, UnitFilter::HasUnitSubUnunit),
            C::GetNamesrvConfig => Ok(ok(req).with_body(self.config.read().to_properties())),
            C::UpdateNamesrvConfig => self.update_config(req),
            _ => Ok(not_supported(req)),
        }
    }

    fn unit(&self, req: &RemotingCommand, f: UnitFilter) -> Reply {
        Ok(ok(req).with_body(self.routes.unit_topics(f).encode()))
    }

    fn put_kv(&self, req: &RemotingCommand) -> Reply {
        let h: PutKvConfigRequestHeader = header(req)?;
        self.kv
            .put(&h.namespace, &h.key, &h.value)
            .map_err(|e| format!("persist kvConfig failed: {e}"))?;
        Ok(ok(req))
    }

    fn get_kv(&self, req: &RemotingCommand) -> Reply {
        let h: GetKvConfigRequestHeader = header(req)?;
        Ok(match self.kv.get(&h.namespace, &h.key) {
            Some(value) => ok(req).with_header(&GetKvConfigResponseHeader { value: Some(value) }),
            None => req.response_to(
                ResponseCode::QueryNotFound,
                format!("No config item, Namespace: {} Key: {}", h.namespace, h.key),
            ),
        })
    }

    fn delete_kv(&self, req: &RemotingCommand) -> Reply {
        let h: DeleteKvConfigRequestHeader = header(req)?;
        self.kv
            .delete(&h.namespace, &h.key)
            .map_err(|e| format!("persist kvConfig failed: {e}"))?;
        Ok(ok(req))
    }

    fn kv_list(&self, req: &RemotingCommand) -> Reply {
        let h: GetKvListByNamespaceRequestHeader = header(req)?;
        Ok(match self.kv.list(&h.namespace) {
            Some(table) => ok(req).with_body(
                KvTable {
                    table: table.into_iter().collect(),
                }
                .encode(),
            ),
            None => req.response_to(
                ResponseCode::QueryNotFound,
                format!("No config item, Namespace: {}", h.namespace),
            ),
        })
    }

    fn register_broker(&self, ctx: &ConnectionContext, req: &RemotingCommand) -> Reply {
        let h: RegisterBrokerRequestHeader = header(req)?;
        if h.body_crc32 != 0 && h.body_crc32 != masked_crc32(&req.body) {
            return Ok(req.response_to(ResponseCode::SystemError, "crc32 not match".to_owned()));
        }
        let body = RegisterBrokerBody::decode_register(&req.body, h.compressed, req.version)
            .map_err(|e| format!("decode register body failed: {e}"))?;
        let default_timeout = self.config.read().broker_expiry();
        let wrapper = &body.topic_config_serialize_wrapper;
        let result = self.routes.register(
            &Registration {
                cluster_name: &h.cluster_name,
                broker_addr: &h.broker_addr,
                broker_name: &h.broker_name,
                broker_id: h.broker_id,
                ha_server_addr: &h.ha_server_addr,
                data_version: &wrapper.data_version,
                topics: &wrapper.topic_config_table,
                filter_servers: &body.filter_server_list,
                conn_id: Some(ctx.id),
                timeout: h
                    .heartbeat_timeout_millis
                    .and_then(|ms| u64::try_from(ms).ok().filter(|&ms| ms > 0))
                    .map_or(default_timeout, Duration::from_millis),
            },
            Instant::now(),
        );
        if req.version < REGISTER_BODY_VERSION {
            tracing::debug!(
                version = req.version,
                "old broker registered with a bare wrapper"
            );
        }
        let mut resp = ok(req).with_header(&RegisterBrokerResponseHeader {
            ha_server_addr: result.ha_server_addr,
            master_addr: result.master_addr,
        });
        if let Some(table) = self.kv.list(ORDER_TOPIC_CONFIG) {
            resp = resp.with_body(
                KvTable {
                    table: table.into_iter().collect(),
                }
                .encode(),
            );
        }
        Ok(resp)
    }

    fn unregister_broker(&self, req: &RemotingCommand) -> Reply {
        let h: UnRegisterBrokerRequestHeader = header(req)?;
        self.routes
            .unregister(&h.cluster_name, &h.broker_addr, &h.broker_name, h.broker_id);
        tracing::info!(broker = %h.broker_addr, name = %h.broker_name, "broker unregistered");
        Ok(ok(req))
    }

    fn query_data_version(&self, req: &RemotingCommand) -> Reply {
        let h: QueryDataVersionRequestHeader = header(req)?;
        let version = DataVersion::decode(&req.body).map_err(|e| e.to_string())?;
        let (changed, stored) =
            self.routes
                .query_data_version(&h.broker_addr, &version, Instant::now());
        let mut resp = ok(req).with_header(&QueryDataVersionResponseHeader { changed });
        if let Some(stored) = stored {
            resp = resp.with_body(stored.encode());
        }
        Ok(resp)
    }

    fn route(&self, req: &RemotingCommand) -> Reply {
        let h: GetRouteInfoRequestHeader = header(req)?;
        let Some(mut route) = self.routes.pickup_route(&h.topic) else {
            return Ok(req.response_to(
                ResponseCode::TopicNotExist,
                format!(
                    "No topic route info in name server for the topic: {}",
                    h.topic
                ),
            ));
        };
        if self.config.read().order_message_enable {
            route.order_topic_conf = self.kv.get(ORDER_TOPIC_CONFIG, &h.topic);
        }
        let standard = req.version >= STANDARD_JSON_VERSION || h.accept_standard_json_only;
        Ok(ok(req).with_body(route.encode_route(standard)))
    }

    fn write_perm(&self, req: &RemotingCommand, add: bool) -> Reply {
        if add {
            let h: AddWritePermOfBrokerRequestHeader = header(req)?;
            let add_topic_count = self.routes.set_write_perm(&h.broker_name, true);
            Ok(ok(req).with_header(&AddWritePermOfBrokerResponseHeader { add_topic_count }))
        } else {
            let h: WipeWritePermOfBrokerRequestHeader = header(req)?;
            let wipe_topic_count = self.routes.set_write_perm(&h.broker_name, false);
            Ok(ok(req).with_header(&WipeWritePermOfBrokerResponseHeader { wipe_topic_count }))
        }
    }

    fn update_config(&self, req: &RemotingCommand) -> Reply {
        let text = std::str::from_utf8(&req.body).map_err(|e| format!("body is not UTF-8: {e}"))?;
        let props = properties::parse_properties(text);
        if props
            .iter()
            .any(|(k, _)| CONFIG_BLACK_LIST.contains(&k.as_str()))
        {
            return Ok(req.response_to(
                ResponseCode::NoPermission,
                "Can not update config in black list.".to_owned(),
            ));
        }
        let mut next = self.config.read().clone();
        let unknown = next.apply(&props).map_err(|e| e.to_string())?;
        if !unknown.is_empty() {
            tracing::warn!(
                ?unknown,
                "UPDATE_NAMESRV_CONFIG: unknown properties ignored"
            );
        }
        crate::config_file::write_atomic(&next.config_store_path, &next.to_properties())
            .map_err(|e| format!("persist config failed: {e}"))?;
        *self.config.write() = next;
        Ok(ok(req))
    }
}

/// CRC-32 (IEEE) masked to 31 bits, RocketMQ's `UtilAll.crc32`.
pub fn masked_crc32(bytes: &[u8]) -> i32 {
    (crc32fast::hash(bytes) & 0x7FFF_FFFF) as i32
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    #[test]
    fn crc_vector() {
        assert_eq!(super::masked_crc32(b"hello"), 907_060_870);
    }
}
