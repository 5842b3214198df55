//! The engine's error type.

use std::path::PathBuf;

/// Shorthand for `Result<T, engine::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the engine, with enough context to tell a user what to do.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A configuration value (flag, environment variable or `.env` entry) is invalid.
    #[error("invalid {name} {value:?}: {reason}")]
    Config {
        /// Where the value came from, e.g. `PORT` or `--chunk-ms`.
        name: String,
        /// The offending value as given.
        value: String,
        /// Why it is invalid.
        reason: String,
    },
    /// The `.env` file exists but cannot be read or parsed.
    #[error("cannot read {path}: {source}")]
    DotEnv {
        /// The `.env` file.
        path: PathBuf,
        /// The parse or I/O error.
        #[source]
        source: dotenvy::Error,
    },
    /// The server cannot listen on the address (port in use, no permission, bad address).
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address as given.
        addr: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The receiver cannot reach the server.
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// The address as given.
        addr: String,
        /// The underlying error (refused, unreachable, name not resolved).
        #[source]
        source: std::io::Error,
    },
    /// The server did not accept the connection in time.
    #[error("timed out connecting to {addr} after {ms} ms")]
    ConnectTimeout {
        /// The address as given.
        addr: String,
        /// The timeout in milliseconds.
        ms: u64,
    },
    /// The peer broke the protocol (wrong checkcode, impossible size, unknown command).
    #[error("protocol error from {peer}: {source}")]
    Protocol {
        /// The peer's address.
        peer: String,
        /// What was wrong.
        #[source]
        source: wire::Error,
    },
    /// The server told a stream format this receiver cannot record.
    #[error("the server announced an unusable stream format: {reason}")]
    BadFormat {
        /// What is wrong with it.
        reason: String,
    },
    /// The server answered PING with a non-zero status.
    #[error("the server answered PING with status {status} (0 means OK)")]
    AckStatus {
        /// The status byte received.
        status: u8,
    },
    /// The server closed the connection (or it was lost) and reconnecting was not requested.
    #[error("connection to {addr} lost: {reason}")]
    ConnectionLost {
        /// The server's address.
        addr: String,
        /// What happened, in words.
        reason: String,
    },
    /// The server accepted TCP and then closed the connection without answering PING, as many
    /// times in a row as given: the checkcode differs from the server's, or the peer is not an
    /// audioMi server. Retrying cannot help, so this ends a recording even with reconnection on.
    #[error(
        "{addr} closed the connection without answering{times}: wrong checkcode, or not an audioMi server",
        times = if *closes == 1 { String::new() } else { format!(" {closes} times in a row") }
    )]
    NotAudiomi {
        /// The server's address.
        addr: String,
        /// Closes without an answer, in a row.
        closes: u32,
    },
    /// The server accepted TCP but sent nothing (no ACK, no FORMAT, no audio) within the given
    /// time after PING: a stuck server, or a peer that is not an audioMi server.
    #[error(
        "{addr} accepted the connection but did not answer PING within {ms} ms: is it an audioMi server?"
    )]
    NoAnswer {
        /// The server's address.
        addr: String,
        /// How long the receiver waited, in milliseconds.
        ms: u64,
    },
    /// A recording ended (stopped, or the server gone) before any audio arrived; no file was
    /// written.
    #[error("nothing was received from {addr}, so no file was written")]
    NothingReceived {
        /// The server's address.
        addr: String,
    },
    /// The output path names a directory, not a file.
    #[error("{path} is a folder; give a file name in it, e.g. {example}", example = path.join("recording.wav").display())]
    OutputIsDirectory {
        /// The path given.
        path: PathBuf,
    },
    /// A network read or write failed.
    #[error("network I/O with {peer} failed: {source}")]
    Net {
        /// The peer's address.
        peer: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The TLS handshake with a server failed (not a TLS port, or a TLS error).
    #[error(
        "TLS with {addr} failed: {source} (is {addr} a TLS port? audioMi serves TLS on 26071 with --tls)"
    )]
    Tls {
        /// The server, as `host:port`.
        addr: String,
        /// What rustls or the socket reported.
        #[source]
        source: std::io::Error,
    },
    /// A plaintext client reached a TLS port: the server answered with a TLS alert.
    #[error("{addr} is a TLS port and this connection is plaintext: connect with --tls")]
    TlsPort {
        /// The server, as `host:port`.
        addr: String,
    },
    /// The server refused the access key.
    #[error("{addr} refused the access key (wrong key)")]
    WrongKey {
        /// The server, as `host:port`.
        addr: String,
    },
    /// The server needs an access key and none was given.
    #[error("{addr} requires an access key: pass --access-key KEY or set AUDIOMI_ACCESS_KEY")]
    KeyRequired {
        /// The server, as `host:port`.
        addr: String,
    },
    /// The server's certificate is not the one pinned with `--fingerprint`.
    #[error(
        "the certificate of {addr} does not match the pinned fingerprint: expected {expected}, the server has {got}; not connecting"
    )]
    FingerprintMismatch {
        /// The server, as `host:port`.
        addr: String,
        /// The pinned fingerprint.
        expected: String,
        /// The server's fingerprint.
        got: String,
    },
    /// The server's certificate differs from the one trusted on first use (as SSH's "REMOTE HOST
    /// IDENTIFICATION HAS CHANGED").
    #[error(
        "WARNING: the certificate of {addr} has CHANGED since it was first trusted: it was {known}, it is now {got}. \
         Someone may be intercepting the stream, or the server made a new certificate. \
         If you trust the new one, remove the entry for {addr} from {file} (or pin it with --fingerprint); not connecting"
    )]
    CertificateChanged {
        /// The server, as `host:port`.
        addr: String,
        /// The fingerprint stored in `file`.
        known: String,
        /// The server's fingerprint now.
        got: String,
        /// The known-servers file.
        file: std::path::PathBuf,
    },
    /// The TLS identity (certificate and key) or the known-servers file could not be used.
    #[error("{context}: {reason}")]
    Identity {
        /// What was being done, and on what file, in words.
        context: String,
        /// Why it failed.
        reason: String,
    },
    /// mDNS discovery could not start or announce (no multicast, bad interface, bad record).
    #[error("mDNS discovery: {reason}")]
    Discovery {
        /// What `mdns-sd` reported.
        reason: String,
    },
    /// The server does not relay chat (a legacy or older server: no TEXT in its FORMAT).
    #[error("{addr} does not relay chat (an older or legacy server, or not an audioMi server)")]
    NoChat {
        /// The server, as `host:port`.
        addr: String,
    },
    /// An output could not set itself up (a socket option, a file it writes beside the stream).
    #[error("{context}: {source}")]
    Setup {
        /// What was being done, and on what, in words.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The output file exists and overwriting was not allowed.
    #[error("{path} already exists; choose another file or pass --force to overwrite it")]
    FileExists {
        /// The file.
        path: PathBuf,
    },
    /// Creating, writing or finalizing a WAV file failed (disk full, file removed, no permission).
    #[error("cannot write {path}: {source}")]
    WavWrite {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: hound::Error,
    },
    /// A WAV file used as a source cannot be opened or read.
    #[error("cannot read WAV file {path}: {source}")]
    WavRead {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: hound::Error,
    },
    /// The stream's format changed between connections, so one WAV file cannot hold both.
    #[error(
        "the stream format changed from {old_rate} Hz/{old_channels} ch to {new_rate} Hz/{new_channels} ch"
    )]
    FormatChanged {
        /// Sample rate in Hz written so far.
        old_rate: u32,
        /// Channels written so far.
        old_channels: u16,
        /// The new sample rate in Hz.
        new_rate: u32,
        /// The new channel count.
        new_channels: u16,
    },
    /// libsamplerate refused the conversion.
    #[error("resampler error: {0}")]
    Resampler(#[source] samplerate::Error),
    /// A source specification or an audio device cannot be used.
    #[error("audio source {spec}: {reason}")]
    Source {
        /// The source as given (e.g. `loopback:ID`).
        spec: String,
        /// Why it cannot be used, in words.
        reason: String,
    },
    /// libopus refused a setting or a frame (see [`crate::encode`]).
    #[error("Opus encoder: {0}")]
    Opus(#[source] opus::Error),
    /// A worker thread could not be started.
    #[error("cannot start thread {name}: {source}")]
    Thread {
        /// The thread's name.
        name: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// A [`Error::Config`] for `name` = `value`.
    pub fn config(
        name: impl Into<String>,
        value: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        Self::Config {
            name: name.into(),
            value: value.into(),
            reason: reason.into(),
        }
    }
}

/// An error shared with an event's readers (events are cloned); equal only to itself.
#[derive(Debug, Clone)]
pub struct Failure(pub std::sync::Arc<Error>);

impl PartialEq for Failure {
    fn eq(&self, other: &Self) -> bool {
        std::sync::Arc::ptr_eq(&self.0, &other.0)
    }
}
