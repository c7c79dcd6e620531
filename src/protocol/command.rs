//! `RemotingCommand` and the frame layout (wire doc §1.1, §1.2).

use bytes::{BufMut, Bytes, BytesMut};

use super::codes::{RequestCode, ResponseCode};
use super::error::{HeaderError, ProtocolError};
use super::ext_fields::ExtFields;
use super::header::CommandHeader;
use super::{binary_header, json_header};

/// Response bit of `flag`.
pub const FLAG_RESPONSE: i32 = 1;
/// Oneway bit of `flag`.
pub const FLAG_ONEWAY: i32 = 2;
/// MQVersion ordinal of RocketMQ 4.9.8, what FerrumQ reports.
pub const CURRENT_VERSION: i32 = 409;
/// Java's `frameMaxLength` default: 16 MiB.
pub const DEFAULT_MAX_FRAME_BYTES: usize = 16 * 1024 * 1024;
/// The header length must fit the low 24 bits of the header-length word.
const MAX_HEADER_BYTES: usize = 0x00FF_FFFF;

/// How the header of a frame is serialized (high byte of the header-length word).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SerializeType {
    #[default]
    Json = 0,
    RocketMq = 1,
}

impl SerializeType {
    pub fn name(self) -> &'static str {
        match self {
            SerializeType::Json => "JSON",
            SerializeType::RocketMq => "ROCKETMQ",
        }
    }
}

/// The sender's language (wire doc §1.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum LanguageCode {
    #[default]
    Java,
    Cpp,
    Dotnet,
    Python,
    Delphi,
    Erlang,
    Ruby,
    Other,
    Http,
    Go,
    Php,
    Oms,
    Rust,
    NodeJs,
}

const LANGUAGES: [(LanguageCode, &str); 14] = [
    (LanguageCode::Java, "JAVA"),
    (LanguageCode::Cpp, "CPP"),
    (LanguageCode::Dotnet, "DOTNET"),
    (LanguageCode::Python, "PYTHON"),
    (LanguageCode::Delphi, "DELPHI"),
    (LanguageCode::Erlang, "ERLANG"),
    (LanguageCode::Ruby, "RUBY"),
    (LanguageCode::Other, "OTHER"),
    (LanguageCode::Http, "HTTP"),
    (LanguageCode::Go, "GO"),
    (LanguageCode::Php, "PHP"),
    (LanguageCode::Oms, "OMS"),
    (LanguageCode::Rust, "RUST"),
    (LanguageCode::NodeJs, "NODE_JS"),
];

impl LanguageCode {
    pub fn code(self) -> u8 {
        self as u8
    }

    /// Unknown ordinals map to OTHER: the language is informational only.
    pub fn from_code(code: u8) -> Self {
        LANGUAGES
            .get(usize::from(code))
            .map_or(LanguageCode::Other, |(l, _)| *l)
    }

    pub fn name(self) -> &'static str {
        LANGUAGES
            .get(usize::from(self.code()))
            .map_or("OTHER", |(_, n)| n)
    }

    pub fn from_name(name: &str) -> Self {
        LANGUAGES
            .iter()
            .find(|(_, n)| *n == name)
            .map_or(LanguageCode::Other, |(l, _)| *l)
    }
}

/// One request or response.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RemotingCommand {
    pub code: i32,
    pub language: LanguageCode,
    pub version: i32,
    pub opaque: i32,
    pub flag: i32,
    pub remark: Option<String>,
    pub ext_fields: ExtFields,
    pub body: Bytes,
    /// More body after `body`, sent as it is (a pull's records are slices of the mapped
    /// CommitLog: the writer hands them to the socket without copying them together).
    /// Decoded commands always have it empty.
    pub body_parts: Vec<Bytes>,
    pub serialize_type: SerializeType,
}

impl RemotingCommand {
    /// A JSON request, version 409, language JAVA, opaque 0 (the client assigns it).
    pub fn new_request(code: RequestCode, ext_fields: ExtFields) -> Self {
        RemotingCommand {
            code: code.into(),
            version: CURRENT_VERSION,
            ext_fields,
            ..Default::default()
        }
    }

    /// A JSON response; the caller sets `opaque` (or use [`RemotingCommand::response_to`]).
    pub fn new_response(code: ResponseCode, remark: Option<String>) -> Self {
        RemotingCommand {
            code: code.into(),
            version: CURRENT_VERSION,
            flag: FLAG_RESPONSE,
            remark,
            ..Default::default()
        }
    }

    /// The response to this request: same opaque and serialize type.
    pub fn response_to(&self, code: ResponseCode, remark: impl Into<Option<String>>) -> Self {
        RemotingCommand {
            code: code.into(),
            version: CURRENT_VERSION,
            opaque: self.opaque,
            flag: FLAG_RESPONSE,
            remark: remark.into(),
            serialize_type: self.serialize_type,
            ..Default::default()
        }
    }

    pub fn with_body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// Merges the header's fields into `ext_fields`.
    pub fn with_header<H: CommandHeader>(mut self, h: &H) -> Self {
        if self.ext_fields.is_empty() {
            self.ext_fields = h.to_ext();
        } else {
            self.ext_fields.extend(&h.to_ext());
        }
        self
    }

    pub fn decode_header<H: CommandHeader>(&self) -> Result<H, HeaderError> {
        H::from_ext(&self.ext_fields)
    }

    pub fn request_code(&self) -> RequestCode {
        RequestCode::from(self.code)
    }

    pub fn response_code(&self) -> ResponseCode {
        ResponseCode::from(self.code)
    }

    pub fn is_response(&self) -> bool {
        self.flag & FLAG_RESPONSE != 0
    }

    pub fn is_oneway(&self) -> bool {
        self.flag & FLAG_ONEWAY != 0
    }

    pub fn mark_oneway(&mut self) {
        self.flag |= FLAG_ONEWAY;
    }

    /// Decodes a frame: `frame` is everything after the length word.
    pub fn decode_frame(frame: Bytes) -> Result<Self, ProtocolError> {
        let word_bytes: [u8; 4] =
            frame
                .get(..4)
                .and_then(|s| s.try_into().ok())
                .ok_or(ProtocolError::Truncated {
                    need: 4,
                    have: frame.len(),
                })?;
        let word = u32::from_be_bytes(word_bytes);
        let header_len = (word & 0x00FF_FFFF) as usize;
        let available = frame.len() - 4;
        if header_len > available {
            return Err(ProtocolError::HeaderTooLong {
                header_len,
                available,
            });
        }
        let header = frame.slice(4..4 + header_len);
        let mut cmd = match (word >> 24) as u8 {
            0 => json_header::decode(&header)?,
            1 => binary_header::decode(&header)?,
            other => return Err(ProtocolError::UnknownSerializeType(other)),
        };
        cmd.body = frame.slice(4 + header_len..);
        Ok(cmd)
    }

    /// Body bytes on the wire: `body` and every part.
    pub fn body_len(&self) -> usize {
        self.body.len() + self.body_parts.iter().map(Bytes::len).sum::<usize>()
    }

    /// Appends the whole frame, length word included.
    pub fn encode(&self, dst: &mut BytesMut) {
        self.encode_head(dst);
        dst.extend_from_slice(&self.body);
        for part in &self.body_parts {
            dst.extend_from_slice(part);
        }
    }

    /// Appends the frame up to the body (length word counting the body to come); the caller
    /// sends `body` and `body_parts` after it.
    pub fn encode_head(&self, dst: &mut BytesMut) {
        let start = dst.len();
        // Placeholders for the length and header-length words, patched below.
        dst.put_u64(0);
        match self.serialize_type {
            SerializeType::Json => json_header::encode(self, dst),
            SerializeType::RocketMq => binary_header::encode(self, dst),
        }
        let header_len = dst.len() - start - 8;
        debug_assert!(
            header_len <= MAX_HEADER_BYTES,
            "header of {header_len} bytes"
        );
        let total = (dst.len() - start - 4 + self.body_len()) as u32;
        let word = ((self.serialize_type as u32) << 24) | (header_len as u32 & 0x00FF_FFFF);
        if let Some(prefix) = dst.get_mut(start..start + 8) {
            let (len_word, header_word) = prefix.split_at_mut(4);
            len_word.copy_from_slice(&total.to_be_bytes());
            header_word.copy_from_slice(&word.to_be_bytes());
        }
    }

    /// Convenience: the encoded frame as one buffer.
    pub fn encode_to_bytes(&self) -> Bytes {
        let mut buf = BytesMut::with_capacity(256 + self.body_len());
        self.encode(&mut buf);
        buf.freeze()
    }
}
