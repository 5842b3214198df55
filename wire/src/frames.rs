//! The frames of both directions and the stream format, as values.

use bytes::Bytes;

use crate::DEFAULT_SAMPLE_RATE;

/// A frame sent by a client to the server: an 8-byte header ([`HEADER_LEN`](crate::HEADER_LEN)), except
/// [`ClientFrame::Name`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientFrame {
    /// PING (`cmd` 99): the server answers with [`ServerFrame::Ack`].
    Ping,
    /// Extension opt-in (`cmd` 100): the server answers with [`ServerFrame::Format`] and sends audio
    /// as [`ServerFrame::AudioAt`] from then on. The original server ignores it.
    ExtHello,
    /// Extension NAME (`cmd` 103, sized): the receiver's name, at most [`MAX_NAME_LEN`](crate::MAX_NAME_LEN) bytes of
    /// UTF-8 (invalid sequences decode as U+FFFD).
    Name(String),
    /// Extension KEY (`cmd` 104, sized): the access key, at most [`MAX_KEY_LEN`](crate::MAX_KEY_LEN)
    /// bytes, sent first on the TLS port. Kept as bytes: it is compared, never shown.
    Key(Bytes),
    /// Extension TEXT (`cmd` 105, sized): a chat message as sent (bytes: the server checks that
    /// they are UTF-8 and at most [`MAX_TEXT_LEN`](crate::MAX_TEXT_LEN) long before relaying).
    Text(Bytes),
    /// Extension CHAT (`cmd` 106): send this client the chat from now on.
    Chat,
    /// Extension TRACKS (`cmd` 108): send this client NOW_PLAYING from now on.
    Tracks,
    /// Extension ENDS (`cmd` 110): tell this client with END when the source ends.
    Ends,
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
    /// What the server accepts beyond version 1, as bits ([`FEATURE_CLIENT_NAME`](crate::FEATURE_CLIENT_NAME)); 0 from a
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
    /// AUDIO (`cmd` 1): PCM16 LE mono bytes; the length is even and at most [`MAX_PAYLOAD`](crate::MAX_PAYLOAD).
    Audio(Bytes),
    /// Extension KEY_RESULT (`cmd` 104, 9 bytes like ACK): the answer to [`ClientFrame::Key`]:
    /// [`KEY_ACCEPTED`](crate::KEY_ACCEPTED), [`KEY_WRONG`](crate::KEY_WRONG) or
    /// [`KEY_REQUIRED`](crate::KEY_REQUIRED).
    KeyResult {
        /// The verdict; anything but 0 is followed by the server closing the connection.
        status: u8,
    },
    /// Extension TEXT (`cmd` 105, sized): a chat message relayed by the server.
    Text {
        /// The sender's name (at most [`MAX_NAME_LEN`](crate::MAX_NAME_LEN) bytes).
        from: String,
        /// The message (at most [`MAX_TEXT_LEN`](crate::MAX_TEXT_LEN) bytes as the server sends
        /// it; invalid UTF-8 decodes as U+FFFD).
        text: String,
    },
    /// Extension NOW_PLAYING (`cmd` 107, sized): a new track starts at `position`.
    NowPlaying {
        /// Stream position of the track's first frame, in frames.
        position: u64,
        /// Title (at most [`MAX_TRACK_FIELD`](crate::MAX_TRACK_FIELD) bytes as sent; invalid
        /// UTF-8 decodes as U+FFFD).
        title: String,
        /// Artist, as `title`; empty when unknown.
        artist: String,
    },
    /// Extension END (`cmd` 109, sized, 8-byte payload): the source ended at `position`; the
    /// server closes the connection after the last chunk.
    End {
        /// One past the source's last frame, in stream frames: audio from here on is padding.
        position: u64,
    },
    /// Extension FORMAT (`cmd` 101): payload `sample_rate: u32, channels: u16,
    /// bits_per_sample: u16, stream_id: u32, features: u32` (16 B; a 12-byte version-1 payload has
    /// no `features`; longer payloads are accepted, the rest skipped).
    Format(StreamFormat),
    /// Extension AUDIO_AT (`cmd` 102): payload `position: u64` (index, in samples per channel since
    /// the stream started, of the first sample in this frame) followed by PCM16 LE bytes.
    AudioAt {
        /// Index of the first sample of `pcm` in the stream, in samples per channel.
        position: u64,
        /// PCM16 LE bytes; even length, at most [`MAX_PAYLOAD`](crate::MAX_PAYLOAD).
        pcm: Bytes,
    },
}
