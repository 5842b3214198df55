//! [`Codec`]: encoding and decoding frames, bound to one checkcode.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::{
    ACK_LEN, CMD_AUDIO, CMD_EXT_AUDIO_AT, CMD_EXT_CHAT, CMD_EXT_END, CMD_EXT_ENDS, CMD_EXT_FORMAT,
    CMD_EXT_HELLO, CMD_EXT_KEY, CMD_EXT_NAME, CMD_EXT_NOW_PLAYING, CMD_EXT_TEXT, CMD_EXT_TRACKS,
    CMD_PING, ClientFrame, DEFAULT_CHECKCODE, END_LEN, Error, FORMAT_LEN, HEADER_LEN,
    MAX_FORMAT_LEN, MAX_KEY_LEN, MAX_NAME_LEN, MAX_NOW_PLAYING_FRAME, MAX_PAYLOAD, MAX_TEXT_FRAME,
    MAX_TRACK_FIELD, MIN_FORMAT_LEN, POSITION_LEN, SIZED_HEADER_LEN, ServerFrame, StreamFormat,
};

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
    /// frame whose name is cut to [`MAX_NAME_LEN`] bytes at a character boundary, or for
    /// [`ClientFrame::Key`] a sized frame of at most [`MAX_KEY_LEN`] bytes.
    pub fn encode_client(&self, frame: &ClientFrame, out: &mut BytesMut) {
        let cmd = match frame {
            ClientFrame::Ping => CMD_PING,
            ClientFrame::ExtHello => CMD_EXT_HELLO,
            ClientFrame::Chat => CMD_EXT_CHAT,
            ClientFrame::Tracks => CMD_EXT_TRACKS,
            ClientFrame::Ends => CMD_EXT_ENDS,
            ClientFrame::Other(cmd) => *cmd,
            ClientFrame::Text(text) => {
                return self.put_sized(CMD_EXT_TEXT, &text[..text.len().min(MAX_TEXT_FRAME)], out);
            }
            ClientFrame::Key(key) => {
                return self.put_sized(CMD_EXT_KEY, &key[..key.len().min(MAX_KEY_LEN)], out);
            }
            ClientFrame::Name(name) => {
                return self.put_sized(CMD_EXT_NAME, cut(name, MAX_NAME_LEN).as_bytes(), out);
            }
        };
        out.reserve(HEADER_LEN);
        out.put_i32_le(self.checkcode);
        out.put_i32_le(cmd);
    }

    /// Appends a sized frame: header, `size = payload.len()`, payload.
    fn put_sized(&self, cmd: i32, payload: &[u8], out: &mut BytesMut) {
        out.reserve(SIZED_HEADER_LEN + payload.len());
        out.put_i32_le(self.checkcode);
        out.put_i32_le(cmd);
        out.put_i32_le(len_i32(payload.len()));
        out.put_slice(payload);
    }

    /// Decodes one client frame from the front of `buf`.
    ///
    /// Returns `Ok(None)` while the frame is incomplete (fewer than [`HEADER_LEN`] bytes, or a
    /// NAME frame not yet whole).
    ///
    /// # Errors
    /// [`Error::WrongCheckcode`] if the header's checkcode is not this codec's;
    /// [`Error::NegativeSize`] or [`Error::Oversize`] for a NAME frame longer than
    /// [`MAX_NAME_LEN`] or a KEY frame longer than [`MAX_KEY_LEN`], detected before anything is
    /// allocated.
    pub fn decode_client(&self, buf: &mut BytesMut) -> Result<Option<ClientFrame>, Error> {
        if buf.len() < HEADER_LEN {
            return Ok(None);
        }
        let (checkcode, cmd) = peek_header(buf);
        self.check(checkcode)?;
        if cmd == CMD_EXT_NAME || cmd == CMD_EXT_KEY || cmd == CMD_EXT_TEXT {
            if buf.len() < SIZED_HEADER_LEN {
                return Ok(None);
            }
            let size = i32::from_le_bytes([buf[8], buf[9], buf[10], buf[11]]);
            let max = match cmd {
                CMD_EXT_KEY => MAX_KEY_LEN,
                CMD_EXT_TEXT => MAX_TEXT_FRAME,
                _ => MAX_NAME_LEN,
            };
            let len = validate_size(cmd, size, 0, max, None)?;
            if buf.len() < SIZED_HEADER_LEN + len {
                return Ok(None);
            }
            buf.advance(SIZED_HEADER_LEN);
            let payload = buf.split_to(len);
            return Ok(Some(match cmd {
                CMD_EXT_KEY => ClientFrame::Key(payload.freeze()),
                CMD_EXT_TEXT => ClientFrame::Text(payload.freeze()),
                _ => ClientFrame::Name(String::from_utf8_lossy(&payload).into_owned()),
            }));
        }
        buf.advance(HEADER_LEN);
        Ok(Some(match cmd {
            CMD_PING => ClientFrame::Ping,
            CMD_EXT_HELLO => ClientFrame::ExtHello,
            CMD_EXT_CHAT => ClientFrame::Chat,
            CMD_EXT_TRACKS => ClientFrame::Tracks,
            CMD_EXT_ENDS => ClientFrame::Ends,
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
            ServerFrame::KeyResult { status } => {
                out.reserve(ACK_LEN);
                out.put_i32_le(self.checkcode);
                out.put_i32_le(CMD_EXT_KEY);
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
            ServerFrame::Text { from, text } => self.encode_text(from, text, out),
            ServerFrame::NowPlaying {
                position,
                title,
                artist,
            } => self.encode_now_playing(*position, title, artist, out),
            ServerFrame::End { position } => {
                out.reserve(SIZED_HEADER_LEN + END_LEN);
                out.put_i32_le(self.checkcode);
                out.put_i32_le(CMD_EXT_END);
                out.put_i32_le(END_LEN as i32);
                out.put_u64_le(*position);
            }
        }
    }

    /// Appends a NOW_PLAYING frame: `title` and `artist` each cut to [`MAX_TRACK_FIELD`] bytes
    /// at a character boundary.
    pub fn encode_now_playing(&self, position: u64, title: &str, artist: &str, out: &mut BytesMut) {
        let title = cut(title, MAX_TRACK_FIELD);
        let artist = cut(artist, MAX_TRACK_FIELD);
        let size = POSITION_LEN + 1 + title.len() + artist.len();
        out.reserve(SIZED_HEADER_LEN + size);
        out.put_i32_le(self.checkcode);
        out.put_i32_le(CMD_EXT_NOW_PLAYING);
        out.put_i32_le(len_i32(size));
        out.put_u64_le(position);
        out.put_u8(title.len() as u8);
        out.put_slice(title.as_bytes());
        out.put_slice(artist.as_bytes());
    }

    /// Appends a server TEXT frame: `from` cut to [`MAX_NAME_LEN`] and `text` to
    /// [`MAX_TEXT_FRAME`] bytes, each at a character boundary.
    pub fn encode_text(&self, from: &str, text: &str, out: &mut BytesMut) {
        let from = cut(from, MAX_NAME_LEN);
        let text = cut(text, MAX_TEXT_FRAME - 1 - MAX_NAME_LEN);
        let size = 1 + from.len() + text.len();
        out.reserve(SIZED_HEADER_LEN + size);
        out.put_i32_le(self.checkcode);
        out.put_i32_le(CMD_EXT_TEXT);
        out.put_i32_le(len_i32(size));
        out.put_u8(from.len() as u8);
        out.put_slice(from.as_bytes());
        out.put_slice(text.as_bytes());
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
        if cmd == CMD_PING || cmd == CMD_EXT_KEY {
            if buf.len() < ACK_LEN {
                return Ok(None);
            }
            buf.advance(HEADER_LEN);
            let status = buf.get_u8();
            return Ok(Some(if cmd == CMD_PING {
                ServerFrame::Ack { status }
            } else {
                ServerFrame::KeyResult { status }
            }));
        }
        let (min, max, pcm_offset) = match cmd {
            CMD_AUDIO => (0, MAX_PAYLOAD, Some(0)),
            CMD_EXT_FORMAT => (MIN_FORMAT_LEN, MAX_FORMAT_LEN, None),
            CMD_EXT_AUDIO_AT => (POSITION_LEN, POSITION_LEN + MAX_PAYLOAD, Some(POSITION_LEN)),
            CMD_EXT_TEXT => (1, MAX_TEXT_FRAME, None),
            CMD_EXT_NOW_PLAYING => (POSITION_LEN + 1, MAX_NOW_PLAYING_FRAME, None),
            CMD_EXT_END => (END_LEN, END_LEN, None),
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
        Ok(Some(server_payload(cmd, buf.split_to(len))))
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

/// The frame of a sized server command `cmd` (known and validated) from its `payload`.
fn server_payload(cmd: i32, mut payload: BytesMut) -> ServerFrame {
    match cmd {
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
        CMD_EXT_TEXT => {
            let from_len = usize::from(payload.get_u8()).min(payload.len());
            let from = payload.split_to(from_len);
            ServerFrame::Text {
                from: String::from_utf8_lossy(&from).into_owned(),
                text: String::from_utf8_lossy(&payload).into_owned(),
            }
        }
        CMD_EXT_NOW_PLAYING => {
            let position = payload.get_u64_le();
            let title_len = usize::from(payload.get_u8()).min(payload.len());
            let title = payload.split_to(title_len);
            ServerFrame::NowPlaying {
                position,
                title: String::from_utf8_lossy(&title).into_owned(),
                artist: String::from_utf8_lossy(&payload).into_owned(),
            }
        }
        CMD_EXT_END => ServerFrame::End {
            position: payload.get_u64_le(),
        },
        _ => {
            let position = payload.get_u64_le();
            ServerFrame::AudioAt {
                position,
                pcm: payload.freeze(),
            }
        }
    }
}

/// `s` cut to at most `max` bytes at a character boundary.
fn cut(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
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
