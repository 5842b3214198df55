//! The server's TLS identity: a certificate chain and its private key.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::Fingerprint;
use crate::{Error, Result};

/// File name of the self-signed certificate in the config folder.
pub const CERT_FILE: &str = "tls-cert.pem";
/// File name of its private key in the config folder.
pub const KEY_FILE: &str = "tls-key.pem";

/// A certificate chain (leaf first) and its private key, with the leaf's fingerprint.
#[derive(Debug)]
pub struct TlsIdentity {
    /// DER certificates, the server's own first.
    pub certs: Vec<CertificateDer<'static>>,
    /// The private key of the first certificate.
    pub key: PrivateKeyDer<'static>,
    /// SHA-256 of the first certificate (what receivers pin).
    pub fingerprint: Fingerprint,
}

impl TlsIdentity {
    /// Reads a PEM certificate chain and a PEM private key (PKCS#8, PKCS#1 or SEC1).
    ///
    /// # Errors
    /// [`Error::Identity`] naming the file if it cannot be read, holds no certificate or no key.
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<Self> {
        let bad = |path: &Path, reason: String| Error::Identity {
            context: format!("cannot use {}", path.display()),
            reason,
        };
        let certs = CertificateDer::pem_file_iter(cert)
            .map_err(|e| bad(cert, e.to_string()))?
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| bad(cert, e.to_string()))?;
        let Some(leaf) = certs.first() else {
            return Err(bad(cert, "no CERTIFICATE block in it".into()));
        };
        let fingerprint = Fingerprint::of_der(leaf);
        let key = PrivateKeyDer::from_pem_file(key).map_err(|e| bad(key, e.to_string()))?;
        Ok(Self {
            certs,
            key,
            fingerprint,
        })
    }

    /// The identity kept in `dir` ([`CERT_FILE`], [`KEY_FILE`]); made on first use: a
    /// self-signed certificate for `names` (host names; `localhost` is always added) made with
    /// `rcgen` (ECDSA P-256), written with file mode 0600 on Unix. Returns the identity and
    /// whether it was made now.
    ///
    /// # Errors
    /// [`Error::Identity`] if the folder or files cannot be written or read back.
    pub fn load_or_create(dir: &Path, names: &[String]) -> Result<(Self, bool)> {
        let (cert, key) = (dir.join(CERT_FILE), dir.join(KEY_FILE));
        if cert.exists() && key.exists() {
            return Ok((Self::from_pem_files(&cert, &key)?, false));
        }
        let mut sans: Vec<String> = names.to_vec();
        sans.push("localhost".into());
        sans.dedup();
        let made = rcgen::generate_simple_self_signed(sans).map_err(|e| Error::Identity {
            context: "cannot make a self-signed certificate".into(),
            reason: e.to_string(),
        })?;
        std::fs::create_dir_all(dir).map_err(|e| Error::Identity {
            context: format!("cannot create {}", dir.display()),
            reason: e.to_string(),
        })?;
        write_private(&key, made.signing_key.serialize_pem().as_bytes())?;
        write_private(&cert, made.cert.pem().as_bytes())?;
        Ok((Self::from_pem_files(&cert, &key)?, true))
    }

    /// A rustls server configuration for TLS 1.3 only, with this identity.
    ///
    /// # Errors
    /// [`Error::Identity`] if rustls refuses the key (e.g. it does not match the certificate).
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .and_then(|b| {
                b.with_no_client_auth()
                    .with_single_cert(self.certs.clone(), self.key.clone_key())
            })
            .map_err(|e| Error::Identity {
                context: "cannot use the certificate and key".into(),
                reason: e.to_string(),
            })?;
        Ok(Arc::new(config))
    }
}

/// Writes `bytes` to `path`, readable and writable by the owner only (0600) on Unix.
fn write_private(path: &PathBuf, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
        .open(path)
        .and_then(|mut f| f.write_all(bytes))
        .map_err(|e| Error::Identity {
            context: format!("cannot write {}", path.display()),
            reason: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_identity_is_kept_private_and_reused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (first, made) = TlsIdentity::load_or_create(dir.path(), &["pc".into()]).expect("made");
        assert!(made);
        let (again, made) = TlsIdentity::load_or_create(dir.path(), &["pc".into()]).expect("read");
        assert!(!made);
        assert_eq!(first.fingerprint, again.fingerprint);
        #[cfg(unix)]
        for f in [CERT_FILE, KEY_FILE] {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(f))
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{f}");
        }
        first.server_config().expect("rustls takes it");
    }

    #[test]
    fn unusable_pem_files_are_named_in_the_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cert = dir.path().join("c.pem");
        std::fs::write(&cert, "not pem").expect("write");
        let e = TlsIdentity::from_pem_files(&cert, &cert).expect_err("no cert");
        assert!(e.to_string().contains("c.pem"), "{e}");
    }
}
