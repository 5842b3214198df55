//! The audioMi engine: everything but the user interface.
//!
//! - [`audio`]: where audio comes from and goes to: sources (test tone, WAV file, sound cards),
//!   device lookup, capture, playback, DSP (downmix, libsamplerate, PCM16) and levels.
//! - [`pipeline`]: the source stage: a named worker thread that turns a source into fixed-size
//!   16 kHz (by default) mono PCM16 chunks on a wall-clock schedule.
//! - [`stream`]: the chunk stream between the source stage and its outputs (a slow output loses
//!   chunks; it never slows the source).
//! - [`server`]: the TCP broadcast server (one encode per chunk, one bounded queue per client).
//! - [`web`]: the browser player over HTTP; [`icecast`]: publishing to Icecast; [`rtp`]: RTP L16
//!   over UDP. Siblings of the TCP server, each an output of the chunk stream; [`encode`] holds
//!   the encoders they share (each chunk encoded once).
//! - [`discovery`]: DNS-SD over mDNS: servers announce `_audiomi._tcp`, receivers browse.
//! - [`secure`]: the TLS port, access keys, certificate pinning (private streams).
//! - [`receiver`]: connects, pings, records to WAV (crash-safe), reconnects.
//! - [`chat`]: a chat-only client (`audiomi chat`); the server side is in [`server`].
//! - [`preview`]: the level of a source before it is served.
//! - [`codec`]: `tokio_util` codec adapters over the pure [`wire`] crate.
//! - [`config`]: flags > environment > `.env` > defaults.
//! - [`listen`]: TCP listeners with a backlog for a burst of receivers; [`route`]: which local
//!   address reaches a peer.
//!
//! No GUI types live here: front ends drive the engine through its handles and event channels.

pub mod audio;
pub mod chat;
pub mod codec;
pub mod config;
pub mod cue;
pub mod discovery;
pub mod encode;
pub mod error;
pub mod icecast;
pub mod listen;
pub mod pipeline;
pub mod preview;
pub mod quality;
pub mod quiet;
pub mod receiver;
pub mod route;
pub mod rtp;
pub mod secure;
pub mod server;
pub mod stream;
pub mod wav;
pub mod web;

pub use error::{Error, Result};
