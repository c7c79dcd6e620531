//! Frames captured from the official C++ client (tests/golden/README.md) decode to the
//! values it meant, including its quirks (wire doc §1.3, §10.1).

use bytes::Bytes;
use ferrumq::protocol::*;

fn frame(name: &str) -> RemotingCommand {
    let path = format!("{}/tests/golden/{name}", env!("CARGO_MANIFEST_DIR"));
    let bytes = std::fs::read(&path).unwrap();
    let len = i32::from_be_bytes(bytes[..4].try_into().unwrap()) as usize;
    assert_eq!(
        len + 4,
        bytes.len(),
        "{name}: length word counts everything after itself"
    );
    RemotingCommand::decode_frame(Bytes::from(bytes).slice(4..)).unwrap()
}

#[test]
fn route_request_from_cpp() {
    let cmd = frame("cpp_get_routeinfo_by_topic.bin");
    assert_eq!(cmd.request_code(), RequestCode::GetRouteinfoByTopic);
    assert_eq!(cmd.language, LanguageCode::Cpp);
    assert_eq!(cmd.version, 63);
    assert_eq!(cmd.remark.as_deref(), Some(""));
    assert_eq!(cmd.serialize_type, SerializeType::Json);
    assert!(!cmd.is_response() && !cmd.is_oneway());
    let h: GetRouteInfoRequestHeader = cmd.decode_header().unwrap();
    assert_eq!(h.topic, "GoldenTopic");
    assert!(!h.accept_standard_json_only);
    assert!(cmd.body.is_empty());
}

#[test]
fn send_message_from_cpp_with_numeric_ext_fields() {
    let cmd = frame("cpp_send_message.bin");
    assert_eq!(cmd.request_code(), RequestCode::SendMessage);
    // JSON numbers in extFields become their decimal text.
    assert_eq!(cmd.ext_fields.get("queueId").unwrap(), "0");
    assert_eq!(cmd.ext_fields.get("defaultTopicQueueNums").unwrap(), "4");
    let h = SendMessageRequestHeader::decode(&cmd).unwrap();
    assert_eq!(h.producer_group, "GoldenPG");
    assert_eq!(h.topic, "GoldenTopic");
    assert_eq!(h.default_topic, "TBW102");
    assert_eq!(h.default_topic_queue_nums, 4);
    assert_eq!((h.queue_id, h.sys_flag, h.flag), (0, 0, 0));
    assert!(h.born_timestamp.unwrap() > 1_700_000_000_000);
    assert!(
        !h.batch && !h.unit_mode,
        "C++ writes booleans as \"0\"/\"1\""
    );
    assert_eq!(h.reconsume_times, 0);
    let props = h.properties;
    assert!(props.starts_with("KEYS\u{1}k1\u{2}TAGS\u{1}TagA\u{2}UNIQ_KEY\u{1}"));
    assert_eq!(&cmd.body[..], b"hello golden");
}

#[test]
fn heartbeat_from_cpp_push_consumer() {
    let cmd = frame("cpp_heart_beat.bin");
    assert_eq!(cmd.request_code(), RequestCode::HeartBeat);
    let hb = HeartbeatData::decode(&cmd.body).unwrap();
    assert!(hb.client_id.ends_with("-127.0.0.1@DEFAULT"));
    assert_eq!(hb.producer_data_set[0].group_name, "GoldenPG");
    let c = &hb.consumer_data_set[0];
    assert_eq!(c.group_name, "GoldenCG");
    assert_eq!(c.consume_type, ConsumeType::ConsumePassively);
    assert_eq!(c.message_model, MessageModel::Clustering);
    assert_eq!(
        c.consume_from_where,
        ConsumeFromWhere::ConsumeFromLastOffset
    );
    let retry = &c.subscription_data_set[0];
    assert_eq!(retry.topic, "%RETRY%GoldenCG");
    assert!(retry.tags_set.is_empty() && retry.code_set.is_empty());
    let sub = &c.subscription_data_set[1];
    assert_eq!(sub.topic, "GoldenTopic");
    assert_eq!(sub.sub_string, "TagA || TagB");
    assert_eq!(sub.tags_set, ["TagA", "TagB"]);
    assert_eq!(
        sub.code_set,
        [0, 0],
        "C++ sends atoi(tag), not the Java hash"
    );
    assert!(
        sub.sub_version > 1_700_000_000_000,
        "subVersion arrives as a string"
    );
    assert_eq!(sub.expression_type, "TAG");
}

#[test]
fn unregister_client_and_consumer_list_from_cpp() {
    let cmd = frame("cpp_unregister_client.bin");
    let h: UnregisterClientRequestHeader = cmd.decode_header().unwrap();
    assert!(h.client_id.ends_with("@DEFAULT"));
    assert_eq!(h.consumer_group.as_deref(), Some("GoldenCG"));
    assert_eq!(h.producer_group.as_deref(), Some(""));

    let cmd = frame("cpp_get_consumer_list_by_group.bin");
    let h: GetConsumerListByGroupRequestHeader = cmd.decode_header().unwrap();
    assert_eq!(h.consumer_group, "GoldenCG");
}

#[test]
fn reply_to_cpp_is_strict_json_with_string_ext_fields() {
    let req = frame("cpp_send_message.bin");
    let resp =
        req.response_to(ResponseCode::Success, None)
            .with_header(&SendMessageResponseHeader {
                msg_id: "7F00000100002A9F0000000000000000".into(),
                queue_id: 3,
                queue_offset: 42,
                ..Default::default()
            });
    let bytes = resp.encode_to_bytes();
    let header_len = (u32::from_be_bytes(bytes[4..8].try_into().unwrap()) & 0xFF_FFFF) as usize;
    assert_eq!(bytes[4], 0, "JSON type byte: C++ does not mask it");
    let v: serde_json::Value = serde_json::from_slice(&bytes[8..8 + header_len]).unwrap();
    assert_eq!(v["opaque"], req.opaque);
    assert_eq!(v["flag"], 1);
    assert_eq!(v["language"], "JAVA");
    assert_eq!(v["version"], 409);
    assert_eq!(v["extFields"]["queueId"], "3");
    assert_eq!(v["extFields"]["queueOffset"], "42");
}
