//! The receiver's side of the TLS port: TLS 1.3, the server's certificate pinned by its
//! fingerprint (given, or trusted on first use and remembered), then the access key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tracing::{info, warn};
use wire::{ClientFrame, ServerFrame};

use super::Fingerprint;
use crate::{Error, Result};

/// File name of the known-servers list in the config folder.
pub const KNOWN_SERVERS_FILE: &str = "known_servers.toml";

/// How long the server may take to answer KEY: 15 s (it may slow down repeated failures by up
/// to [`super::access::MAX_PENALTY`]).
pub const KEY_ANSWER_TIMEOUT: Duration = Duration::from_secs(15);

/// How a receiver connects with TLS.
#[derive(Clone, Default)]
pub struct TlsClientOptions {
    /// Accept only a certificate with this fingerprint (`--fingerprint`).
    pub pin: Option<Fingerprint>,
    /// Without a pin: trust on first use, remembering fingerprints in this file
    /// ([`KnownServers`]). `None` with no pin accepts any certificate (not offered by the CLI).
    pub known_servers: Option<PathBuf>,
    /// The access key to present (sent as KEY; empty if `None`).
    pub key: Option<String>,
}

impl std::fmt::Debug for TlsClientOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsClientOptions")
            .field("pin", &self.pin)
            .field("known_servers", &self.known_servers)
            .field("key", &self.key.as_ref().map(|_| "****"))
            .finish()
    }
}

/// `known_servers.toml`: one line per server, `"host:port" = "SHA256:…"`, written when a
/// certificate is trusted on first use (as SSH's `known_hosts`).
#[derive(Debug, Default)]
pub struct KnownServers {
    path: PathBuf,
    entries: BTreeMap<String, String>,
}

impl KnownServers {
    /// Reads `path` (a missing file is an empty list).
    ///
    /// # Errors
    /// [`Error::Identity`] if the file exists but cannot be read or parsed.
    pub fn load(path: &Path) -> Result<Self> {
        let bad = |reason: String| Error::Identity {
            context: format!("cannot read {}", path.display()),
            reason,
        };
        let entries = match std::fs::read_to_string(path) {
            Ok(text) => toml::from_str(&text).map_err(|e| bad(e.to_string()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(bad(e.to_string())),
        };
        Ok(Self {
            path: path.to_path_buf(),
            entries,
        })
    }

    /// The fingerprint remembered for `server` (`host:port`), if any (an unparsable entry counts
    /// as none).
    pub fn get(&self, server: &str) -> Option<Fingerprint> {
        self.entries.get(server).and_then(|f| f.parse().ok())
    }

    /// Remembers `fingerprint` for `server` and writes the file.
    ///
    /// # Errors
    /// [`Error::Identity`] if the file or its folder cannot be written.
    pub fn remember(&mut self, server: &str, fingerprint: Fingerprint) -> Result<()> {
        self.entries
            .insert(server.to_string(), fingerprint.to_string());
        let bad = |reason: String| Error::Identity {
            context: format!("cannot write {}", self.path.display()),
            reason,
        };
        let body = toml::to_string(&self.entries).map_err(|e| bad(e.to_string()))?;
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| bad(e.to_string()))?;
        }
        let text = format!(
            "# audioMi: TLS certificates trusted on first use (\"host:port\" = fingerprint).\n\
             # Remove a line to trust a server's new certificate.\n{body}"
        );
        std::fs::write(&self.path, text).map_err(|e| bad(e.to_string()))
    }
}

/// A byte stream to a server: plain TCP, or TLS over it.
pub trait Conn: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Conn for T {}

/// Connects to `addr` (`host:port`) within `timeout`, with TCP_NODELAY, then (with `tls`) runs
/// [`connect`] over it: what receivers and the chat client both speak the protocol over.
///
/// # Errors
/// [`Error::ConnectTimeout`], [`Error::Connect`], and with TLS whatever [`connect`] returns.
pub async fn dial(
    addr: &str,
    tls: Option<&TlsClientOptions>,
    checkcode: i32,
    timeout: Duration,
) -> Result<Box<dyn Conn>> {
    let stream = tokio::time::timeout(timeout, TcpStream::connect(addr))
        .await
        .map_err(|_| Error::ConnectTimeout {
            addr: addr.to_string(),
            ms: timeout.as_millis() as u64,
        })?
        .map_err(|source| Error::Connect {
            addr: addr.to_string(),
            source,
        })?;
    let _ = stream.set_nodelay(true);
    match tls {
        None => Ok(Box::new(stream)),
        Some(tls) => Ok(Box::new(connect(stream, addr, tls, checkcode).await?)),
    }
}

/// Records the server's certificate fingerprint; checks only the handshake signature (the
/// fingerprint is compared by [`connect`] before anything is sent).
#[derive(Debug)]
struct Recorder {
    seen: Mutex<Option<Fingerprint>>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Recorder {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        *self.seen.lock().unwrap_or_else(|e| e.into_inner()) =
            Some(Fingerprint::of_der(end_entity));
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Runs TLS 1.3 over `tcp` to `addr` (`host:port`), checks the certificate against the pin or
/// the known-servers file, then sends KEY and reads KEY_RESULT.
///
/// # Errors
/// [`Error::Tls`] (handshake failed: not a TLS port, TLS error); [`Error::FingerprintMismatch`];
/// [`Error::CertificateChanged`]; [`Error::Identity`] (known-servers file); [`Error::WrongKey`],
/// [`Error::KeyRequired`]; [`Error::ConnectionLost`] / [`Error::NoAnswer`] if KEY is not answered.
pub async fn connect(
    tcp: TcpStream,
    addr: &str,
    options: &TlsClientOptions,
    checkcode: i32,
) -> Result<TlsStream<TcpStream>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let recorder = Arc::new(Recorder {
        seen: Mutex::new(None),
        provider: provider.clone(),
    });
    let tls_err = |e: std::io::Error| Error::Tls {
        addr: addr.to_string(),
        source: e,
    };
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| tls_err(std::io::Error::other(e)))?
        .dangerous()
        .with_custom_certificate_verifier(recorder.clone())
        .with_no_client_auth();
    let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let name = ServerName::try_from(host.to_string())
        .unwrap_or_else(|_| ServerName::try_from("audiomi".to_string()).expect("valid DNS name"));
    let mut tls = TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .map_err(tls_err)?;
    let got = recorder
        .seen
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .ok_or_else(|| tls_err(std::io::Error::other("the server sent no certificate")))?;
    check_fingerprint(addr, got, options)?;
    let codec = wire::Codec::new(checkcode);
    let mut out = BytesMut::new();
    let key = options.key.clone().unwrap_or_default();
    codec.encode_client(&ClientFrame::Key(Bytes::from(key.into_bytes())), &mut out);
    let lost = |reason: String| Error::ConnectionLost {
        addr: addr.to_string(),
        reason,
    };
    tls.write_all(&out)
        .await
        .map_err(|e| lost(format!("sending the key: {e}")))?;
    let mut answer = BytesMut::with_capacity(wire::ACK_LEN);
    let status = loop {
        if let Ok(Some(ServerFrame::KeyResult { status })) = codec.decode_server(&mut answer) {
            break status;
        }
        match tokio::time::timeout(KEY_ANSWER_TIMEOUT, tls.read_buf(&mut answer)).await {
            Ok(Ok(n)) if n > 0 && answer.len() <= wire::ACK_LEN => {}
            Ok(Ok(0)) => return Err(lost("closed before answering the access key".into())),
            Ok(Ok(_)) => return Err(lost("answered the access key with something else".into())),
            Ok(Err(e)) => return Err(lost(format!("reading the key's answer: {e}"))),
            Err(_) => {
                return Err(Error::NoAnswer {
                    addr: addr.to_string(),
                    ms: KEY_ANSWER_TIMEOUT.as_millis() as u64,
                });
            }
        }
    };
    match status {
        wire::KEY_ACCEPTED => Ok(tls),
        wire::KEY_REQUIRED => Err(Error::KeyRequired {
            addr: addr.to_string(),
        }),
        _ => Err(Error::WrongKey {
            addr: addr.to_string(),
        }),
    }
}

/// Compares the server's fingerprint with the pin, or with the known-servers file (remembering a
/// first one).
fn check_fingerprint(addr: &str, got: Fingerprint, options: &TlsClientOptions) -> Result<()> {
    if let Some(pin) = options.pin {
        if pin != got {
            return Err(Error::FingerprintMismatch {
                addr: addr.to_string(),
                expected: pin.to_string(),
                got: got.to_string(),
            });
        }
        return Ok(());
    }
    let Some(path) = &options.known_servers else {
        warn!(%addr, fingerprint = %got, "certificate accepted without pinning");
        return Ok(());
    };
    let mut known = KnownServers::load(path)?;
    match known.get(addr) {
        Some(k) if k == got => Ok(()),
        Some(k) => Err(Error::CertificateChanged {
            addr: addr.to_string(),
            known: k.to_string(),
            got: got.to_string(),
            file: path.clone(),
        }),
        None => {
            known.remember(addr, got)?;
            info!(%addr, fingerprint = %got, file = %path.display(), "trusting this server's certificate on first use");
            Ok(())
        }
    }
}
