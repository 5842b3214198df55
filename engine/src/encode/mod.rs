//! Encoders that turn the chunk stream into the bytes an output sends: each chunk is encoded
//! **once** per format and the bytes are shared by every listener of that output.
//!
//! - [`ogg_opus`]: Ogg/Opus (RFC 7845) for the web player's `/stream.opus` and for Icecast.
//! - [`live`]: the thread that encodes a running stream into these formats for every output.
//! - [`webm`]: the same Opus packets in a live WebM stream, which browsers play in `<audio>`.

pub mod live;
#[cfg(test)]
mod live_tests;
pub mod ogg_opus;
pub mod webm;

pub use ogg_opus::OggOpusEncoder;
