//! Encoders that turn the chunk stream into the bytes an output sends: each chunk is encoded
//! **once** per format and the bytes are shared by every listener of that output.
//!
//! - [`ogg_opus`]: Ogg/Opus (RFC 7845) for the web player's `/stream.opus` and for Icecast.
//! - [`webm`]: the same Opus packets in a live WebM stream, which browsers play in `<audio>`.

pub mod ogg_opus;
pub mod webm;

pub use ogg_opus::OggOpusEncoder;
