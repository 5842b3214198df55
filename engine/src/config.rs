//! Configuration lookup: command-line flags > environment variables > `.env` in the working
//! directory > built-in defaults.
//!
//! The original tool read `HOST`, `PORT` and `CHECKCODE` from `.env`; audioMi reads the same names.
//! An invalid value is an [`Error::Config`] naming the variable and the value.

use std::collections::HashMap;
use std::path::Path;

use crate::{Error, Result};

/// Default address the server listens on: every interface.
pub const DEFAULT_SERVE_HOST: &str = "0.0.0.0";
/// The name a receiver gives a server by default: this computer's host name (`None` if it has
/// none that is valid UTF-8).
pub fn default_receiver_name() -> Option<String> {
    gethostname::gethostname()
        .into_string()
        .ok()
        .filter(|n| !n.trim().is_empty())
}

/// Whether `host` names this machine: `localhost`, a loopback address (127.0.0.0/8, `::1`) or
/// the unspecified address (`0.0.0.0`, `::`). Brackets around IPv6 are ignored.
pub fn is_local_host(host: &str) -> bool {
    let h = host.trim().trim_matches(|c| c == '[' || c == ']');
    h.eq_ignore_ascii_case("localhost")
        || h.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback() || ip.is_unspecified())
}

/// Whether live playback would make a feedback loop: playing on this machine's default output
/// (`output_device` `None`) a stream received from this machine (`host` local, see
/// [`is_local_host`]), whose server may capture that very output's loopback.
pub fn feedback_risk(host: &str, output_device: Option<&str>) -> bool {
    output_device.is_none() && is_local_host(host)
}

/// Default address the receiver connects to.
pub const DEFAULT_RECORD_HOST: &str = "localhost";

/// The web player's default port: 26080.
pub const DEFAULT_HTTP_PORT: u16 = 26_080;

/// Where a configuration value came from (used in error messages).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A command-line flag.
    Flag,
    /// A process environment variable.
    Environment,
    /// The `.env` file.
    DotEnv,
    /// The built-in default.
    Default,
}

/// The environment and `.env` values, captured once.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    env: HashMap<String, String>,
    dotenv: HashMap<String, String>,
}

impl Settings {
    /// Captures the process environment and `dir/.env` (if it exists).
    ///
    /// # Errors
    /// [`Error::DotEnv`] if `.env` exists but cannot be read or parsed.
    pub fn from_process(dir: &Path) -> Result<Self> {
        let path = dir.join(".env");
        let mut dotenv = HashMap::new();
        if path.exists() {
            let iter = dotenvy::from_path_iter(&path).map_err(|source| Error::DotEnv {
                path: path.clone(),
                source,
            })?;
            for item in iter {
                let (k, v) = item.map_err(|source| Error::DotEnv {
                    path: path.clone(),
                    source,
                })?;
                dotenv.insert(k, v);
            }
        }
        Ok(Self {
            env: std::env::vars().collect(),
            dotenv,
        })
    }

    /// Settings from explicit maps (for tests and embedders).
    pub fn from_maps(env: HashMap<String, String>, dotenv: HashMap<String, String>) -> Self {
        Self { env, dotenv }
    }

    /// The value of `name` from the environment, else from `.env`, with its origin.
    pub fn get(&self, name: &str) -> Option<(&str, Origin)> {
        self.env
            .get(name)
            .map(|v| (v.as_str(), Origin::Environment))
            .or_else(|| self.dotenv.get(name).map(|v| (v.as_str(), Origin::DotEnv)))
    }

    /// `HOST`: the flag, else the environment / `.env`, else `default`.
    ///
    /// # Errors
    /// [`Error::Config`] for an empty host.
    pub fn host(&self, flag: Option<&str>, default: &str) -> Result<String> {
        let (value, name) = match (flag, self.get("HOST")) {
            (Some(f), _) => (f, "--host"),
            (None, Some((v, _))) => (v, "HOST"),
            (None, None) => (default, "default host"),
        };
        let value = value.trim();
        if value.is_empty() {
            return Err(Error::config(
                name,
                value,
                "a host name or IP address is required",
            ));
        }
        Ok(value.to_string())
    }

    /// `HTTP_PORT` (the web player's): the flag, else the environment / `.env`, else 26080.
    ///
    /// # Errors
    /// [`Error::Config`] naming `HTTP_PORT` for a value that is not an integer in 1..=65535.
    pub fn http_port(&self, flag: Option<u16>) -> Result<u16> {
        if let Some(p) = flag {
            return parse_port("--http-port", &p.to_string());
        }
        match self.get("HTTP_PORT") {
            Some((v, _)) => parse_port("HTTP_PORT", v),
            None => Ok(DEFAULT_HTTP_PORT),
        }
    }

    /// `PORT`: the flag, else the environment / `.env`, else 26070.
    ///
    /// # Errors
    /// [`Error::Config`] naming `PORT` for a value that is not an integer in 1..=65535.
    pub fn port(&self, flag: Option<u16>) -> Result<u16> {
        if let Some(p) = flag {
            return parse_port("--port", &p.to_string());
        }
        match self.get("PORT") {
            Some((v, _)) => parse_port("PORT", v),
            None => Ok(wire::DEFAULT_PORT),
        }
    }

    /// `CHECKCODE`: the flag, else the environment / `.env`, else 20250918.
    ///
    /// # Errors
    /// [`Error::Config`] naming `CHECKCODE` for a value that is not a 32-bit signed integer.
    pub fn checkcode(&self, flag: Option<i32>) -> Result<i32> {
        if let Some(c) = flag {
            return Ok(c);
        }
        match self.get("CHECKCODE") {
            Some((v, _)) => parse_checkcode("CHECKCODE", v),
            None => Ok(wire::DEFAULT_CHECKCODE),
        }
    }
}

/// Parses a TCP port (1..=65535); `name` is used in the error.
///
/// # Errors
/// [`Error::Config`] otherwise.
pub fn parse_port(name: &str, value: &str) -> Result<u16> {
    match value.trim().parse::<u16>() {
        Ok(0) => Err(Error::config(
            name,
            value,
            "port 0 is not allowed; use 1 to 65535",
        )),
        Ok(p) => Ok(p),
        Err(_) => Err(Error::config(
            name,
            value,
            "expected a port number from 1 to 65535",
        )),
    }
}

/// Parses a checkcode (any 32-bit signed integer); `name` is used in the error.
///
/// # Errors
/// [`Error::Config`] otherwise.
pub fn parse_checkcode(name: &str, value: &str) -> Result<i32> {
    value.trim().parse::<i32>().map_err(|_| {
        Error::config(
            name,
            value,
            "expected an integer from -2147483648 to 2147483647",
        )
    })
}

/// A host name or address: trimmed, not empty, no spaces.
///
/// # Errors
/// [`Error::Config`] naming `name` otherwise.
pub fn parse_host(name: &str, value: &str) -> Result<String> {
    let v = value.trim();
    if v.is_empty() {
        Err(Error::config(
            name,
            value,
            "enter a host name or IP address",
        ))
    } else if v.contains(char::is_whitespace) {
        Err(Error::config(name, value, "no spaces in a host name"))
    } else {
        Ok(v.to_string())
    }
}

/// Accepted stream sample rates: 1,000 to 384,000 Hz (384 kHz is the highest rate common
/// interfaces offer).
pub const RATE_RANGE: std::ops::RangeInclusive<u32> = 1_000..=384_000;
/// Accepted chunk durations: 5 to 1,000 ms.
pub const CHUNK_MS_RANGE: std::ops::RangeInclusive<u64> = 5..=1_000;

/// A stream sample rate in Hz within [`RATE_RANGE`].
///
/// # Errors
/// [`Error::Config`] naming `name` otherwise.
pub fn check_rate(name: &str, hz: u32) -> Result<u32> {
    if RATE_RANGE.contains(&hz) {
        Ok(hz)
    } else {
        Err(Error::config(
            name,
            hz.to_string(),
            "expected 1000 to 384000 Hz",
        ))
    }
}

/// A chunk duration in ms within [`CHUNK_MS_RANGE`].
///
/// # Errors
/// [`Error::Config`] naming `name` otherwise.
pub fn check_chunk_ms(name: &str, ms: u64) -> Result<std::time::Duration> {
    if CHUNK_MS_RANGE.contains(&ms) {
        Ok(std::time::Duration::from_millis(ms))
    } else {
        Err(Error::config(name, ms.to_string(), "expected 5 to 1000 ms"))
    }
}

/// The most receivers served at once: at least 1.
///
/// # Errors
/// [`Error::Config`] naming `name` for 0.
pub fn check_max_clients(name: &str, n: usize) -> Result<usize> {
    if n == 0 {
        Err(Error::config(name, "0", "expected at least 1"))
    } else {
        Ok(n)
    }
}

/// How far (ms of audio) a receiver may fall behind: at least one chunk (`chunk_ms`).
///
/// # Errors
/// [`Error::Config`] naming `name` otherwise.
pub fn check_max_lag_ms(name: &str, ms: u64, chunk_ms: u64) -> Result<std::time::Duration> {
    if ms < chunk_ms {
        Err(Error::config(
            name,
            ms.to_string(),
            format!("must be at least the chunk duration ({chunk_ms} ms)"),
        ))
    } else {
        Ok(std::time::Duration::from_millis(ms))
    }
}

/// A recording's duration in seconds: positive and finite.
///
/// # Errors
/// [`Error::Config`] naming `name` otherwise.
pub fn check_duration_secs(name: &str, secs: f64) -> Result<std::time::Duration> {
    if secs.is_finite() && secs > 0.0 && secs < 1e9 {
        Ok(std::time::Duration::from_secs_f64(secs))
    } else {
        Err(Error::config(
            name,
            secs.to_string(),
            "expected a positive number of seconds",
        ))
    }
}

/// Joins host and port into an address for `TcpListener::bind` / `TcpStream::connect`, adding
/// brackets around a bare IPv6 address.
pub fn socket_addr(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serve_values_are_checked_with_their_names() {
        assert_eq!(parse_host("HOST", " pc1 ").ok().as_deref(), Some("pc1"));
        for bad in ["", "a b"] {
            let e = parse_host("HOST", bad).expect_err(bad).to_string();
            assert!(e.contains("HOST"), "{e}");
        }
        assert!(check_rate("--rate", 48_000).is_ok());
        assert!(check_rate("--rate", 999).is_err());
        assert!(check_chunk_ms("--chunk-ms", 4).is_err());
        assert!(check_max_clients("--max-clients", 0).is_err());
        let e = check_max_lag_ms("--max-lag-ms", 10, 20).expect_err("lag < chunk");
        assert!(e.to_string().contains("--max-lag-ms"), "{e}");
        assert!(check_duration_secs("--duration", f64::NAN).is_err());
        assert!(check_duration_secs("--duration", -1.0).is_err());
        assert_eq!(
            check_duration_secs("--duration", 0.5).ok(),
            Some(std::time::Duration::from_millis(500))
        );
    }

    fn settings(env: &[(&str, &str)], dotenv: &[(&str, &str)]) -> Settings {
        let m = |kv: &[(&str, &str)]| {
            kv.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        Settings::from_maps(m(env), m(dotenv))
    }

    #[test]
    fn precedence_is_flag_then_env_then_dotenv_then_default() {
        let s = settings(
            &[("PORT", "1000")],
            &[("PORT", "2000"), ("CHECKCODE", "7"), ("HOST", "h.env")],
        );
        assert_eq!(s.port(Some(3000)).ok(), Some(3000));
        assert_eq!(s.port(None).ok(), Some(1000));
        assert_eq!(s.checkcode(None).ok(), Some(7));
        assert_eq!(s.host(None, "d").ok().as_deref(), Some("h.env"));
        assert_eq!(s.host(Some("flag"), "d").ok().as_deref(), Some("flag"));
        let empty = settings(&[], &[]);
        assert_eq!(empty.port(None).ok(), Some(26070));
        assert_eq!(empty.checkcode(None).ok(), Some(20_250_918));
        assert_eq!(
            empty.host(None, DEFAULT_SERVE_HOST).ok().as_deref(),
            Some("0.0.0.0")
        );
    }

    #[test]
    fn invalid_values_name_the_variable_and_value() {
        let s = settings(&[("PORT", "70000"), ("CHECKCODE", "abc")], &[]);
        let e = s.port(None).expect_err("70000 is no port").to_string();
        assert!(e.contains("PORT") && e.contains("70000"), "{e}");
        let e = s
            .checkcode(None)
            .expect_err("abc is no checkcode")
            .to_string();
        assert!(e.contains("CHECKCODE") && e.contains("abc"), "{e}");
        assert!(parse_port("PORT", "0").is_err());
    }

    #[test]
    fn dotenv_file_is_read_and_a_broken_one_is_reported() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join(".env"),
            "HOST=localhost\nPORT=26071\nCHECKCODE=42\n",
        )
        .expect("write");
        let s = Settings::from_process(dir.path()).expect("valid .env");
        assert_eq!(s.dotenv.get("PORT").map(String::as_str), Some("26071"));
        std::fs::write(dir.path().join(".env"), "PORT='unterminated\n").expect("write");
        let e = Settings::from_process(dir.path()).expect_err("broken .env");
        assert!(e.to_string().contains(".env"), "{e}");
    }

    #[test]
    fn ipv6_hosts_are_bracketed() {
        assert_eq!(socket_addr("::1", 5), "[::1]:5");
        assert_eq!(socket_addr("127.0.0.1", 5), "127.0.0.1:5");
    }
}
