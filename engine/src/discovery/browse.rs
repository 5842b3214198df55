//! The receiver's side: browse for servers, live.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use mdns_sd::{ServiceDaemon, ServiceEvent};
use serde::Serialize;

use super::{SERVICE_TYPE, TxtRecord, daemon};
use crate::{Error, Result};

/// A server found by browsing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FoundServer {
    /// The DNS-SD instance's full name, e.g. `studio._audiomi._tcp.local.` (unique on the
    /// network; the key for [`ServerSighting::Lost`]).
    pub fullname: String,
    /// The server's name (TXT `name`, else the instance label).
    pub name: String,
    /// The announced host, e.g. `audiomi-studio.local.`.
    pub host: String,
    /// Its addresses, IPv4 first.
    pub addresses: Vec<IpAddr>,
    /// The SRV port (the plaintext port, or the TLS port when plaintext is off).
    pub port: u16,
    /// audioMi's version on the server.
    pub version: String,
    /// Sample rate in Hz.
    pub sample_rate: u32,
    /// Channels.
    pub channels: u16,
    /// The plaintext port, if open.
    pub plain_port: Option<u16>,
    /// The TLS port, if TLS is on.
    pub tls_port: Option<u16>,
    /// The TLS certificate's fingerprint, if TLS is on.
    pub fingerprint: Option<String>,
    /// The web player's port, if it runs.
    pub http_port: Option<u16>,
    /// Whether TLS clients need an access key.
    pub key_required: bool,
}

impl FoundServer {
    /// The address to connect to (`host:port` with the first IPv4 address, else the first
    /// address, else the announced host name) for TLS or plaintext.
    pub fn connect_addr(&self, tls: bool) -> Option<String> {
        let port = if tls {
            self.tls_port?
        } else {
            self.plain_port?
        };
        Some(match self.addresses.first() {
            Some(IpAddr::V4(a)) => format!("{a}:{port}"),
            Some(IpAddr::V6(a)) => format!("[{a}]:{port}"),
            None => format!("{}:{port}", self.host.trim_end_matches('.')),
        })
    }
}

/// A change in what browsing sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerSighting {
    /// A server appeared (or its record changed).
    Found(FoundServer),
    /// A server withdrew or expired (its [`FoundServer::fullname`]).
    Lost(String),
}

/// A running browse; dropping it stops the daemon.
pub struct Browser {
    daemon: ServiceDaemon,
    events: mdns_sd::Receiver<ServiceEvent>,
}

/// Starts browsing for [`SERVICE_TYPE`] on `interface` (`None`: all interfaces).
///
/// # Errors
/// [`Error::Discovery`] if mDNS cannot start.
pub fn browse(interface: Option<&str>) -> Result<Browser> {
    let daemon = daemon(interface)?;
    let events = daemon.browse(SERVICE_TYPE).map_err(|e| Error::Discovery {
        reason: e.to_string(),
    })?;
    Ok(Browser { daemon, events })
}

impl Browser {
    /// The next sighting; `None` once the daemon has stopped.
    pub async fn next(&self) -> Option<ServerSighting> {
        loop {
            match self.events.recv_async().await.ok()? {
                ServiceEvent::ServiceResolved(s) => {
                    let txt =
                        TxtRecord::from_lookup(|k| s.get_property_val_str(k).map(String::from));
                    let mut addresses: Vec<IpAddr> =
                        s.addresses.iter().map(|a| a.to_ip_addr()).collect();
                    addresses.sort_by_key(|a| (a.is_ipv6(), *a));
                    let label = s.fullname.strip_suffix(&format!(".{SERVICE_TYPE}"));
                    let name = if txt.name.is_empty() {
                        label.unwrap_or(&s.fullname).to_string()
                    } else {
                        txt.name.clone()
                    };
                    return Some(ServerSighting::Found(FoundServer {
                        fullname: s.fullname.clone(),
                        name,
                        host: s.host.clone(),
                        addresses,
                        port: s.port,
                        version: txt.version,
                        sample_rate: txt.format.0,
                        channels: txt.format.1,
                        plain_port: txt.plain_port,
                        tls_port: txt.tls_port,
                        fingerprint: txt.fingerprint,
                        http_port: txt.http_port,
                        key_required: txt.key_required,
                    }));
                }
                ServiceEvent::ServiceRemoved(_, fullname) => {
                    return Some(ServerSighting::Lost(fullname));
                }
                _ => {}
            }
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.daemon.shutdown();
    }
}

/// Browses for `duration` and returns the servers seen and not withdrawn, by name.
///
/// # Errors
/// As [`browse`].
pub async fn discover(interface: Option<&str>, duration: Duration) -> Result<Vec<FoundServer>> {
    let browser = browse(interface)?;
    let mut seen: BTreeMap<String, FoundServer> = BTreeMap::new();
    let deadline = tokio::time::Instant::now() + duration;
    loop {
        tokio::select! {
            () = tokio::time::sleep_until(deadline) => break,
            s = browser.next() => match s {
                Some(ServerSighting::Found(f)) => { seen.insert(f.fullname.clone(), f); }
                Some(ServerSighting::Lost(name)) => { seen.remove(&name); }
                None => break,
            },
        }
    }
    let mut out: Vec<FoundServer> = seen.into_values().collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}
