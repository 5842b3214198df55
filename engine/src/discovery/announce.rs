//! The server's side: announce while serving, withdraw (mDNS goodbye) on stop.

use std::time::Duration;

use mdns_sd::{ServiceDaemon, ServiceInfo};
use tracing::{info, warn};

use super::{SERVICE_TYPE, TxtRecord, daemon};
use crate::output::{Output, OutputStatus, Stopping};
use crate::{Error, Result};

/// How long [`Announcer::stop`] waits for the goodbye packets to go out: 2 s.
pub const WITHDRAW_TIMEOUT: Duration = Duration::from_secs(2);

/// What to announce and where.
#[derive(Debug, Clone)]
pub struct AnnounceOptions {
    /// The instance name (the server's `--name`; made DNS-label-safe).
    pub instance: String,
    /// The port of the SRV record.
    pub port: u16,
    /// The TXT record.
    pub txt: TxtRecord,
    /// Limit mDNS to this interface (`None`: all).
    pub interface: Option<String>,
}

/// What a station ([`crate::station::Station::start`]) announces: the instance name and interface; the
/// ports, fingerprint and format are filled in from what was bound.
#[derive(Debug, Clone)]
pub struct AnnounceSpec {
    /// The server's name (`--name`).
    pub name: String,
    /// Limit mDNS to this interface (`--mdns-interface`; `None`: all).
    pub interface: Option<String>,
}

impl AnnounceSpec {
    /// Starts announcing a server with these ports; a failure is logged (discovery is a
    /// convenience: the server runs on without it) and gives `None`.
    pub fn start(&self, txt: TxtRecord) -> Option<Announcer> {
        let port = txt.plain_port.or(txt.tls_port)?;
        let options = AnnounceOptions {
            instance: self.name.clone(),
            port,
            txt,
            interface: self.interface.clone(),
        };
        match Announcer::start(&options) {
            Ok(a) => Some(a),
            Err(e) => {
                warn!(error = %e, "not announcing over mDNS (receivers can still connect by address)");
                None
            }
        }
    }
}

/// A running announcement; [`Announcer::stop`] withdraws it.
#[derive(Clone)]
pub struct Announcer {
    daemon: ServiceDaemon,
    fullname: String,
    port: u16,
}

impl Output for Announcer {
    fn name(&self) -> &'static str {
        "mdns"
    }

    fn status(&self) -> OutputStatus {
        OutputStatus {
            name: self.name(),
            addr: None,
            audience: None,
            summary: format!("announcing {} (port {})", self.fullname, self.port),
        }
    }

    /// Withdraws the announcement on a blocking thread ([`Announcer::stop`]).
    fn stop(&self) -> Stopping<'_> {
        let this = self.clone();
        Box::pin(async move {
            let _ = tokio::task::spawn_blocking(move || this.stop()).await;
        })
    }
}

impl Announcer {
    /// Registers the service (the daemon probes and then answers queries on its own thread).
    ///
    /// # Errors
    /// [`Error::Discovery`] if mDNS cannot start or the record is invalid (e.g. a TXT value
    /// over 255 bytes).
    pub fn start(options: &AnnounceOptions) -> Result<Self> {
        let err = |e: mdns_sd::Error| Error::Discovery {
            reason: e.to_string(),
        };
        let daemon = daemon(options.interface.as_deref())?;
        let instance = instance_label(&options.instance);
        let host = format!("{}.local.", host_label(&instance));
        let info = ServiceInfo::new(
            SERVICE_TYPE,
            &instance,
            &host,
            "",
            options.port,
            options.txt.to_pairs(),
        )
        .map_err(err)?
        .enable_addr_auto();
        let fullname = info.get_fullname().to_string();
        daemon.register(info).map_err(err)?;
        info!(%fullname, port = options.port, interface = options.interface.as_deref().unwrap_or("all"), "announcing over mDNS");
        Ok(Self {
            daemon,
            fullname,
            port: options.port,
        })
    }

    /// The announced instance's full name, e.g. `studio._audiomi._tcp.local.`.
    pub fn fullname(&self) -> &str {
        &self.fullname
    }

    /// Withdraws the announcement (goodbye packets with TTL 0, RFC 6762 §10.1) and stops the
    /// daemon, waiting at most [`WITHDRAW_TIMEOUT`] for each. Blocking: call it from a blocking
    /// thread.
    pub fn stop(&self) {
        match self.daemon.unregister(&self.fullname) {
            Ok(rx) => {
                if rx.recv_timeout(WITHDRAW_TIMEOUT).is_err() {
                    warn!(fullname = %self.fullname, "mDNS withdrawal not confirmed");
                }
            }
            Err(e) => warn!(error = %e, "cannot withdraw the mDNS announcement"),
        }
        if let Ok(rx) = self.daemon.shutdown() {
            let _ = rx.recv_timeout(WITHDRAW_TIMEOUT);
        }
    }
}

/// A DNS-SD instance name: at most 63 bytes (RFC 6763 §4.1.1), control characters and dots
/// replaced (a dot would split the label); `audioMi` if nothing is left.
fn instance_label(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| if c.is_control() || c == '.' { '-' } else { c })
        .collect();
    let mut end = out.len().min(63);
    while !out.is_char_boundary(end) {
        end -= 1;
    }
    out.truncate(end);
    let out = out.trim().to_string();
    if out.is_empty() {
        "audioMi".into()
    } else {
        out
    }
}

/// A host label from an instance name: letters, digits and `-` only (RFC 952/1123), prefixed
/// `audiomi-` so it never collides with the machine's own `.local` name.
fn host_label(instance: &str) -> String {
    let clean: String = instance
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .take(40)
        .collect();
    format!("audiomi-{}", clean.trim_matches('-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_valid_labels() {
        assert_eq!(instance_label("Studio PC"), "Studio PC");
        assert_eq!(instance_label("a.b\nc"), "a-b-c");
        assert_eq!(instance_label(""), "audioMi");
        assert_eq!(instance_label(&"é".repeat(40)).len(), 62);
        assert_eq!(host_label("Studio PC"), "audiomi-studio-pc");
    }
}
