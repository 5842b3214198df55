//! Finding servers without typing addresses: DNS-SD over mDNS (RFC 6763 over RFC 6762) with
//! the `mdns-sd` crate.
//!
//! A server announces one instance of [`SERVICE_TYPE`] named after the server (`--name`), whose
//! SRV record points at the plaintext port (the TLS port when the plaintext port is off) and
//! whose TXT record carries the keys below ([`TxtRecord`]). Receivers browse for the type
//! ([`browse`]) and see servers appear and disappear. Both sides can be limited to one network
//! interface (`--mdns-interface NAME`; the tests use `lo` only).

mod announce;
mod browse;

use std::collections::HashMap;

use mdns_sd::{IfKind, ServiceDaemon};

pub use announce::{AnnounceOptions, AnnounceSpec, Announcer, WITHDRAW_TIMEOUT};
pub use browse::{Browser, FoundServer, ServerSighting, browse, discover};

use crate::{Error, Result};

/// The DNS-SD service type: `_audiomi._tcp.local.`.
pub const SERVICE_TYPE: &str = "_audiomi._tcp.local.";

/// What the TXT record of an announcement says (keys in brackets). Every value is text; absent
/// keys mean "off".
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TxtRecord {
    /// The server's name (`name`).
    pub name: String,
    /// audioMi's version (`version`), e.g. `0.1.0`.
    pub version: String,
    /// Sample rate in Hz and channels (`format`, written `16000/1`).
    pub format: (u32, u16),
    /// The plaintext port (`plain`), `None` with `--no-plain`.
    pub plain_port: Option<u16>,
    /// The TLS port (`tls`), if TLS is on.
    pub tls_port: Option<u16>,
    /// The certificate's SHA-256 fingerprint (`fp`, as [`crate::secure::Fingerprint`] prints it).
    pub fingerprint: Option<String>,
    /// The web player's port (`http`), if it runs.
    pub http_port: Option<u16>,
    /// Whether TLS clients need an access key (`key`: `1` or `0`).
    pub key_required: bool,
}

impl TxtRecord {
    /// The record as TXT key/value pairs.
    pub fn to_pairs(&self) -> HashMap<String, String> {
        let mut m = HashMap::new();
        m.insert("name".into(), self.name.clone());
        m.insert("version".into(), self.version.clone());
        m.insert(
            "format".into(),
            format!("{}/{}", self.format.0, self.format.1),
        );
        let port = |m: &mut HashMap<String, String>, k: &str, p: Option<u16>| {
            if let Some(p) = p {
                m.insert(k.into(), p.to_string());
            }
        };
        port(&mut m, "plain", self.plain_port);
        port(&mut m, "tls", self.tls_port);
        port(&mut m, "http", self.http_port);
        if let Some(fp) = &self.fingerprint {
            m.insert("fp".into(), fp.clone());
        }
        m.insert(
            "key".into(),
            if self.key_required { "1" } else { "0" }.into(),
        );
        m
    }

    /// Reads a record back from `get(key)`; missing or malformed values count as absent.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Self {
        let port = |k: &str| get(k).and_then(|v| v.parse::<u16>().ok());
        let format = get("format")
            .and_then(|f| {
                let (r, c) = f.split_once('/')?;
                Some((r.parse().ok()?, c.parse().ok()?))
            })
            .unwrap_or((wire::DEFAULT_SAMPLE_RATE, 1));
        Self {
            name: get("name").unwrap_or_default(),
            version: get("version").unwrap_or_default(),
            format,
            plain_port: port("plain"),
            tls_port: port("tls"),
            fingerprint: get("fp"),
            http_port: port("http"),
            key_required: get("key").as_deref() == Some("1"),
        }
    }
}

/// A new mDNS daemon limited to `interface` (a name such as `lo` or `eth0`; `None`: every
/// interface, loopback included).
///
/// # Errors
/// [`Error::Discovery`] if the daemon cannot start (no multicast socket) or the selection fails.
pub(crate) fn daemon(interface: Option<&str>) -> Result<ServiceDaemon> {
    let err = |e: mdns_sd::Error| Error::Discovery {
        reason: e.to_string(),
    };
    let d = ServiceDaemon::new().map_err(err)?;
    if let Some(name) = interface {
        d.disable_interface(IfKind::All).map_err(err)?;
        d.enable_interface(IfKind::Name(name.to_string()))
            .map_err(err)?;
        for ip in unscoped_ipv6(name) {
            d.disable_interface(IfKind::Addr(ip)).map_err(err)?;
        }
    }
    Ok(d)
}

/// The IPv6 addresses of interface `name` whose interface index is unknown. Wine 8 reports index
/// 0 for them; mdns-sd sends its IPv6 multicast with the address's index, and index 0 means "the
/// default route's interface", so a daemon limited to `lo` sent queries out of `eth0` from its
/// link-local address (seen with tcpdump under Wine). Such addresses are left out: mDNS on that
/// interface goes over IPv4 only.
fn unscoped_ipv6(name: &str) -> Vec<std::net::IpAddr> {
    if_addrs::get_if_addrs()
        .unwrap_or_default()
        .into_iter()
        .filter(|i| i.name == name && i.ip().is_ipv6() && i.index.is_none_or(|x| x == 0))
        .map(|i| i.ip())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn txt_records_round_trip_and_tolerate_junk() {
        let r = TxtRecord {
            name: "studio".into(),
            version: "0.1.0".into(),
            format: (48_000, 2),
            plain_port: None,
            tls_port: Some(26071),
            fingerprint: Some("SHA256:AA".into()),
            http_port: Some(26080),
            key_required: true,
        };
        let pairs = r.to_pairs();
        assert_eq!(pairs["format"], "48000/2");
        assert_eq!(pairs["key"], "1");
        assert!(!pairs.contains_key("plain"));
        assert_eq!(TxtRecord::from_lookup(|k| pairs.get(k).cloned()), r);
        let junk = TxtRecord::from_lookup(|k| (k == "tls" || k == "format").then(|| "x".into()));
        assert_eq!((junk.tls_port, junk.format), (None, (16_000, 1)));
    }
}
