//! Private streams: the TLS port, access keys and certificate pinning (opt-in; the legacy
//! plaintext port is unchanged).
//!
//! - [`identity`]: the server's certificate and key: PEM files given by the user, or a
//!   self-signed certificate made on first use with `rcgen` and kept in the config folder
//!   (files mode 0600), and its SHA-256 [`Fingerprint`].
//! - [`listener`]: the TLS 1.3 port's binding and configuration (port [`DEFAULT_TLS_PORT`]).
//!   Its accept loop is the server's (`crate::server`'s `tls` module): after the handshake a
//!   client with a key sends KEY (`wire::CMD_EXT_KEY`) first; the server compares it in constant
//!   time ([`AccessKey`]), answers KEY_RESULT, and serves the TLS stream from the same hub as
//!   the plaintext port, so every output and limit applies unchanged. Failed keys from one
//!   address are slowed down ([`access::Throttle`]).
//!   Nothing here imports the server.
//! - [`client`]: the receiver's side: TLS 1.3 with the certificate pinned by fingerprint
//!   (`--fingerprint`) or trusted on first use and remembered in [`KnownServers`]
//!   (`known_servers.toml`); a changed certificate is an error that names both fingerprints.
//!
//! What this protects and what it does not is written in `docs/SECURITY.md`.

pub mod access;
pub mod client;
pub mod identity;
pub mod listener;

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};

pub use access::AccessKey;
pub use client::{KnownServers, TlsClientOptions};
pub use identity::TlsIdentity;
pub use listener::TlsServeOptions;

/// The TLS port: 26071 (the plaintext port [`wire::DEFAULT_PORT`] + 1).
pub const DEFAULT_TLS_PORT: u16 = 26071;

/// A certificate's SHA-256 fingerprint: the digest of its DER encoding, as
/// `openssl x509 -noout -fingerprint -sha256` computes it.
///
/// Written `SHA256:` followed by 32 upper-case hex bytes separated by colons (95 characters after
/// the prefix), e.g. `SHA256:3F:A0:…`. Parsing accepts upper or lower case, with or without the
/// `SHA256:` prefix and the colons.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint(pub [u8; 32]);

impl Fingerprint {
    /// The fingerprint of a DER-encoded certificate.
    pub fn of_der(der: &[u8]) -> Self {
        Self(Sha256::digest(der).into())
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SHA256:")?;
        for (i, b) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            write!(f, "{b:02X}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for Fingerprint {
    type Err = String;

    /// Parses `SHA256:AB:CD:…`, `sha256:abcd…` or bare hex (64 digits after removing colons).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let t = t
            .strip_prefix("SHA256:")
            .or_else(|| t.strip_prefix("sha256:"))
            .unwrap_or(t);
        let hex: String = t.chars().filter(|c| *c != ':').collect();
        if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(format!(
                "{s:?} is not a SHA-256 fingerprint (expected SHA256: and 32 hex bytes, as `openssl x509 -fingerprint -sha256` prints)"
            ));
        }
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|e| e.to_string())?;
        }
        Ok(Self(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_prints_as_openssl_and_parses_back() {
        // SHA-256 of the empty string (FIPS 180-2 test vector).
        let f = Fingerprint::of_der(b"");
        let text = f.to_string();
        assert_eq!(
            text,
            "SHA256:E3:B0:C4:42:98:FC:1C:14:9A:FB:F4:C8:99:6F:B9:24:27:AE:41:E4:64:9B:93:4C:A4:95:99:1B:78:52:B8:55"
        );
        assert_eq!(text.parse::<Fingerprint>(), Ok(f));
        let bare = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(bare.parse::<Fingerprint>(), Ok(f));
        assert!("SHA256:E3:B0".parse::<Fingerprint>().is_err());
        assert!("zz".repeat(32).parse::<Fingerprint>().is_err());
    }
}
