//! The web player's part of `audiomi serve`: its flags, its `.env` key (`HTTP_PORT`), the error
//! told when its port is taken and what is logged when it runs. `ServeArgs` only flattens it.

use clap::Args;
use engine::config::{self, Settings};
use engine::station::Station;
use tracing::info;

/// `--http-port`, `--no-http`.
#[derive(Debug, Args)]
pub struct WebArgs {
    /// Port of the web player (http://HOST:PORT/ in any browser), on the same host [env:
    /// HTTP_PORT; default 26080].
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    http_port: Option<u16>,
    /// Do not serve the web player.
    #[arg(long, conflicts_with = "http_port")]
    no_http: bool,
}

impl WebArgs {
    /// The web player's port: `None` with `--no-http`, else `--http-port`, `HTTP_PORT` or 26080.
    ///
    /// # Errors
    /// An invalid `HTTP_PORT`.
    pub fn port(&self, settings: &Settings) -> anyhow::Result<Option<u16>> {
        if self.no_http {
            return Ok(None);
        }
        Ok(Some(settings.http_port(self.http_port)?))
    }
}

/// A bind error on the web player's port (`http_port` on `host`), told as such with the flags
/// that move it or turn it off; any other error as it is.
pub fn port_error(e: engine::Error, host: &str, http_port: Option<u16>) -> anyhow::Error {
    match (&e, http_port) {
        (engine::Error::Bind { addr, source }, Some(port))
            if *addr == config::socket_addr(host, port) =>
        {
            anyhow::anyhow!(
                "the web player cannot listen on {addr}: {source} (choose another port with \
                 --http-port N or HTTP_PORT, or turn the web player off with --no-http)"
            )
        }
        _ => e.into(),
    }
}

/// Logs the web player's URL, if it runs.
pub fn report(server: &Station) {
    if let Some(url) = server.web_url() {
        info!(%url, "web player (open it in any browser on the network)");
    }
}
