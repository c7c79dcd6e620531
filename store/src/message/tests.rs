//! Record codec tests (DESIGN.md §1 invariants R1, R3, R4).

use super::*;
use proptest::prelude::*;

fn host() -> impl Strategy<Value = SocketAddr> {
    prop_oneof![
        (any::<[u8; 4]>(), any::<u16>())
            .prop_map(|(ip, p)| SocketAddr::new(IpAddr::V4(Ipv4Addr::from(ip)), p)),
        (any::<[u8; 16]>(), any::<u16>())
            .prop_map(|(ip, p)| SocketAddr::new(IpAddr::V6(Ipv6Addr::from(ip)), p)),
    ]
}

fn topic() -> impl Strategy<Value = String> {
    "[%|a-zA-Z0-9_-]{1,127}"
}

#[derive(Debug, Clone)]
struct Input {
    queue_id: i32,
    flag: i32,
    sys_flag: i32,
    born_ts: i64,
    born_host: SocketAddr,
    store_host: SocketAddr,
    reconsume: i32,
    prepared: i64,
    body: Vec<u8>,
    topic: String,
    properties: String,
}

fn input() -> impl Strategy<Value = Input> {
    (
        (any::<i32>(), any::<i32>(), any::<i32>(), any::<i64>()),
        (host(), host(), any::<i32>(), any::<i64>()),
        (
            proptest::collection::vec(any::<u8>(), 0..600),
            topic(),
            "\\PC{0,200}",
        ),
    )
        .prop_map(
            |(
                (queue_id, flag, sys_flag, born_ts),
                (born_host, store_host, reconsume, prepared),
                (body, topic, properties),
            )| Input {
                queue_id,
                flag,
                sys_flag,
                born_ts,
                born_host,
                store_host,
                reconsume,
                prepared,
                body,
                topic,
                properties,
            },
        )
}

fn encode(i: &Input) -> Vec<u8> {
    let mut buf = Vec::new();
    encode_record(
        &mut buf,
        &RecordInput {
            queue_id: i.queue_id,
            flag: i.flag,
            sys_flag: i.sys_flag,
            born_timestamp_ms: i.born_ts,
            born_host: i.born_host,
            store_host: i.store_host,
            reconsume_times: i.reconsume,
            prepared_transaction_offset: i.prepared,
            body: &i.body,
            topic: &i.topic,
            properties: &i.properties,
        },
    );
    buf
}

proptest! {
    /// R1: decode(encode(x)) == x, TOTALSIZE == buffer length, host flags follow the addresses.
    #[test]
    fn round_trip(i in input()) {
        let buf = encode(&i);
        let r = decode_record_checked(&buf, true).unwrap();
        prop_assert_eq!(r.total_size, buf.len());
        prop_assert_eq!(r.queue_id, i.queue_id);
        prop_assert_eq!(r.flag, i.flag);
        prop_assert_eq!(r.born_timestamp_ms, i.born_ts);
        prop_assert_eq!(r.born_host, i.born_host);
        prop_assert_eq!(r.store_host, i.store_host);
        prop_assert_eq!(r.reconsume_times, i.reconsume);
        prop_assert_eq!(r.prepared_transaction_offset, i.prepared);
        prop_assert_eq!(r.body, &i.body[..]);
        prop_assert_eq!(r.topic, &i.topic[..]);
        prop_assert_eq!(r.properties, &i.properties[..]);
        prop_assert_eq!(r.sys_flag & FLAG_BORNHOST_V6 != 0, i.born_host.is_ipv6());
        prop_assert_eq!(r.sys_flag & FLAG_STOREHOST_V6 != 0, i.store_host.is_ipv6());
        prop_assert_eq!(r.sys_flag & !0x30, i.sys_flag & !0x30);
    }

    /// R3: decoding arbitrary bytes never panics.
    #[test]
    fn decode_arbitrary_never_panics(b in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = decode_record_checked(&b, true);
        let _ = decode_records(&b);
        let _ = peek_header(&b);
    }

    /// R3: a valid record with one byte flipped or truncated never panics, and a flipped
    /// body byte is caught by the CRC (R4).
    #[test]
    fn damaged_records_never_panic(i in input(), pos in any::<prop::sample::Index>(), cut in any::<prop::sample::Index>()) {
        let mut buf = encode(&i);
        let p = pos.index(buf.len());
        buf[p] ^= 0x5A;
        let res = decode_record_checked(&buf, true);
        let body_start = 84 + 4 + if i.born_host.is_ipv6() { 12 } else { 0 } + if i.store_host.is_ipv6() { 12 } else { 0 };
        if p >= body_start && p < body_start + i.body.len() {
            let is_crc_err = matches!(res, Err(RecordError::BadCrc { .. }));
            prop_assert!(is_crc_err);
        }
        let c = cut.index(buf.len());
        prop_assert!(decode_record(&buf[..c]).is_err());
    }

    #[test]
    fn properties_round_trip(p in proptest::collection::vec(("[a-zA-Z_]{1,10}", "[^\u{1}\u{2}]{1,20}"), 0..8)) {
        let mut dedup: Vec<(String, String)> = Vec::new();
        for (k, v) in p {
            if let Some(slot) = dedup.iter_mut().find(|(ok, _)| *ok == k) { slot.1 = v } else { dedup.push((k, v)) }
        }
        let s = encode_properties(&dedup);
        let trailing = s.ends_with('\u{2}');
        prop_assert!(!trailing);
        prop_assert_eq!(parse_properties(&s), dedup.clone());
        prop_assert_eq!(parse_properties(&format!("{s}\u{2}")), dedup);
    }

    #[test]
    fn offset_msg_id_round_trip(h in host(), off in any::<i64>()) {
        let id = offset_msg_id(h, off);
        prop_assert_eq!(id.len(), if h.is_ipv4() { 32 } else { 56 });
        prop_assert_eq!(decode_offset_msg_id(&id), Some((h, off)));
    }
}

#[test]
fn java_hash_matches_java() {
    assert_eq!(java_string_hash("TagA"), 2_598_919);
    assert_eq!(java_string_hash(""), 0);
    assert_eq!(java_string_hash("polygenelubricants"), i32::MIN);
    assert_eq!(tag_code("TagA"), 2_598_919);
    assert_eq!(tag_code(""), 0);
    assert_eq!(tag_code("polygenelubricants"), i64::from(i32::MIN));
}

#[test]
fn properties_lenient_like_java() {
    let p = parse_properties("a\u{1}1\u{2}\u{1}x\u{2}b\u{1}\u{2}c\u{1}3\u{2}a\u{1}9");
    assert_eq!(
        p,
        vec![
            ("a".to_string(), "9".to_string()),
            ("c".to_string(), "3".to_string())
        ]
    );
    assert_eq!(
        find_property("KEYS\u{1}k1 k2\u{2}TAGS\u{1}T", "TAGS"),
        Some("T")
    );
}

#[test]
fn ipv4_layout_matches_wire_doc() {
    let i = Input {
        queue_id: 3,
        flag: 0,
        sys_flag: 0,
        born_ts: 1,
        born_host: "127.0.0.1:10911".parse().unwrap(),
        store_host: "127.0.0.1:10911".parse().unwrap(),
        reconsume: 0,
        prepared: 0,
        body: b"hi".to_vec(),
        topic: "T".into(),
        properties: String::new(),
    };
    let b = encode(&i);
    assert_eq!(b.len(), 91 + 2 + 1);
    assert_eq!(&b[4..8], &MAGIC_V1.to_be_bytes());
    assert_eq!(&b[48..56], &[0x7F, 0, 0, 1, 0, 0, 0x2A, 0x9F]);
    assert_eq!(&b[8..12], &body_crc(b"hi").to_be_bytes());
    assert_eq!(body_crc(b"hi") & 0x8000_0000, 0);
    assert_eq!(store_timestamp_pos(0), 56);
}

#[test]
fn offset_msg_id_ipv4_is_uppercase_hex() {
    let id = offset_msg_id("127.0.0.1:10911".parse().unwrap(), 0x1234);
    assert_eq!(id, "7F00000100002A9F0000000000001234");
    assert_eq!(decode_offset_msg_id("xyz"), None);
    assert_eq!(
        decode_offset_msg_id("7F00000100002A9F000000000000123"),
        None
    );
}

#[test]
fn topic_validation() {
    assert!(validate_topic("%RETRY%group|x_y-z").is_ok());
    assert!(validate_topic("a.b").is_err());
    assert!(validate_topic("").is_err());
    assert!(validate_topic(&"t".repeat(127)).is_ok());
    assert!(validate_topic(&"t".repeat(128)).is_err());
}
