//! Finds the queues of a topic through the NameServer, as a RocketMQ client does.

use std::time::Duration;

use crate::protocol::{
    perm, GetRouteInfoRequestHeader, JsonBody, RemotingCommand, RequestCode, ResponseCode,
    TopicRouteData,
};
use crate::remoting::RemotingClient;

/// One message queue: the master address of its broker and the queue id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueTarget {
    pub broker_addr: String,
    pub broker_name: String,
    pub queue_id: i32,
}

/// The auto-create template topic every broker registers.
const DEFAULT_TOPIC: &str = "TBW102";
/// Queues a client asks for when its first send creates a topic (wire doc §7.9).
const CLIENT_DEFAULT_QUEUE_NUMS: i32 = 4;

pub async fn fetch_route(
    client: &RemotingClient,
    namesrv: &str,
    topic: &str,
) -> Result<Option<TopicRouteData>, String> {
    let header = GetRouteInfoRequestHeader {
        topic: topic.to_owned(),
        accept_standard_json_only: true,
    };
    let req = RemotingCommand::new_request(RequestCode::GetRouteinfoByTopic, Default::default())
        .with_header(&header);
    let resp = client
        .invoke(namesrv, req, Duration::from_secs(3))
        .await
        .map_err(|e| format!("NameServer {namesrv}: {e}"))?;
    match resp.response_code() {
        ResponseCode::Success => TopicRouteData::decode(&resp.body)
            .map(Some)
            .map_err(|e| format!("route of {topic}: {e}")),
        ResponseCode::TopicNotExist => Ok(None),
        code => Err(format!(
            "route of {topic}: {code:?} {}",
            resp.remark.unwrap_or_default()
        )),
    }
}

/// Queues to send to. An unknown topic is sent through TBW102's brokers (the broker creates
/// it on the first send), with at most 4 queues per broker like the official clients.
pub async fn publish_queues(
    client: &RemotingClient,
    namesrv: &str,
    topic: &str,
) -> Result<Vec<QueueTarget>, String> {
    if let Some(route) = fetch_route(client, namesrv, topic).await? {
        return Ok(queues(&route, perm::WRITE, |q| q.write_queue_nums));
    }
    let Some(route) = fetch_route(client, namesrv, DEFAULT_TOPIC).await? else {
        return Err(format!(
            "topic {topic} does not exist and no broker allows auto-creation ({DEFAULT_TOPIC})"
        ));
    };
    Ok(queues(&route, perm::WRITE, |q| {
        q.read_queue_nums.min(CLIENT_DEFAULT_QUEUE_NUMS)
    }))
}

/// Queues to pull from.
pub async fn subscribe_queues(
    client: &RemotingClient,
    namesrv: &str,
    topic: &str,
) -> Result<Vec<QueueTarget>, String> {
    match fetch_route(client, namesrv, topic).await? {
        Some(route) => Ok(queues(&route, perm::READ, |q| q.read_queue_nums)),
        None => Err(format!("topic {topic} does not exist")),
    }
}

fn queues(
    route: &TopicRouteData,
    needed_perm: i32,
    count: impl Fn(&crate::protocol::QueueData) -> i32,
) -> Vec<QueueTarget> {
    let mut datas: Vec<_> = route.queue_datas.iter().collect();
    datas.sort_by(|a, b| a.broker_name.cmp(&b.broker_name));
    let mut out = Vec::new();
    for q in datas.into_iter().filter(|q| q.perm & needed_perm != 0) {
        let master = route
            .broker_datas
            .iter()
            .find(|b| b.broker_name == q.broker_name)
            .and_then(|b| b.master_addr());
        let Some(addr) = master else { continue };
        for queue_id in 0..count(q) {
            out.push(QueueTarget {
                broker_addr: addr.to_owned(),
                broker_name: q.broker_name.clone(),
                queue_id,
            });
        }
    }
    out
}
