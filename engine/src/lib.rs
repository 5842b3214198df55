//! The audioMi engine: everything but the user interface.
//!
//! - [`audio`]: where audio comes from and goes to: sources (test tone, WAV file, sound cards),
//!   device lookup, capture, playback, DSP (downmix, libsamplerate, PCM16) and levels.
//! - [`pipeline`]: the source stage: a named worker thread that turns a source into fixed-size
//!   16 kHz (by default) mono PCM16 chunks on a wall-clock schedule.
//! - [`stream`]: the chunk stream between the source stage and its outputs (a slow output loses
//!   chunks; it never slows the source).
//! - [`station`]: what "Start serving" runs: the source stage, the chunk stream, the shared
//!   state and the outputs (it says where a new output, source or receiver sink goes);
//!   [`output`]: the contract every output keeps ([`output::Output`], [`output::StationContext`]).
//! - Outputs, siblings that never import each other: [`server`] (the TCP output: the legacy
//!   protocol and its extensions, one encode per chunk, one bounded queue per client; its TLS
//!   port), [`web`] (the browser player over HTTP), [`icecast`] (publishing to Icecast),
//!   [`rtp`] (RTP L16 over UDP), [`discovery`] (the mDNS announcement; receivers browse with
//!   it too). [`encode`] holds the encoders they share (each chunk encoded once).
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
pub mod output;
pub mod pipeline;
pub mod preview;
pub mod quality;
pub mod quiet;
pub mod receiver;
pub mod route;
pub mod rtp;
pub mod secure;
pub mod server;
pub mod station;
pub mod stream;
pub mod wav;
pub mod web;

pub use error::{Error, Result};
