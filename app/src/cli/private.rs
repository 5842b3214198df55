//! The options of private streams (TLS, access key, pinning) on `serve` and `record`/`listen`,
//! and the exit codes of their failures.

use std::path::PathBuf;

use clap::Args;
use engine::secure::{DEFAULT_TLS_PORT, Fingerprint, TlsClientOptions};
use engine::station::TlsSettings;
use tracing::warn;

use crate::paths;

/// Exit code: the server refused the access key, or needs one (3).
pub const EXIT_KEY: u8 = 3;
/// Exit code: the certificate does not match `--fingerprint` (4).
pub const EXIT_PIN: u8 = 4;
/// Exit code: the certificate changed since it was trusted on first use (5).
pub const EXIT_CHANGED: u8 = 5;
/// Exit code: TLS and plaintext mixed up (a plaintext client on a TLS port, `--tls` to a
/// plaintext port) or the TLS handshake failed (6).
pub const EXIT_TLS: u8 = 6;

/// The exit code of an engine error of a private stream, if it is one.
pub fn exit_code(e: &engine::Error) -> Option<u8> {
    use engine::Error as E;
    Some(match e {
        E::WrongKey { .. } | E::KeyRequired { .. } => EXIT_KEY,
        E::FingerprintMismatch { .. } => EXIT_PIN,
        E::CertificateChanged { .. } => EXIT_CHANGED,
        E::Tls { .. } | E::TlsPort { .. } => EXIT_TLS,
        _ => return None,
    })
}

/// `serve`: the TLS port.
#[derive(Debug, Args)]
pub struct ServeTlsArgs {
    /// Also serve with TLS 1.3 on --tls-port (a self-signed certificate is made on first use and
    /// kept in the config folder; its fingerprint is printed).
    #[arg(long)]
    tls: bool,
    /// TLS port, on the same host.
    #[arg(long, default_value_t = DEFAULT_TLS_PORT, requires = "tls")]
    tls_port: u16,
    /// Certificate (PEM) to use instead of the self-signed one.
    #[arg(long, value_name = "PEM", requires_all = ["tls", "key"])]
    cert: Option<PathBuf>,
    /// Private key (PEM) of --cert.
    #[arg(long, value_name = "PEM", requires = "cert")]
    key: Option<PathBuf>,
    /// Access key TLS clients must present (ignored without --tls).
    #[arg(long, env = "AUDIOMI_ACCESS_KEY", hide_env_values = true)]
    access_key: Option<String>,
    /// Turn the plaintext port off (needs --tls and an access key).
    #[arg(long, requires = "tls")]
    no_plain: bool,
}

impl ServeTlsArgs {
    /// The TLS settings, `None` without `--tls`.
    pub fn settings(&self) -> Option<TlsSettings> {
        if !self.tls {
            if self.access_key.is_some() {
                warn!("an access key is used on the TLS port only; without --tls it is ignored");
            }
            return None;
        }
        Some(TlsSettings {
            port: self.tls_port,
            pem: self.cert.clone().zip(self.key.clone()),
            identity_dir: paths::config_dir(),
            key: self.access_key.clone(),
            plain: !self.no_plain,
        })
    }
}

/// `record` / `listen`: TLS and the access key.
#[derive(Debug, Args)]
pub struct ReceiveTlsArgs {
    /// Connect with TLS (to --port, default 26071).
    #[arg(long)]
    pub tls: bool,
    /// Accept only the certificate with this SHA-256 fingerprint (as the server prints it, or as
    /// `openssl x509 -fingerprint -sha256` does). Without it, the first certificate seen is
    /// trusted and remembered in known_servers.toml in the config folder.
    #[arg(long, value_name = "SHA256:…", requires = "tls")]
    fingerprint: Option<Fingerprint>,
    /// Access key to present (sent over TLS only).
    #[arg(long, env = "AUDIOMI_ACCESS_KEY", hide_env_values = true)]
    access_key: Option<String>,
}

impl ReceiveTlsArgs {
    /// The port when `--port` is not given: 26071 with `--tls`, else the plaintext default.
    pub fn default_port(&self) -> Option<u16> {
        self.tls.then_some(DEFAULT_TLS_PORT)
    }

    /// The TLS options, `None` without TLS (`tls`: `--tls`, or a discovered server that only
    /// speaks TLS).
    pub fn options(&self, tls: bool) -> Option<TlsClientOptions> {
        if !tls {
            if self.access_key.is_some() {
                warn!("an access key is sent over TLS only; without --tls it is ignored");
            }
            return None;
        }
        Some(TlsClientOptions {
            pin: self.fingerprint,
            known_servers: Some(
                paths::config_dir().join(engine::secure::client::KNOWN_SERVERS_FILE),
            ),
            key: self.access_key.clone(),
        })
    }
}
