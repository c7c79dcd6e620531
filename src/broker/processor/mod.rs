//! Request dispatch: one `RequestProcessor` for every broker request code, plus the small
//! helpers the processors share (lenient extFields reading, error replies).

pub mod admin;
pub mod batch;
pub mod client;
pub mod manage;
pub mod offsets;
pub mod pull;
pub mod reply;
pub mod send;
pub mod send_back;

use std::sync::Arc;

use futures::future::BoxFuture;

use crate::protocol::{HeaderError, RemotingCommand, RequestCode, ResponseCode};
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

/// A missing or unreadable custom-header field (Java `@CFNotNull`, a non-number): SYSTEM_ERROR
/// with the field's name, as Java's decoder answers.
impl From<HeaderError> for Reject {
    fn from(e: HeaderError) -> Self {
        Reject::system(e.to_string())
    }
}

/// A SUCCESS reply with the given extFields.
pub fn success<const N: usize>(
    req: &RemotingCommand,
    fields: [(&'static str, String); N],
) -> RemotingCommand {
    let mut resp = req.response_to(ResponseCode::Success, None);
    resp.ext_fields.reserve(N);
    for (k, v) in fields {
        resp.ext_fields.insert(k, v);
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
        C::EndTransaction => crate::broker::transaction::end_transaction(inner, req).await,
        C::SendReplyMessage | C::SendReplyMessageV2 => reply::process(inner, ctx, req).await,
        // The VIP port (listenPort-2) serves everything but pulls, as in RocketMQ.
        C::PullMessage | C::LitePullMessage if ctx.local.port() != inner.store_host().port() => {
            Err(not_supported(req))
        }
        C::PullMessage | C::LitePullMessage => pull::process(inner, req).await,
        C::HeartBeat => client::heartbeat(inner, ctx, req).await,
        C::UnregisterClient => client::unregister(inner, req),
        C::CheckClientConfig => client::check_client_config(inner, req),
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
        C::UpdateBrokerConfig => admin::update_broker_config(inner, req).await,
        C::GetConsumerRunningInfo | C::ConsumeMessageDirectly => {
            manage::forward_to_client(inner, req).await
        }
        C::QueryTopicConsumeByWho => manage::consume_by_who(inner, req),
        C::CloneGroupOffset => manage::clone_group_offset(inner, req),
        C::InvokeBrokerToResetOffset => manage::reset_offset(inner, req),
        C::InvokeBrokerToGetConsumerStatus => manage::consumer_status(inner, req).await,
        C::ViewBrokerStatsData => admin::stats_data(inner, req),
        C::GetBrokerConsumeStats => offsets::broker_consume_stats(inner, req),
        _ => Err(not_supported(req)),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_field_is_a_system_error_naming_it() {
        let ext = crate::protocol::ExtFields::new();
        let r = Reject::from(ext.req("topic").unwrap_err());
        assert_eq!(r.code, ResponseCode::SystemError);
        assert_eq!(r.remark, "the custom field <topic> is null");
    }
}
