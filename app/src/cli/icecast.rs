//! The Icecast output's part of `audiomi serve`: its flag, its `.env` key (`ICECAST`) and what
//! is logged when it runs. Everything the CLI knows of Icecast is here; `ServeArgs` only
//! flattens it.

use clap::Args;
use engine::config::Settings;
use engine::icecast::IcecastUrl;
use engine::station::Station;
use tracing::info;

/// `--icecast`.
#[derive(Debug, Args)]
pub struct IcecastArgs {
    /// Also publish to Icecast as Ogg/Opus: icecast://source:PASSWORD@HOST:8000/MOUNT (or
    /// http://…). Repeat for several servers [env: ICECAST, URLs separated by spaces].
    #[arg(long = "icecast", value_name = "URL")]
    icecast: Vec<String>,
}

impl IcecastArgs {
    /// The Icecast URLs: the `--icecast` flags, else `ICECAST` from the environment / `.env`
    /// (separated by white space).
    ///
    /// # Errors
    /// An invalid URL, reported under the name it came from (`--icecast` or `ICECAST`).
    pub fn urls(&self, settings: &Settings) -> anyhow::Result<Vec<IcecastUrl>> {
        if !self.icecast.is_empty() {
            return Ok(self
                .icecast
                .iter()
                .map(|f| IcecastUrl::parse(f))
                .collect::<Result<Vec<_>, _>>()?);
        }
        let Some((value, _)) = settings.get("ICECAST") else {
            return Ok(Vec::new());
        };
        Ok(value
            .split_whitespace()
            .map(|text| {
                IcecastUrl::parse(text).map_err(|e| match e {
                    engine::Error::Config { value, reason, .. } => engine::Error::Config {
                        name: "ICECAST".into(),
                        value,
                        reason,
                    },
                    e => e,
                })
            })
            .collect::<Result<Vec<_>, _>>()?)
    }
}

/// Logs each Icecast publisher of `server` and the URL its listeners open.
pub fn report(server: &Station) {
    for publisher in server.icecast() {
        info!(url = %publisher.url, listen = %publisher.url.listen_url(), "Icecast output (publishes as Ogg/Opus; listeners open the listen URL)");
    }
}
