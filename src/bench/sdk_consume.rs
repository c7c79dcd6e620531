//! `mqbench consume --sdk` and `e2e --sdk`: the same counts and checks through the SDK's
//! consumers, so the SDK is what is measured. Catch-up reads with the pull consumer (every
//! queue from its oldest message); e2e with the push consumer (long polling), its group's
//! offsets first moved to the queues' ends so only this run's messages count.

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use super::consume::{Consumer, StartAt};
use super::histogram::Histogram;
use crate::client::{ConsumeResult, PullConsumer, PushConsumer};

const POLL: Duration = Duration::from_millis(200);
const WATCH: Duration = Duration::from_millis(20);

pub(super) async fn consume(consumer: Arc<Consumer>) -> Result<(), String> {
    let opts = consumer.opts();
    let pull = PullConsumer::builder(&opts.namesrv)
        .group(&opts.group)
        .timeout(opts.timeout())
        .build()
        .map_err(|e| e.to_string())?;
    let queues = pull.queues(&opts.topic).await.map_err(|e| e.to_string())?;
    pull.assign(queues.clone())
        .await
        .map_err(|e| e.to_string())?;
    for q in &queues {
        let moved = match consumer.start_at() {
            StartAt::Oldest => pull.seek_to_begin(q).await,
            StartAt::Newest => pull.seek_to_end(q).await,
        };
        moved.map_err(|e| format!("{q:?}: {e}"))?;
    }
    if consumer.start_at() == StartAt::Newest {
        // The push consumer starts where the group's offsets are: the ends.
        pull.commit().await.map_err(|e| e.to_string())?;
        return push(consumer).await;
    }
    let mut latency = Histogram::new();
    while !consumer.done() {
        let batch = match pull.poll(POLL).await {
            Ok(b) => b,
            Err(e) => {
                consumer.fail(&format!("poll: {e}")).await;
                continue;
            }
        };
        // Catching up without a count: nothing left is the end.
        if batch.is_empty() && opts.messages.is_none() {
            break;
        }
        consumer.observe(
            batch.iter().map(|m| (&m.body[..], m.body.len() as u64)),
            &mut latency,
        );
    }
    consumer.counters.merge(&latency);
    Ok(())
}

async fn push(consumer: Arc<Consumer>) -> Result<(), String> {
    let opts = consumer.opts();
    let latency = Arc::new(Mutex::new(Histogram::new()));
    let (seen, counted) = (consumer.clone(), latency.clone());
    let push = PushConsumer::builder(&opts.namesrv)
        .group(&opts.group)
        .subscribe(&opts.topic, "*")
        .concurrency(64)
        .start(move |m| {
            seen.observe(
                std::iter::once((&m.body[..], m.body.len() as u64)),
                &mut counted.lock(),
            );
            std::future::ready(ConsumeResult::Success)
        })
        .await
        .map_err(|e| e.to_string())?;
    while !consumer.done() {
        tokio::time::sleep(WATCH).await;
    }
    push.shutdown().await;
    consumer.counters.merge(&latency.lock());
    Ok(())
}
