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

/// Extension KEY (client → server, sized: `size: i32` then `size` bytes, at most
/// [`MAX_KEY_LEN`]): the access key, sent by a client on the **TLS port only**, as its first
/// frame. The server answers with KEY_RESULT: the same command number as a 9-byte frame
/// `checkcode, 104, status: u8` ([`KEY_ACCEPTED`], [`KEY_WRONG`] or [`KEY_REQUIRED`]), and closes
/// the connection unless the status is [`KEY_ACCEPTED`]. A legacy client never reaches the TLS
/// port, so it never sees either frame.
pub const CMD_EXT_KEY: i32 = 104;
/// KEY_RESULT status: the key matches (or the server needs none); the protocol goes on.
pub const KEY_ACCEPTED: u8 = 0;
/// KEY_RESULT status: the key is wrong; the server closes the connection.
pub const KEY_WRONG: u8 = 1;
/// KEY_RESULT status: the server needs a key and the client's first frame was not KEY (or the
/// key was empty); the server closes the connection.
pub const KEY_REQUIRED: u8 = 2;
/// Longest access key, in bytes: 256. A longer KEY frame is refused before anything is allocated.
pub const MAX_KEY_LEN: usize = 256;

/// Extension TEXT (both directions, sized): a chat message. Client → server: `size: i32` then
/// `size` bytes of UTF-8 (the server relays at most [`MAX_TEXT_LEN`] bytes; decoders accept up to
/// [`MAX_TEXT_FRAME`] so that a longer message is dropped, not the connection). Server → client:
/// `size: i32`, then `from_len: u8`, `from_len` bytes of the sender's name (UTF-8, at most
/// [`MAX_NAME_LEN`]) and the text. Sent only between a server whose FORMAT has
/// [`FEATURE_TEXT`] and a client that asked with [`CMD_EXT_CHAT`], so no legacy or older client
/// ever receives it.
pub const CMD_EXT_TEXT: i32 = 105;
/// Extension CHAT (client → server, 8 bytes): "send me the chat" (TEXT frames from now on).
pub const CMD_EXT_CHAT: i32 = 106;
/// Longest chat message relayed, in bytes of UTF-8: 4 KiB (the voice-chat seed's limit).
pub const MAX_TEXT_LEN: usize = 4096;
/// Largest TEXT payload a decoder accepts, in bytes: 64 KiB (bounds memory; anything above is a
/// protocol error that closes the connection).
pub const MAX_TEXT_FRAME: usize = 64 * 1024;

/// Extension NOW_PLAYING (server → client, sized): a new track starts. Payload `position: u64`
/// (stream position of its first frame, in frames), `title_len: u8`, `title_len` bytes of
/// UTF-8 title, then the artist (UTF-8, the rest; may be empty). Title and artist are each cut
/// to [`MAX_TRACK_FIELD`] bytes by the encoder. Sent only by a server whose FORMAT has
/// [`FEATURE_NOW_PLAYING`] to a client that asked with [`CMD_EXT_TRACKS`], so no legacy or older
/// client ever receives it.
pub const CMD_EXT_NOW_PLAYING: i32 = 107;
/// Extension TRACKS (client → server, 8 bytes): "send me NOW_PLAYING" (the current track at
/// once, then each change).
pub const CMD_EXT_TRACKS: i32 = 108;
/// Longest title or artist in a NOW_PLAYING, in bytes of UTF-8: 255.
pub const MAX_TRACK_FIELD: usize = 255;
/// Largest NOW_PLAYING payload a decoder accepts, in bytes: 1 KiB (what audioMi sends is at
/// most 8 + 1 + 255 + 255 = 519 bytes).
pub const MAX_NOW_PLAYING_FRAME: usize = 1024;

/// Extension END (server → client, sized): the source has ended (a file or a playlist played
/// without looping). Payload `end: u64`, the stream position one past the source's last frame,
/// in frames ([`END_LEN`] bytes). Audio from `end` on is padding: a receiver keeps the frames
/// before it and finishes; the server closes the connection once the last chunk is sent. Sent
/// only by a server whose FORMAT has [`FEATURE_END`] to a client that asked with
/// [`CMD_EXT_ENDS`], so no legacy or older client ever receives it (a legacy client just sees
/// the connection closed after the last chunk).
pub const CMD_EXT_END: i32 = 109;
/// Extension ENDS (client → server, 8 bytes): "tell me with END when the source ends".
pub const CMD_EXT_ENDS: i32 = 110;
/// Length in bytes of END's payload: `end: u64`.
pub const END_LEN: usize = 8;

/// Bit of FORMAT's `features`: the server accepts [`CMD_EXT_NAME`].
pub const FEATURE_CLIENT_NAME: u32 = 1;
/// Bit of FORMAT's `features`: the server relays chat ([`CMD_EXT_TEXT`], [`CMD_EXT_CHAT`]).
pub const FEATURE_TEXT: u32 = 2;
/// Bit of FORMAT's `features`: the server sends [`CMD_EXT_NOW_PLAYING`] on [`CMD_EXT_TRACKS`].
pub const FEATURE_NOW_PLAYING: u32 = 4;
/// Bit of FORMAT's `features`: the server sends [`CMD_EXT_END`] on [`CMD_EXT_ENDS`].
pub const FEATURE_END: u32 = 8;
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

mod codec;
mod error;
mod frames;

pub use codec::{Codec, bytes_to_pcm16, pcm16_to_bytes};
pub use error::Error;
pub use frames::{ClientFrame, ServerFrame, StreamFormat};
