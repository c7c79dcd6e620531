//! Request dispatch: one `RequestProcessor` for every broker request code, plus the small
//! helpers the processors share (lenient extFields reading, error replies).

pub mod admin;
pub mod batch;
pub mod client;
pub mod offsets;
pub mod pull;
pub mod reply;
pub mod send;
pub mod send_back;

use std::collections::HashMap;
use std::sync::Arc;

use futures::future::BoxFuture;

use crate::protocol::{RemotingCommand, RequestCode, ResponseCode};
use crate::remoting::{ConnectionContext, RequestProcessor};

use super::BrokerInner;

/// An error answer: response code and remark.
#[derive(Debug)]
pub struct Reject {
    pub code: ResponseCode,
    pub remark: String,
}

impl Reject {
    pub fn new(code: ResponseCode, remark: impl Into<String>) -> Self {
        Self {
            code,
            remark: remark.into(),
        }
    }

    pub fn system(remark: impl Into<String>) -> Self {
        Self::new(ResponseCode::SystemError, remark)
    }
}

pub type Reply = Result<RemotingCommand, Reject>;

/// Reads custom-header fields the way Java's decoder does, leniently: numbers as decimal
/// text, booleans via `parseBoolean` plus C++'s `"1"`.
pub struct Ext<'a>(pub &'a HashMap<String, String>);

impl<'a> Ext<'a> {
    pub fn opt(&self, key: &str) -> Option<&'a str> {
        self.0.get(key).map(String::as_str)
    }

    /// A required field (Java `@CFNotNull`): missing → SYSTEM_ERROR.
    pub fn req(&self, key: &str) -> Result<&'a str, Reject> {
        self.opt(key)
            .ok_or_else(|| Reject::system(format!("the custom field <{key}> is null")))
    }

    pub fn num<T: std::str::FromStr>(&self, key: &str) -> Result<T, Reject> {
        let v = self.req(key)?;
        parse_num(v).ok_or_else(|| {
            Reject::system(format!("the custom field <{key}> is not a number: {v:?}"))
        })
    }

    pub fn opt_num<T: std::str::FromStr>(&self, key: &str) -> Result<Option<T>, Reject> {
        match self.opt(key) {
            None => Ok(None),
            Some(v) if v.trim().is_empty() => Ok(None),
            Some(_) => self.num(key).map(Some),
        }
    }

    pub fn flag(&self, key: &str) -> bool {
        self.opt(key).is_some_and(|v| {
            let v = v.trim();
            v.eq_ignore_ascii_case("true") || v == "1"
        })
    }
}

/// Parses a decimal; tolerates a `.0` fraction (a JSON number written as a double).
fn parse_num<T: std::str::FromStr>(v: &str) -> Option<T> {
    let v = v.trim();
    v.parse()
        .ok()
        .or_else(|| v.strip_suffix(".0").and_then(|i| i.parse().ok()))
}

/// A SUCCESS reply with the given extFields.
pub fn success<const N: usize>(
    req: &RemotingCommand,
    fields: [(&str, String); N],
) -> RemotingCommand {
    let mut resp = req.response_to(ResponseCode::Success, None);
    resp.ext_fields.reserve(N);
    for (k, v) in fields {
        resp.ext_fields.insert(k.to_string(), v);
    }
    resp
}

/// REQUEST_CODE_NOT_SUPPORTED with RocketMQ's remark, and for the 5.x requests a client can
/// be configured to send, what to do instead (clients log the remark).
fn not_supported(req: &RemotingCommand) -> Reject {
    let hint = match req.code {
        200_050..=200_055 | 200_151 | 401 => {
            ": pop consumption is not available on FerrumQ; use push or pull consumers"
        }
        400 => {
            ": broker-side assignment is not available on FerrumQ; keep clientRebalance=true (the default)"
        }
        _ => "",
    };
    Reject::new(
        ResponseCode::RequestCodeNotSupported,
        format!(" request type {} not supported{hint}", req.code),
    )
}

/// The broker's single request processor.
pub struct BrokerProcessor {
    inner: Arc<BrokerInner>,
}

impl BrokerProcessor {
    pub fn new(inner: Arc<BrokerInner>) -> Self {
        Self { inner }
    }
}

impl RequestProcessor for BrokerProcessor {
    fn process(
        &self,
        ctx: ConnectionContext,
        req: RemotingCommand,
    ) -> BoxFuture<'static, Option<RemotingCommand>> {
        let inner = self.inner.clone();
        Box::pin(async move {
            let reply = dispatch(&inner, &ctx, &req).await;
            if req.is_oneway() {
                if let Err(r) = &reply {
                    tracing::debug!(code = req.code, remark = %r.remark, "oneway request failed");
                }
                return None;
            }
            Some(reply.unwrap_or_else(|r| req.response_to(r.code, Some(r.remark))))
        })
    }

    fn on_connection_closed(&self, ctx: &ConnectionContext) {
        client::connection_closed(&self.inner, ctx);
    }
}

async fn dispatch(
    inner: &Arc<BrokerInner>,
    ctx: &ConnectionContext,
    req: &RemotingCommand,
) -> Reply {
    use RequestCode as C;
    match RequestCode::from(req.code) {
        C::SendMessage | C::SendMessageV2 | C::SendBatchMessage => {
            send::process(inner, ctx, req).await
        }
        C::ConsumerSendMsgBack => send_back::process(inner, req).await,
        C::SendReplyMessage | C::SendReplyMessageV2 => reply::process(inner, ctx, req).await,
        // The VIP port (listenPort-2) serves everything but pulls, as in RocketMQ.
        C::PullMessage | C::LitePullMessage if ctx.local.port() != inner.store_host().port() => {
            Err(not_supported(req))
        }
        C::PullMessage | C::LitePullMessage => pull::process(inner, req).await,
        C::HeartBeat => client::heartbeat(inner, ctx, req).await,
        C::UnregisterClient => client::unregister(inner, req),
        C::CheckClientConfig => client::check_client_config(req),
        C::GetConsumerListByGroup => client::consumer_list(inner, req),
        C::LockBatchMq => client::lock_batch(inner, req),
        C::UnlockBatchMq => client::unlock_batch(inner, req),
        C::GetConsumerConnectionList => client::consumer_connections(inner, req),
        C::GetProducerConnectionList => client::producer_connections(inner, req),
        C::QueryConsumerOffset => offsets::query_consumer_offset(inner, req),
        C::UpdateConsumerOffset => offsets::update_consumer_offset(inner, req),
        C::GetMaxOffset => offsets::max_offset(inner, req),
        C::GetMinOffset => offsets::min_offset(inner, req),
        C::SearchOffsetByTimestamp => offsets::search_by_timestamp(inner, req),
        C::GetEarliestMsgStoretime => offsets::earliest_store_time(inner, req),
        C::GetAllConsumerOffset => offsets::all_consumer_offsets(inner, req),
        C::GetConsumeStats => offsets::consume_stats(inner, req),
        C::GetAllDelayOffset => {
            Ok(success(req, []).with_body(inner.schedule.encode(false).into_bytes()))
        }
        C::ViewMessageById => admin::view_message(inner, req),
        C::QueryMessage => admin::query_message(inner, req),
        C::GetBrokerRuntimeInfo => admin::runtime_info(inner, req),
        C::UpdateAndCreateTopic => admin::create_topic(inner, req).await,
        C::DeleteTopicInBroker => admin::delete_topic(inner, req).await,
        C::GetAllTopicConfig => admin::all_topic_config(inner, req),
        C::GetTopicStatsInfo => admin::topic_stats(inner, req),
        C::UpdateAndCreateSubscriptionGroup => admin::create_group(inner, req).await,
        C::GetAllSubscriptionGroupConfig => admin::all_groups(inner, req),
        C::DeleteSubscriptionGroup => admin::delete_group(inner, req).await,
        C::GetBrokerConfig => admin::broker_config(inner, req),
        _ => Err(not_supported(req)),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn ext_reads_cpp_values() {
        let mut m = HashMap::new();
        m.insert("queueId".to_string(), "3".to_string());
        m.insert("batch".to_string(), "1".to_string());
        m.insert("unitMode".to_string(), "0".to_string());
        m.insert("d".to_string(), "4.0".to_string());
        let e = Ext(&m);
        assert_eq!(e.num::<i32>("queueId").unwrap(), 3);
        assert_eq!(e.num::<i32>("d").unwrap(), 4);
        assert!(e.flag("batch"));
        assert!(!e.flag("unitMode"));
        assert!(e.req("topic").is_err());
        assert_eq!(e.opt_num::<i64>("none").unwrap(), None);
    }
}
