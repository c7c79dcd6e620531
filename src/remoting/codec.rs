//! Length-delimited framing with a size limit (wire doc §1.1). Checks the length word
//! before buffering anything; a partial frame is `Ok(None)`, not an error.

use bytes::{Buf, BytesMut};
use thiserror::Error;
use tokio_util::codec::{Decoder, Encoder};

use crate::protocol::{ProtocolError, RemotingCommand, DEFAULT_MAX_FRAME_BYTES};

/// A framing error: the stream cannot be resynchronised, so the connection must close.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum FrameError {
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// Decodes frames; a frame whose header cannot be parsed is yielded as `Err` inside `Ok`,
/// since the framing itself is still intact and the connection can go on.
#[derive(Debug, Clone, Copy)]
pub struct FrameCodec {
    /// Limit on `length + 4`, as Java's `frameMaxLength`.
    pub max_frame_bytes: usize,
}

impl Default for FrameCodec {
    fn default() -> Self {
        FrameCodec {
            max_frame_bytes: DEFAULT_MAX_FRAME_BYTES,
        }
    }
}

impl FrameCodec {
    pub fn new(max_frame_bytes: usize) -> Self {
        FrameCodec { max_frame_bytes }
    }

    /// Total bytes of the frame at the front of `src` (length word included), once the
    /// length word is there and valid.
    pub fn frame_len(&self, src: &[u8]) -> Result<Option<usize>, ProtocolError> {
        let Some(word) = src.get(..4).and_then(|w| <[u8; 4]>::try_from(w).ok()) else {
            return Ok(None);
        };
        let len = i32::from_be_bytes(word);
        // The header-length word alone needs 4 bytes.
        if len < 4 {
            return Err(ProtocolError::InvalidLength(i64::from(len)));
        }
        let total = len as usize + 4;
        if total > self.max_frame_bytes {
            return Err(ProtocolError::FrameTooLarge {
                len: total,
                max: self.max_frame_bytes,
            });
        }
        Ok(Some(total))
    }
}

impl Decoder for FrameCodec {
    type Item = Result<RemotingCommand, ProtocolError>;
    type Error = FrameError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Self::Item>, FrameError> {
        let Some(total) = self.frame_len(src)? else {
            return Ok(None);
        };
        if src.len() < total {
            return Ok(None);
        }
        let mut frame = src.split_to(total);
        frame.advance(4);
        Ok(Some(RemotingCommand::decode_frame(frame.freeze())))
    }
}

impl Encoder<RemotingCommand> for FrameCodec {
    type Error = FrameError;

    fn encode(&mut self, cmd: RemotingCommand, dst: &mut BytesMut) -> Result<(), FrameError> {
        cmd.encode(dst);
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::protocol::RequestCode;

    #[test]
    fn partial_frames_wait_and_bad_lengths_fail() {
        let mut c = FrameCodec::new(1024);
        let cmd = RemotingCommand::new_request(RequestCode::HeartBeat, Default::default());
        let full = cmd.encode_to_bytes();
        let mut buf = BytesMut::from(&full[..full.len() - 1]);
        assert!(c.decode(&mut buf).unwrap().is_none());
        buf.extend_from_slice(&full[full.len() - 1..]);
        assert_eq!(c.decode(&mut buf).unwrap().unwrap().unwrap().code, 34);
        assert!(buf.is_empty());

        for len in [0i32, -1, 3, 2000] {
            let mut buf = BytesMut::from(&len.to_be_bytes()[..]);
            assert!(c.decode(&mut buf).is_err(), "length {len}");
        }
    }
}
