//! Icecast mount URLs: `icecast://USER:PASSWORD@HOST:PORT/MOUNT` (also `http://`). The
//! password never appears in logs, errors or the window: [`IcecastUrl`]'s `Display` and `Debug`
//! show `****` in its place, and [`redact`] hides it in text that failed to parse.

use base64::Engine as _;
use percent_encoding::percent_decode_str;

use crate::{Error, Result};

/// Characters percent-encoded in a user name (RFC 3986 §3.2.1 userinfo: all but unreserved).
const USERINFO: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Icecast's default port: 8000 (Icecast 2.4 `icecast.xml.dist`).
pub const DEFAULT_PORT: u16 = 8000;

/// The source user Icecast expects unless configured otherwise: `source`.
pub const DEFAULT_USER: &str = "source";

/// Where and as whom to publish: an Icecast server, a mount point and the source credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct IcecastUrl {
    /// Host name or IP address (IPv6 without brackets).
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Mount point, starting with `/`, e.g. `/live.opus`.
    pub mount: String,
    /// Source user name (percent-decoded).
    pub user: String,
    password: String,
}

impl IcecastUrl {
    /// Parses `icecast://USER:PASSWORD@HOST[:PORT]/MOUNT` or the same with `http://`. The user
    /// defaults to `source`, the port to 8000; user and password are percent-decoded (a `@` in a
    /// password is written `%40`).
    ///
    /// # Errors
    /// [`Error::Config`] named `--icecast` (its value with the password hidden) for another
    /// scheme, no host, no password, or no mount.
    pub fn parse(text: &str) -> Result<Self> {
        Self::parse_with_password(text, "")
    }

    /// As [`IcecastUrl::parse`], taking `password` when `text` has none (a window asks for the
    /// password in a field of its own, so that it is never shown).
    ///
    /// # Errors
    /// As [`IcecastUrl::parse`].
    pub fn parse_with_password(text: &str, fallback_password: &str) -> Result<Self> {
        let bad = |reason: &str| {
            Error::config(
                "--icecast",
                redact(text),
                format!("{reason} (expected icecast://source:PASSWORD@HOST:8000/MOUNT)"),
            )
        };
        let uri: http::Uri = text.trim().parse().map_err(|_| bad("not a URL"))?;
        match uri.scheme_str() {
            Some("icecast" | "http") => {}
            Some("https") => {
                return Err(bad("https is not supported yet; use http:// or icecast://"));
            }
            _ => return Err(bad("the scheme must be icecast:// or http://")),
        }
        let authority = uri.authority().ok_or_else(|| bad("no host"))?;
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let (user, password) = match authority.as_str().rsplit_once('@') {
            Some((info, _)) => match info.split_once(':') {
                Some((u, p)) => (decode(u), decode(p)),
                None => (decode(info), String::new()),
            },
            None => (String::new(), String::new()),
        };
        let password = if password.is_empty() {
            fallback_password.to_string()
        } else {
            password
        };
        if password.is_empty() {
            return Err(bad("no source password"));
        }
        let mount = uri.path().to_string();
        if mount.len() < 2 {
            return Err(bad("no mount point"));
        }
        Ok(Self {
            host: host.to_string(),
            port: authority.port_u16().unwrap_or(DEFAULT_PORT),
            mount,
            user: if user.is_empty() {
                DEFAULT_USER.into()
            } else {
                user
            },
            password,
        })
    }

    /// `HOST:PORT`, for connecting and for the `Host` header (IPv6 in brackets).
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The `Authorization` header's value: `Basic base64(user:password)` (RFC 7617).
    pub fn basic_auth(&self) -> String {
        let pair = format!("{}:{}", self.user, self.password);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        )
    }

    /// The source password (for a window's password field; never log it).
    pub fn password(&self) -> &str {
        &self.password
    }

    /// The URL without its password, `icecast://USER@HOST:PORT/MOUNT`, to keep or show (parse
    /// it again with [`IcecastUrl::parse_with_password`]).
    pub fn without_password(&self) -> String {
        let user = percent_encoding::utf8_percent_encode(&self.user, USERINFO);
        format!("icecast://{user}@{}{}", self.authority(), self.mount)
    }

    /// The URL a listener opens: `http://HOST:PORT/MOUNT` (no credentials).
    pub fn listen_url(&self) -> String {
        format!("http://{}{}", self.authority(), self.mount)
    }
}

impl std::fmt::Display for IcecastUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "icecast://{}:****@{}{}",
            self.user,
            self.authority(),
            self.mount
        )
    }
}

impl std::fmt::Debug for IcecastUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "IcecastUrl({self})")
    }
}

fn decode(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

/// `text` with whatever stands between `user:` and `@` after `://` replaced by `****`, so that
/// a URL that failed to parse can be shown without its password. Text without `://` or `@` is
/// returned as it is.
pub fn redact(text: &str) -> String {
    let Some(start) = text.find("://").map(|i| i + 3) else {
        return text.to_string();
    };
    let rest = &text[start..];
    let end_of_authority = rest.find('/').unwrap_or(rest.len());
    let Some(at) = rest[..end_of_authority].rfind('@') else {
        return text.to_string();
    };
    match rest[..at].find(':') {
        Some(colon) => format!("{}{}:****{}", &text[..start], &rest[..colon], &rest[at..]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_url_parses_and_never_shows_its_password() {
        let url = IcecastUrl::parse("icecast://source:s3cr%40t@127.0.0.1:18000/live.opus")
            .expect("parse");
        assert_eq!(url.host, "127.0.0.1");
        assert_eq!(url.port, 18000);
        assert_eq!(url.mount, "/live.opus");
        assert_eq!(url.user, "source");
        assert_eq!(url.password, "s3cr@t");
        // base64("source:s3cr@t")
        assert_eq!(url.basic_auth(), "Basic c291cmNlOnMzY3JAdA==");
        assert_eq!(
            url.to_string(),
            "icecast://source:****@127.0.0.1:18000/live.opus"
        );
        assert!(!format!("{url:?}").contains("s3cr"));
        assert_eq!(url.listen_url(), "http://127.0.0.1:18000/live.opus");
        assert_eq!(
            url.without_password(),
            "icecast://source@127.0.0.1:18000/live.opus"
        );
        let again = IcecastUrl::parse_with_password(&url.without_password(), url.password());
        assert_eq!(again.expect("parse"), url);
    }

    #[test]
    fn defaults_and_http_and_ipv6() {
        let url = IcecastUrl::parse("http://:pw@radio.example/m").expect("parse");
        assert_eq!((url.user.as_str(), url.port), ("source", DEFAULT_PORT));
        let url = IcecastUrl::parse("icecast://source:pw@[::1]:8001/a.ogg").expect("parse");
        assert_eq!(url.authority(), "[::1]:8001");
        // A password given apart is used when the URL has none, never over the URL's own.
        let url = IcecastUrl::parse_with_password("icecast://h/m", "pw").expect("parse");
        assert_eq!((url.user.as_str(), url.password.as_str()), ("source", "pw"));
        let url = IcecastUrl::parse_with_password("icecast://u:own@h/m", "pw").expect("parse");
        assert_eq!(url.password, "own");
    }

    #[test]
    fn bad_urls_are_refused_without_their_password() {
        for (text, reason) in [
            ("ftp://source:hunter2@h/m", "scheme"),
            ("https://source:hunter2@h/m", "https"),
            ("icecast://source@h:8000/m", "password"),
            ("icecast://source:hunter2@h:8000/", "mount"),
            ("icecast://source:hunter2@h:8000", "mount"),
            ("not a url at all", "URL"),
        ] {
            let e = IcecastUrl::parse(text).expect_err(text).to_string();
            assert!(e.contains(reason), "{text}: {e}");
            assert!(!e.contains("hunter2"), "{text}: {e}");
        }
    }

    #[test]
    fn redact_hides_only_the_password() {
        assert_eq!(redact("icecast://u:p@h:1/m"), "icecast://u:****@h:1/m");
        assert_eq!(redact("icecast://h:1/m"), "icecast://h:1/m");
        assert_eq!(redact("h:1/m@x"), "h:1/m@x");
    }
}
