//! The TLS port's binding and configuration: [`TlsServeOptions`], [`BoundTls`], and the
//! constants of its first bytes. The accept loop that admits clients and hands them to the hub
//! is the server's (`crate::server`, its `tls` module): this module does not know the server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use super::Fingerprint;
use super::access::AccessKey;
use super::identity::TlsIdentity;

/// How long a client may take for the TLS handshake, and then for its first frame: 10 s.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The first byte of every TLS connection (a handshake record, RFC 8446 §5.1: content type 22).
pub(crate) const TLS_HANDSHAKE_RECORD: u8 = 0x16;

/// A TLS 1.2-framed fatal `unexpected_message` alert (RFC 8446 §6: level 2, description 10),
/// sent to a plaintext client on the TLS port so that it can tell the user to use TLS.
pub(crate) const PLAINTEXT_ALERT: [u8; 7] = [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x0a];

/// How the server listens with TLS.
#[derive(Debug)]
pub struct TlsServeOptions {
    /// Address of the TLS port, e.g. `0.0.0.0:26071`.
    pub listen: String,
    /// Certificate and key.
    pub identity: TlsIdentity,
    /// The key clients must present; `None`: TLS only, no key.
    pub key: Option<AccessKey>,
    /// Keep the plaintext port open too (`--no-plain` turns it off).
    pub plain: bool,
}

/// A bound TLS port with its TLS configuration, ready for the server's accept loop.
pub struct BoundTls {
    listener: TcpListener,
    acceptor: TlsAcceptor,
    /// The access key, if clients need one.
    pub key: Option<AccessKey>,
    /// The rustls configuration (shared with the web player's HTTPS).
    pub server_config: Arc<rustls::ServerConfig>,
    /// The bound address.
    pub addr: SocketAddr,
    /// The certificate's fingerprint.
    pub fingerprint: Fingerprint,
}

impl BoundTls {
    /// Binds `options.listen` and prepares the TLS configuration.
    ///
    /// # Errors
    /// [`crate::Error::Bind`]; [`crate::Error::Identity`] if rustls refuses the certificate/key.
    pub async fn bind(options: TlsServeOptions) -> crate::Result<Self> {
        let server_config = options.identity.server_config()?;
        let acceptor = TlsAcceptor::from(server_config.clone());
        let (listener, addr) = crate::listen::bind(&options.listen).await?;
        Ok(Self {
            listener,
            acceptor,
            key: options.key,
            server_config,
            addr,
            fingerprint: options.identity.fingerprint,
        })
    }

    /// Whether clients must present an access key.
    pub fn key_required(&self) -> bool {
        self.key.is_some()
    }

    /// The listener, the TLS acceptor and the access key, for the accept loop
    /// ([`crate::server`]'s TLS port).
    pub(crate) fn into_parts(self) -> (TcpListener, TlsAcceptor, Option<AccessKey>) {
        (self.listener, self.acceptor, self.key)
    }
}
