//! The SDK's `tracing` spans: every send, pull, handled message and round trip opens one, with
//! the fields an operator searches by (topic, message id, queue, request code).

mod broker_util;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use broker_util::*;
use ferrumq::client::{ConsumeResult, Message, Producer, PushConsumer};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::Subscriber;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

type Spans = Arc<Mutex<Vec<(String, BTreeMap<String, String>)>>>;

/// Records every new span's name and fields.
struct Recorder(Spans);

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(
            field.name().to_string(),
            format!("{value:?}").trim_matches('"').to_string(),
        );
    }
}

impl<S: Subscriber> Layer<S> for Recorder {
    fn on_new_span(&self, attrs: &Attributes<'_>, _: &Id, _: Context<'_, S>) {
        let mut fields = BTreeMap::new();
        attrs.record(&mut Fields(&mut fields));
        let name = attrs.metadata().name().to_string();
        self.0.lock().unwrap().push((name, fields));
    }
}

fn find(spans: &Spans, name: &str, key: &str, value: &str) -> bool {
    spans
        .lock()
        .unwrap()
        .iter()
        .any(|(n, f)| n == name && f.get(key).map(String::as_str) == Some(value))
}

// One thread: the spawned consumer tasks see this thread's subscriber.
#[tokio::test]
async fn sends_pulls_handlers_and_requests_open_spans() {
    let spans: Spans = Default::default();
    let subscriber = tracing_subscriber::registry().with(Recorder(spans.clone()));
    let _guard = tracing::subscriber::set_default(subscriber);

    let c = Cluster::start().await;
    let p = Producer::builder(&c.namesrv_addr()).build().unwrap();
    let sent = p.send(Message::new("Traced", "warm-up")).await.unwrap();
    assert!(find(&spans, "producer.send", "topic", "Traced"));
    assert!(find(&spans, "producer.send", "msg_id", &sent.msg_id));
    // SEND_MESSAGE_V2
    assert!(find(&spans, "remoting.request", "code", "310"));

    let handled = Arc::new(Mutex::new(Vec::new()));
    let seen = handled.clone();
    let consumer = PushConsumer::builder(&c.namesrv_addr())
        .group("traced")
        .subscribe("Traced", "*")
        .start(move |m| {
            seen.lock().unwrap().push(m.msg_id.clone());
            std::future::ready(ConsumeResult::Success)
        })
        .await
        .unwrap();
    let sent = p.send(Message::new("Traced", "hello")).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    while !handled.lock().unwrap().contains(&sent.msg_id) {
        assert!(Instant::now() < deadline, "never handled");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(find(&spans, "consumer.pull", "topic", "Traced"));
    assert!(find(&spans, "consumer.handle", "msg_id", &sent.msg_id));
    // PULL_MESSAGE
    assert!(find(&spans, "remoting.request", "code", "11"));
    consumer.shutdown().await;
    c.shutdown().await;
}
