//! Property tests: both header serializations round-trip, and no byte string makes the
//! decoder panic (wire doc §1.1–§1.4).

use bytes::{Bytes, BytesMut};
use ferrumq::protocol::*;
use ferrumq::remoting::FrameCodec;
use proptest::prelude::*;
use tokio_util::codec::Decoder;

fn language() -> impl Strategy<Value = LanguageCode> {
    (0u8..14).prop_map(LanguageCode::from_code)
}

fn command(st: SerializeType) -> impl Strategy<Value = RemotingCommand> {
    (
        (i16::MIN as i32..=i16::MAX as i32),
        language(),
        (i16::MIN as i32..=i16::MAX as i32),
        any::<i32>(),
        0i32..4,
        proptest::option::of("\\PC{1,40}"),
        proptest::collection::hash_map("[a-zA-Z_\"\\\\]{1,12}", "\\PC{0,30}", 0..8)
            .prop_map(|m| m.into_iter().collect::<ExtFields>()),
        proptest::collection::vec(any::<u8>(), 0..64),
    )
        .prop_map(
            move |(code, language, version, opaque, flag, remark, ext, body)| RemotingCommand {
                code,
                language,
                version,
                opaque,
                flag,
                remark,
                ext_fields: ext,
                body: Bytes::from(body),
                body_parts: Vec::new(),
                serialize_type: st,
            },
        )
}

fn round_trip(cmd: &RemotingCommand) -> RemotingCommand {
    let mut buf = BytesMut::new();
    cmd.encode(&mut buf);
    let mut codec = FrameCodec::default();
    let out = codec.decode(&mut buf).unwrap().unwrap().unwrap();
    assert!(buf.is_empty());
    out
}

proptest! {
    #[test]
    fn json_round_trip(cmd in command(SerializeType::Json)) {
        prop_assert_eq!(round_trip(&cmd), cmd);
    }

    #[test]
    fn binary_round_trip(cmd in command(SerializeType::RocketMq)) {
        prop_assert_eq!(round_trip(&cmd), cmd);
    }

    /// A body sent in parts (a pull's mapped records) is on the wire exactly the body sent
    /// whole, and decodes as one body.
    #[test]
    fn body_parts_encode_as_one_body(
        cmd in command(SerializeType::Json),
        cuts in proptest::collection::vec(0usize..64, 0..4),
    ) {
        let whole = cmd.body.clone();
        let mut split = cmd.clone();
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(whole.len())).collect();
        cuts.sort_unstable();
        let mut parts = Vec::new();
        let mut at = 0;
        for c in cuts.into_iter().chain(std::iter::once(whole.len())) {
            parts.push(whole.slice(at..c));
            at = c;
        }
        split.body = Bytes::new();
        split.body_parts = parts;
        prop_assert_eq!(split.encode_to_bytes(), cmd.encode_to_bytes());
        prop_assert_eq!(round_trip(&split), cmd);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = RemotingCommand::decode_frame(Bytes::from(bytes.clone()));
        let mut buf = BytesMut::from(&bytes[..]);
        let mut codec = FrameCodec::new(1024);
        while let Ok(Some(_)) = codec.decode(&mut buf) {}
    }

    #[test]
    fn corrupted_frames_never_panic(
        cmd in command(SerializeType::RocketMq),
        pos in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let full = cmd.encode_to_bytes();
        let mut frame = full.slice(4..).to_vec();
        let i = pos.index(frame.len());
        frame[i] = byte;
        let _ = RemotingCommand::decode_frame(Bytes::from(frame));
    }

    #[test]
    fn send_header_v1_and_v2_agree(
        group in "[a-zA-Z]{1,10}", topic in "[a-zA-Z%]{1,20}", queue_id in -1i32..64,
        ts in proptest::option::of(any::<i64>()), batch in any::<bool>(), props in "\\PC{0,20}",
        max in proptest::option::of(0i32..32), bname in proptest::option::of("[a-z-]{1,8}"),
    ) {
        let h = SendMessageRequestHeader {
            producer_group: &group, topic: topic.as_str().into(), default_topic: "TBW102",
            default_topic_queue_nums: 4, queue_id, sys_flag: 0, born_timestamp: ts, flag: 0,
            properties: &props, reconsume_times: 0, unit_mode: false, batch,
            max_reconsume_times: max, broker_name: bname.as_deref(),
        };
        let v1 = RemotingCommand::new_request(RequestCode::SendMessage, h.to_ext(false));
        let v2 = RemotingCommand::new_request(RequestCode::SendMessageV2, h.to_ext(true));
        prop_assert!(v2.ext_fields.contains_key("b") && !v2.ext_fields.contains_key("topic"));
        let (v1, v2) = (round_trip(&v1), round_trip(&v2));
        prop_assert_eq!(SendMessageRequestHeader::decode(&v1).unwrap(), h.clone());
        prop_assert_eq!(SendMessageRequestHeader::decode(&v2).unwrap(), h);
    }
}

/// JSON string literal with every character escaped or not as `mask` says: `\uXXXX` (a
/// surrogate pair beyond the BMP) or the short forms, as other JSON writers may emit them.
fn json_literal(text: &str, mask: &[bool]) -> String {
    let mut out = String::from("\"");
    for (i, c) in text.chars().enumerate() {
        let escape = mask.get(i % mask.len().max(1)).copied().unwrap_or(false);
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' if escape => out.push_str("\\n"),
            c if escape || (c as u32) < 0x20 => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{:04X}", u));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

proptest! {
    /// The header scanner reads any JSON writer's escapes: the decoded fields are the text
    /// that was written.
    #[test]
    fn json_header_reads_any_escaping(
        fields in proptest::collection::btree_map("\\PC{1,10}", "(\\PC|[\u{0}-\u{1f}]){0,24}", 0..6),
        remark in proptest::option::of("(\\PC|\n){0,20}"),
        mask in proptest::collection::vec(any::<bool>(), 1..8),
    ) {
        let ext: Vec<String> = fields
            .iter()
            .map(|(k, v)| format!("{} : {}", json_literal(k, &mask), json_literal(v, &mask)))
            .collect();
        let remark = remark.as_deref().map_or("null".to_string(), |r| json_literal(r, &mask));
        let header = format!(
            "{{\"code\":10, \"extFields\":{{{}}},\"remark\":{remark}}}",
            ext.join(",")
        );
        let mut frame = (header.len() as u32).to_be_bytes().to_vec();
        frame.extend_from_slice(header.as_bytes());
        let cmd = RemotingCommand::decode_frame(Bytes::from(frame)).unwrap();
        let expected: ExtFields = fields.iter().collect();
        prop_assert_eq!(cmd.ext_fields, expected);
        prop_assert_eq!(cmd.remark, remark_text(&remark));
    }
}

fn remark_text(literal: &str) -> Option<String> {
    serde_json::from_str::<Option<String>>(literal).unwrap()
}

fn route_data() -> impl Strategy<Value = TopicRouteData> {
    let broker = (
        "[a-z-]{1,10}",
        proptest::collection::btree_map(0i64..4, "[0-9.]{7,15}:[0-9]{2,5}", 1..4),
    )
        .prop_map(|(name, addrs)| BrokerData {
            broker_addrs: addrs,
            broker_name: name,
            cluster: "DefaultCluster".into(),
            ..Default::default()
        });
    let queue = ("[a-z-]{1,10}", 0i32..16, 0i32..16, 0i32..8).prop_map(|(b, r, w, p)| QueueData {
        broker_name: b,
        perm: p,
        read_queue_nums: r,
        write_queue_nums: w,
        topic_sys_flag: 0,
    });
    (
        proptest::collection::vec(broker, 0..4),
        proptest::collection::vec(queue, 0..4),
        proptest::option::of("[a-z:;0-9]{1,12}"),
    )
        .prop_map(|(b, q, order)| TopicRouteData {
            broker_datas: b,
            queue_datas: q,
            order_topic_conf: order,
            ..Default::default()
        })
}

proptest! {
    #[test]
    fn route_both_key_forms_round_trip(route in route_data(), standard in any::<bool>()) {
        let bytes = route.encode_route(standard);
        prop_assert!(!bytes.contains(&b' '), "no whitespace for the Go client's parser");
        prop_assert_eq!(TopicRouteData::decode(&bytes).unwrap(), route);
    }

    #[test]
    fn lenient_pass_never_panics(text in "[{}\\[\\]\\\\\":,0-9a-z ]{0,64}") {
        let _ = ferrumq::protocol::lenient::quote_bare_keys(text.as_bytes());
        let _ = ferrumq::protocol::lenient::unquote_numeric_keys(text.as_bytes());
        let _ = TopicRouteData::decode(text.as_bytes());
    }
}

#[test]
fn header_errors_name_the_field() {
    let mut ext = ExtFields::new();
    ext.insert("topic", "T");
    let e = PullMessageRequestHeader::from_ext(&ext).unwrap_err();
    assert_eq!(e.to_string(), "the custom field <consumerGroup> is null");
    ext.insert("consumerGroup", "g");
    ext.insert("queueId", "x1");
    let e = PullMessageRequestHeader::from_ext(&ext).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("invalid value for field <queueId>"),
        "{e}"
    );

    // V2 letters are reported under their long names.
    let cmd = RemotingCommand::new_request(RequestCode::SendMessageV2, Default::default());
    let e = SendMessageRequestHeader::decode(&cmd).unwrap_err();
    assert_eq!(e.to_string(), "the custom field <producerGroup> is null");
}

#[test]
fn json_header_leniency() {
    let hdr = br#"{"code":105,"language":1,"version":"63","opaque":7,"flag":0,"extFields":{"n":5,"b":true,"s":"x","z":null},"unknownKey":[1,2]}"#;
    let frame = |h: &[u8]| {
        let mut f = (h.len() as u32).to_be_bytes().to_vec();
        f.extend_from_slice(h);
        Bytes::from(f)
    };
    // Numbers as numeric strings are accepted, as fastjson does.
    assert_eq!(
        RemotingCommand::decode_frame(frame(hdr)).unwrap().version,
        63
    );
    assert!(RemotingCommand::decode_frame(frame(br#"{"code":"x"}"#)).is_err());
    assert!(RemotingCommand::decode_frame(frame(b"{not json")).is_err());
    let hdr = br#"{"code":105,"language":1,"version":63,"opaque":7,"flag":0,"extFields":{"n":5,"b":true,"s":"x","z":null},"unknownKey":[1,2]}
  "#;
    let cmd = RemotingCommand::decode_frame(frame(hdr)).unwrap();
    assert_eq!(cmd.language, LanguageCode::Cpp);
    assert_eq!(cmd.ext_fields.get("n").unwrap(), "5");
    assert_eq!(cmd.ext_fields.get("b").unwrap(), "true");
    assert!(!cmd.ext_fields.contains_key("z"));
    assert_eq!(cmd.remark, None);
}

#[test]
fn header_longer_than_frame_is_an_error() {
    let mut f = Vec::new();
    f.extend_from_slice(&100u32.to_be_bytes());
    f.extend_from_slice(b"{}");
    assert!(matches!(
        RemotingCommand::decode_frame(Bytes::from(f)),
        Err(ProtocolError::HeaderTooLong {
            header_len: 100,
            available: 2
        })
    ));
}

proptest! {
    /// The JSON header scanner never panics on malformed headers: JSON's own characters,
    /// escapes, digits and words in any order.
    #[test]
    fn json_header_scanner_never_panics(
        text in "[{}\\[\\]\",:\\\\/ 0-9a-zA-Z.eE+\\-\u{1}\u{e9}]{0,80}|\\{\"extFields\":\\{[\"a-z:,\\\\u0-9{}\\[\\] ]{0,60}",
    ) {
        let mut frame = (text.len() as u32).to_be_bytes().to_vec();
        frame.extend_from_slice(text.as_bytes());
        let _ = RemotingCommand::decode_frame(Bytes::from(frame));
    }
}
