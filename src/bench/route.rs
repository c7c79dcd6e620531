//! Finds the queues of a topic through the NameServer, as a RocketMQ client does.

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};

use crate::protocol::{
    perm, GetRouteInfoRequestHeader, JsonBody, RemotingCommand, RequestCode, ResponseCode,
    TopicRouteData,
};
use crate::remoting::RemotingClient;

/// One message queue: its topic, the master address of its broker and the queue id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueTarget {
    pub topic: String,
    pub broker_addr: String,
    pub broker_name: String,
    pub queue_id: i32,
}

/// The auto-create template topic every broker registers.
const DEFAULT_TOPIC: &str = "TBW102";
/// Route look-ups in flight when a run starts on many topics: enough to hide the round
/// trip, few enough not to flood the NameServer.
const LOOKUPS_IN_FLIGHT: usize = 32;

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
/// it on the first send), with at most `new_topic_queues` queues per broker: the count the
/// send asks for (wire doc §7.9).
pub async fn publish_queues(
    client: &RemotingClient,
    namesrv: &str,
    topic: &str,
    new_topic_queues: i32,
) -> Result<Vec<QueueTarget>, String> {
    if let Some(route) = fetch_route(client, namesrv, topic).await? {
        return Ok(queues(topic, &route, perm::WRITE, |q| q.write_queue_nums));
    }
    let Some(route) = fetch_route(client, namesrv, DEFAULT_TOPIC).await? else {
        return Err(format!(
            "topic {topic} does not exist and no broker allows auto-creation ({DEFAULT_TOPIC})"
        ));
    };
    Ok(queues(topic, &route, perm::WRITE, |q| {
        q.read_queue_nums.min(new_topic_queues)
    }))
}

/// The writable queues of every topic, each route looked up once and a bounded number at a
/// time. Interleaved (queue 0 of every topic, then queue 1, ...) so that a task stepping
/// through the list sends to a different topic each time.
pub async fn publish_queues_of_all(
    client: &RemotingClient,
    namesrv: &str,
    topics: &[String],
    new_topic_queues: i32,
) -> Result<Vec<QueueTarget>, String> {
    let per_topic: Vec<Vec<QueueTarget>> = futures::stream::iter(topics)
        .map(|topic| async move {
            let queues = publish_queues(client, namesrv, topic, new_topic_queues).await?;
            if queues.is_empty() {
                return Err(format!("topic {topic} has no writable queue"));
            }
            Ok(queues)
        })
        .buffered(LOOKUPS_IN_FLIGHT)
        .try_collect()
        .await?;
    Ok(interleave(per_topic))
}

fn interleave(lists: Vec<Vec<QueueTarget>>) -> Vec<QueueTarget> {
    let longest = lists.iter().map(Vec::len).max().unwrap_or(0);
    let mut lists: Vec<_> = lists.into_iter().map(Vec::into_iter).collect();
    let mut out = Vec::with_capacity(lists.iter().map(ExactSizeIterator::len).sum());
    for _ in 0..longest {
        out.extend(lists.iter_mut().filter_map(Iterator::next));
    }
    out
}

/// Queues to pull from.
pub async fn subscribe_queues(
    client: &RemotingClient,
    namesrv: &str,
    topic: &str,
) -> Result<Vec<QueueTarget>, String> {
    match fetch_route(client, namesrv, topic).await? {
        Some(route) => Ok(queues(topic, &route, perm::READ, |q| q.read_queue_nums)),
        None => Err(format!("topic {topic} does not exist")),
    }
}

fn queues(
    topic: &str,
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
                topic: topic.to_owned(),
                broker_addr: addr.to_owned(),
                broker_name: q.broker_name.clone(),
                queue_id,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(topic: &str, queue_id: i32) -> QueueTarget {
        QueueTarget {
            topic: topic.into(),
            broker_addr: "127.0.0.1:10911".into(),
            broker_name: "b".into(),
            queue_id,
        }
    }

    #[test]
    fn interleaving_alternates_topics_and_keeps_every_queue() {
        let a = vec![target("a", 0), target("a", 1), target("a", 2)];
        let b = vec![target("b", 0)];
        let c = vec![target("c", 0), target("c", 1)];
        let order: Vec<_> = interleave(vec![a, b, c])
            .into_iter()
            .map(|q| format!("{}{}", q.topic, q.queue_id))
            .collect();
        assert_eq!(order, ["a0", "b0", "c0", "a1", "c1", "a2"]);
        assert!(interleave(Vec::new()).is_empty());
    }
}
