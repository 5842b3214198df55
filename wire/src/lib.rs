//! The audioMi TCP protocol, as pure functions over byte buffers (no I/O, no async).
//!
//! Every integer is **little-endian**. The three messages of the original tool are kept
//! byte-for-byte:
//!
//! | message | direction | bytes |
//! | --- | --- | --- |
//! | PING  | client → server | `checkcode: i32, cmd: i32 = 99` (8 B) |
//! | ACK   | server → client | `checkcode: i32, cmd: i32 = 99, status: u8 = 0` (9 B) |
//! | AUDIO | server → client | `checkcode: i32, cmd: i32 = 1, size: i32, size B of PCM16 LE mono` |
//!
//! Any other command a client sends is an 8-byte header ([`ClientFrame::Other`]); the server logs
//! and ignores it, as the original did. A frame whose checkcode differs from the agreed one is a
//! protocol error ([`Error::WrongCheckcode`]): the peer closes that connection.
//!
//! audioMi adds opt-in extensions that a legacy client never sees (see `docs/PROTOCOL.md`): a
//! client sends [`ClientFrame::ExtHello`] (8 bytes, so the original server skips it as an unknown
//! command) and from then on the server tells it the stream's format ([`ServerFrame::Format`]) and
//! sends audio with its running sample position ([`ServerFrame::AudioAt`]).
//!
//! Decoders follow the `tokio_util::codec::Decoder` contract: `Ok(None)` means "need more bytes"
//! (the buffer is left untouched), `Ok(Some(frame))` consumes exactly that frame's bytes, and every
//! declared size is validated **before** anything is reserved or allocated.

use bytes::{Buf, BufMut, Bytes, BytesMut};

/// The checkcode (protocol "magic number") of the original tool: 20,250,918 (`26 01 35 01` on the wire).
pub const DEFAULT_CHECKCODE: i32 = 20_250_918;
/// The TCP port of the original tool.
pub const DEFAULT_PORT: u16 = 26070;
/// The stream's sample rate in Hz when nothing else is negotiated (the original's fixed rate).
pub const DEFAULT_SAMPLE_RATE: u32 = 16_000;

/// Command number of AUDIO (server → client).
pub const CMD_AUDIO: i32 = 1;
/// Command number of PING (client → server) and of its ACK (server → client).
pub const CMD_PING: i32 = 99;
/// Extension: the client opts in to the extensions (client → server, 8 bytes).
pub const CMD_EXT_HELLO: i32 = 100;
/// Extension: the stream's format (server → client, only after [`CMD_EXT_HELLO`]).
pub const CMD_EXT_FORMAT: i32 = 101;
/// Extension: audio with its running sample position (server → client, only after [`CMD_EXT_HELLO`]).
pub const CMD_EXT_AUDIO_AT: i32 = 102;
/// Extension: the client's name for the server's list of receivers (client → server, sized:
/// `size: i32` then `size` bytes of UTF-8, at most [`MAX_NAME_LEN`]). Sent only to a server whose
/// FORMAT has [`FEATURE_CLIENT_NAME`], so neither the original server nor an older audioMi ever
/// receives it.
pub const CMD_EXT_NAME: i32 = 103;

/// Bit of FORMAT's `features`: the server accepts [`CMD_EXT_NAME`].
pub const FEATURE_CLIENT_NAME: u32 = 1;
/// Longest client name, in bytes of UTF-8: 64. Longer names are cut (at a character boundary)
/// by the encoder and refused by the decoder before anything is allocated.
pub const MAX_NAME_LEN: usize = 64;

/// Length in bytes of a command header: `checkcode: i32, cmd: i32`.
pub const HEADER_LEN: usize = 8;
/// Length in bytes of an ACK: header plus `status: u8`.
pub const ACK_LEN: usize = 9;
/// Length in bytes of a sized frame's header: `checkcode: i32, cmd: i32, size: i32`.
pub const SIZED_HEADER_LEN: usize = 12;

/// Largest payload, in bytes, that a decoder accepts in one sized frame: 1 MiB.
///
/// A frame's size is declared by the peer, so it bounds what one connection can make us buffer.
/// 1 MiB holds 524,288 PCM16 samples: 32.8 s at 16 kHz mono, or a 1 s chunk at up to 524 kHz.
/// audioMi sends 20 ms chunks (640 B at 16 kHz) and the original sent about 682 B per frame, so
/// real streams stay three orders of magnitude below the limit.
pub const MAX_PAYLOAD: usize = 1 << 20;

/// Largest FORMAT payload accepted, in bytes. Later versions may append fields, which older
/// decoders skip.
pub const MAX_FORMAT_LEN: usize = 256;
/// Length in bytes of the FORMAT payload audioMi sends: version 1's [`MIN_FORMAT_LEN`] bytes plus
/// `features: u32` (version 2).
pub const FORMAT_LEN: usize = 16;
/// Length in bytes of a version-1 FORMAT payload (no `features`): the least a decoder accepts.
pub const MIN_FORMAT_LEN: usize = 12;
/// Length in bytes of the position field that starts an AUDIO_AT payload.
pub const POSITION_LEN: usize = 8;

/// A protocol error: the connection it came from cannot be trusted any more and should be closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The frame's checkcode is not the agreed one.
    #[error("wrong checkcode: expected {expected}, got {got}")]
    WrongCheckcode {
        /// The checkcode this side was configured with.
        expected: i32,
        /// The checkcode found in the frame.
        got: i32,
    },
    /// A frame declared a negative payload size (bytes).
    #[error("frame with command {cmd} declares a negative size ({size} bytes)")]
    NegativeSize {
        /// The frame's command number.
        cmd: i32,
        /// The declared size in bytes.
        size: i32,
    },
    /// A PCM16 payload whose size (bytes) is odd, so it does not hold whole samples.
    #[error(
        "frame with command {cmd} declares an odd size ({size} bytes); PCM16 needs whole 2-byte samples"
    )]
    OddSize {
        /// The frame's command number.
        cmd: i32,
        /// The declared size in bytes.
        size: i32,
    },
    /// A frame declared a payload larger than the limit for its command (bytes).
    #[error("frame with command {cmd} declares {size} bytes, more than the limit of {max} bytes")]
    Oversize {
        /// The frame's command number.
        cmd: i32,
        /// The declared size in bytes.
        size: i32,
        /// The limit in bytes.
        max: usize,
    },
    /// A sized extension frame too short to hold its fixed fields (bytes).
    #[error("frame with command {cmd} declares {size} bytes, fewer than its {min} fixed bytes")]
    Undersize {
        /// The frame's command number.
        cmd: i32,
        /// The declared size in bytes.
        size: i32,
        /// The minimum in bytes.
        min: usize,
    },
    /// A server → client frame with a command this decoder does not know, so its length is unknown.
    #[error("unknown command {cmd} from the server")]
    UnknownCommand {
        /// The command number.
        cmd: i32,
    },
}

/// A frame sent by a client to the server: an 8-byte header ([`HEADER_LEN`]), except
/// [`ClientFrame::Name`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientFrame {
    /// PING (`cmd` 99): the server answers with [`ServerFrame::Ack`].
    Ping,
    /// Extension opt-in (`cmd` 100): the server answers with [`ServerFrame::Format`] and sends audio
    /// as [`ServerFrame::AudioAt`] from then on. The original server ignores it.
    ExtHello,
    /// Extension NAME (`cmd` 103, sized): the receiver's name, at most [`MAX_NAME_LEN`] bytes of
    /// UTF-8 (invalid sequences decode as U+FFFD).
    Name(String),
    /// Any other command: logged and ignored by the server.
    Other(i32),
}

/// The stream's format, sent in [`ServerFrame::Format`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StreamFormat {
    /// Samples per second per channel, in Hz.
    pub sample_rate: u32,
    /// Number of interleaved channels (audioMi streams mono: 1).
    pub channels: u16,
    /// Bits per sample (always 16: PCM16 LE).
    pub bits_per_sample: u16,
    /// Identifies one run of one server: positions are comparable only within the same id.
    pub stream_id: u32,
    /// What the server accepts beyond version 1, as bits ([`FEATURE_CLIENT_NAME`]); 0 from a
    /// version-1 FORMAT.
    pub features: u32,
}

impl StreamFormat {
    /// The format of the original tool: 16 kHz, mono, PCM16, with the given stream id.
    pub fn legacy(stream_id: u32) -> Self {
        Self {
            sample_rate: DEFAULT_SAMPLE_RATE,
            channels: 1,
            bits_per_sample: 16,
            stream_id,
            features: 0,
        }
    }
}

/// A frame sent by the server to a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerFrame {
    /// ACK of a PING (`cmd` 99); `status` 0 means OK.
    Ack {
        /// 0 for OK; anything else is a failure the client should report.
        status: u8,
    },
    /// AUDIO (`cmd` 1): PCM16 LE mono bytes; the length is even and at most [`MAX_PAYLOAD`].
    Audio(Bytes),
    /// Extension FORMAT (`cmd` 101): payload `sample_rate: u32, channels: u16,
    /// bits_per_sample: u16, stream_id: u32, features: u32` (16 B; a 12-byte version-1 payload has
    /// no `features`; longer payloads are accepted, the rest skipped).
    Format(StreamFormat),
    /// Extension AUDIO_AT (`cmd` 102): payload `position: u64` (index, in samples per channel since
    /// the stream started, of the first sample in this frame) followed by PCM16 LE bytes.
    AudioAt {
        /// Index of the first sample of `pcm` in the stream, in samples per channel.
        position: u64,
        /// PCM16 LE bytes; even length, at most [`MAX_PAYLOAD`].
        pcm: Bytes,
    },
}

/// Encoder and decoder for both directions, bound to one checkcode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Codec {
    /// The checkcode written into every frame and required in every decoded frame.
    pub checkcode: i32,
}

impl Default for Codec {
    fn default() -> Self {
        Self::new(DEFAULT_CHECKCODE)
    }
}

impl Codec {
    /// A codec for `checkcode`.
    pub fn new(checkcode: i32) -> Self {
        Self { checkcode }
    }

    /// Appends a client frame to `out`: [`HEADER_LEN`] bytes, or for [`ClientFrame::Name`] a sized
    /// frame whose name is cut to [`MAX_NAME_LEN`] bytes at a character boundary.
    pub fn encode_client(&self, frame: &ClientFrame, out: &mut BytesMut) {
        let cmd = match frame {
            ClientFrame::Ping => CMD_PING,
            ClientFrame::ExtHello => CMD_EXT_HELLO,
            ClientFrame::Other(cmd) => *cmd,
            ClientFrame::Name(name) => {
                let mut end = name.len().min(MAX_NAME_LEN);
                while !name.is_char_boundary(end) {
                    end -= 1;
                }
                out.reserve(SIZED_HEADER_LEN + end);
                out.put_i32_le(self.checkcode);
                out.put_i32_le(CMD_EXT_NAME);
                out.put_i32_le(len_i32(end));
                out.put_slice(&name.as_bytes()[..end]);
                return;
            }
        };
        out.reserve(HEADER_LEN);
        out.put_i32_le(self.checkcode);
        out.put_i32_le(cmd);
    }

    /// Decodes one client frame from the front of `buf`.
    ///
    /// Returns `Ok(None)` while the frame is incomplete (fewer than [`HEADER_LEN`] bytes, or a
    /// NAME frame not yet whole).
    ///
    /// # Errors
    /// [`Error::WrongCheckcode`] if the header's checkcode is not this codec's;
    /// [`Error::NegativeSize`] or [`Error::Oversize`] for a NAME frame longer than
    /// [`MAX_NAME_LEN`], detected before anything is allocated.
    pub fn decode_client(&self, buf: &mut BytesMut) -> Result<Option<ClientFrame>, Error> {
        if buf.len() < HEADER_LEN {
            return Ok(None);
        }
        let (checkcode, cmd) = peek_header(buf);
        self.check(checkcode)?;
        if cmd == CMD_EXT_NAME {
            if buf.len() < SIZED_HEADER_LEN {
                return Ok(None);
            }
            let size = i32::from_le_bytes([buf[8], buf[9], buf[10], buf[11]]);
            let len = validate_size(cmd, size, 0, MAX_NAME_LEN, None)?;
            if buf.len() < SIZED_HEADER_LEN + len {
                return Ok(None);
            }
            buf.advance(SIZED_HEADER_LEN);
            let name = buf.split_to(len);
            return Ok(Some(ClientFrame::Name(
                String::from_utf8_lossy(&name).into_owned(),
            )));
        }
        buf.advance(HEADER_LEN);
        Ok(Some(match cmd {
            CMD_PING => ClientFrame::Ping,
            CMD_EXT_HELLO => ClientFrame::ExtHello,
            other => ClientFrame::Other(other),
        }))
    }

    /// Appends a server frame to `out`.
    ///
    /// Payload lengths are not checked here: the caller sends what it produced. Use
    /// [`Codec::encode_audio`] to encode PCM straight from a byte slice.
    pub fn encode_server(&self, frame: &ServerFrame, out: &mut BytesMut) {
        match frame {
            ServerFrame::Ack { status } => {
                out.reserve(ACK_LEN);
                out.put_i32_le(self.checkcode);
                out.put_i32_le(CMD_PING);
                out.put_u8(*status);
            }
            ServerFrame::Audio(pcm) => self.encode_audio(pcm, out),
            ServerFrame::Format(format) => {
                out.reserve(SIZED_HEADER_LEN + FORMAT_LEN);
                out.put_i32_le(self.checkcode);
                out.put_i32_le(CMD_EXT_FORMAT);
                out.put_i32_le(FORMAT_LEN as i32);
                out.put_u32_le(format.sample_rate);
                out.put_u16_le(format.channels);
                out.put_u16_le(format.bits_per_sample);
                out.put_u32_le(format.stream_id);
                out.put_u32_le(format.features);
            }
            ServerFrame::AudioAt { position, pcm } => self.encode_audio_at(*position, pcm, out),
        }
    }

    /// Appends an AUDIO frame carrying `pcm` (PCM16 LE bytes) to `out`.
    pub fn encode_audio(&self, pcm: &[u8], out: &mut BytesMut) {
        out.reserve(SIZED_HEADER_LEN + pcm.len());
        out.put_i32_le(self.checkcode);
        out.put_i32_le(CMD_AUDIO);
        out.put_i32_le(len_i32(pcm.len()));
        out.put_slice(pcm);
    }

    /// Appends an extension AUDIO_AT frame: `position` (samples per channel) then `pcm` (PCM16 LE).
    pub fn encode_audio_at(&self, position: u64, pcm: &[u8], out: &mut BytesMut) {
        out.reserve(SIZED_HEADER_LEN + POSITION_LEN + pcm.len());
        out.put_i32_le(self.checkcode);
        out.put_i32_le(CMD_EXT_AUDIO_AT);
        out.put_i32_le(len_i32(POSITION_LEN + pcm.len()));
        out.put_u64_le(position);
        out.put_slice(pcm);
    }

    /// Decodes one server frame from the front of `buf`.
    ///
    /// Returns `Ok(None)` while the frame is incomplete; once its size is known and valid, reserves
    /// room for the rest of it (at most [`SIZED_HEADER_LEN`] + [`POSITION_LEN`] + [`MAX_PAYLOAD`]).
    ///
    /// # Errors
    /// [`Error::WrongCheckcode`]; [`Error::UnknownCommand`] for a command whose length is unknown;
    /// [`Error::NegativeSize`], [`Error::OddSize`], [`Error::Oversize`] or [`Error::Undersize`] for
    /// a declared size that cannot be right, detected before any allocation.
    pub fn decode_server(&self, buf: &mut BytesMut) -> Result<Option<ServerFrame>, Error> {
        if buf.len() < HEADER_LEN {
            return Ok(None);
        }
        let (checkcode, cmd) = peek_header(buf);
        self.check(checkcode)?;
        if cmd == CMD_PING {
            if buf.len() < ACK_LEN {
                return Ok(None);
            }
            buf.advance(HEADER_LEN);
            return Ok(Some(ServerFrame::Ack {
                status: buf.get_u8(),
            }));
        }
        let (min, max, pcm_offset) = match cmd {
            CMD_AUDIO => (0, MAX_PAYLOAD, Some(0)),
            CMD_EXT_FORMAT => (MIN_FORMAT_LEN, MAX_FORMAT_LEN, None),
            CMD_EXT_AUDIO_AT => (POSITION_LEN, POSITION_LEN + MAX_PAYLOAD, Some(POSITION_LEN)),
            _ => return Err(Error::UnknownCommand { cmd }),
        };
        if buf.len() < SIZED_HEADER_LEN {
            return Ok(None);
        }
        let size = i32::from_le_bytes([buf[8], buf[9], buf[10], buf[11]]);
        let len = validate_size(cmd, size, min, max, pcm_offset)?;
        let total = SIZED_HEADER_LEN + len;
        if buf.len() < total {
            buf.reserve(total - buf.len());
            return Ok(None);
        }
        buf.advance(SIZED_HEADER_LEN);
        let mut payload = buf.split_to(len);
        Ok(Some(match cmd {
            CMD_AUDIO => ServerFrame::Audio(payload.freeze()),
            CMD_EXT_FORMAT => ServerFrame::Format(StreamFormat {
                sample_rate: payload.get_u32_le(),
                channels: payload.get_u16_le(),
                bits_per_sample: payload.get_u16_le(),
                stream_id: payload.get_u32_le(),
                features: if payload.remaining() >= 4 {
                    payload.get_u32_le()
                } else {
                    0
                },
            }),
            _ => {
                let position = payload.get_u64_le();
                ServerFrame::AudioAt {
                    position,
                    pcm: payload.freeze(),
                }
            }
        }))
    }

    fn check(&self, got: i32) -> Result<(), Error> {
        if got == self.checkcode {
            Ok(())
        } else {
            Err(Error::WrongCheckcode {
                expected: self.checkcode,
                got,
            })
        }
    }
}

/// Reads `checkcode, cmd` from the first 8 bytes of `buf` without consuming them.
fn peek_header(buf: &[u8]) -> (i32, i32) {
    let checkcode = i32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]);
    let cmd = i32::from_le_bytes([buf[4], buf[5], buf[6], buf[7]]);
    (checkcode, cmd)
}

/// Checks a declared size against `[min, max]` and, for PCM payloads, that the PCM part (after
/// `pcm_offset` bytes) holds whole samples. Returns the size as a length in bytes.
fn validate_size(
    cmd: i32,
    size: i32,
    min: usize,
    max: usize,
    pcm_offset: Option<usize>,
) -> Result<usize, Error> {
    let len = usize::try_from(size).map_err(|_| Error::NegativeSize { cmd, size })?;
    if len > max {
        return Err(Error::Oversize { cmd, size, max });
    }
    if len < min {
        return Err(Error::Undersize { cmd, size, min });
    }
    if let Some(offset) = pcm_offset
        && (len - offset) % 2 != 0
    {
        return Err(Error::OddSize { cmd, size });
    }
    Ok(len)
}

/// A payload length as the wire's `i32`. Payloads we encode are far below `i32::MAX`; a longer
/// one is a bug in the caller, so it saturates rather than wrapping into a negative size.
fn len_i32(len: usize) -> i32 {
    i32::try_from(len).unwrap_or(i32::MAX)
}

/// Converts samples to PCM16 LE bytes (2 bytes per sample).
pub fn pcm16_to_bytes(samples: &[i16]) -> Bytes {
    let mut out = BytesMut::with_capacity(samples.len() * 2);
    for s in samples {
        out.put_i16_le(*s);
    }
    out.freeze()
}

/// Converts PCM16 LE bytes to samples; a trailing odd byte (never produced by a valid frame) is ignored.
pub fn bytes_to_pcm16(bytes: &[u8]) -> Vec<i16> {
    bytes
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect()
}
