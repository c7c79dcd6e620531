//! Frame encode + decode of a SEND_MESSAGE_V2 request (what a Java producer sends), in both
//! header serializations. Target: >= 2 M/s on one core.
//!
//!     cargo bench --bench protocol_codec

use std::collections::HashMap;

use bytes::{Bytes, BytesMut};
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use ferrumq::protocol::*;
use ferrumq::remoting::FrameCodec;
use tokio_util::codec::Decoder;

fn send_v2(st: SerializeType) -> RemotingCommand {
    let h = SendMessageRequestHeader {
        producer_group: "BenchProducerGroup",
        topic: "BenchTopic".into(),
        default_topic: "TBW102",
        default_topic_queue_nums: 4,
        queue_id: 3,
        sys_flag: 0,
        born_timestamp: Some(1_700_000_000_000),
        flag: 0,
        properties: "KEYS\u{1}order-42\u{2}UNIQ_KEY\u{1}7F0000010B7C18B4AAC2712A06590000\u{2}WAIT\u{1}true\u{2}TAGS\u{1}TagA",
        reconsume_times: 0,
        unit_mode: false,
        batch: false,
        max_reconsume_times: None,
        broker_name: Some("broker-a"),
    };
    let mut cmd = RemotingCommand::new_request(RequestCode::SendMessageV2, h.to_ext(true))
        .with_body(Bytes::from(vec![b'x'; 128]));
    cmd.opaque = 12345;
    cmd.serialize_type = st;
    cmd
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("send_message_v2");
    g.throughput(Throughput::Elements(1));
    for (name, st) in [
        ("json", SerializeType::Json),
        ("rocketmq", SerializeType::RocketMq),
    ] {
        let cmd = send_v2(st);
        let mut buf = BytesMut::with_capacity(4096);
        let mut codec = FrameCodec::default();
        g.bench_function(format!("encode_decode_{name}"), |b| {
            b.iter(|| {
                black_box(&cmd).encode(&mut buf);
                let decoded = codec.decode(&mut buf).ok().flatten().and_then(Result::ok);
                let header = decoded.as_ref().map(SendMessageRequestHeader::decode);
                black_box((decoded.is_some(), header.is_some()));
                // Keep the buffer's allocation: decode split the frame off the front.
                buf.reserve(1024);
            })
        });
        let frame = cmd.encode_to_bytes();
        g.bench_function(format!("decode_only_{name}"), |b| {
            b.iter(|| black_box(RemotingCommand::decode_frame(frame.slice(4..)).is_ok()))
        });
    }
    // Reference point for this machine: only building the 14-entry map of owned Strings that
    // the decoder made before ExtFields (28 small allocations, 14 SipHash inserts).
    let cmd = send_v2(SerializeType::Json);
    let pairs: Vec<(&str, &str)> = cmd.ext_fields.iter().collect();
    g.bench_function("baseline_ext_fields_map_only", |b| {
        b.iter(|| {
            let m: HashMap<String, String> = black_box(&pairs)
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            black_box(m.len())
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
