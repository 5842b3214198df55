//! `audiomi discover`, the announcement options of `serve`, and `record --server NAME`.

use std::time::Duration;

use clap::Args;
use engine::discovery::{FoundServer, discover as browse_for};

use super::usage;

/// `serve`: the mDNS announcement.
#[derive(Debug, Args)]
pub struct AnnounceArgs {
    /// Do not announce this server over mDNS (receivers then need its address).
    #[arg(long)]
    no_announce: bool,
    /// Announce on this network interface only, e.g. eth0 or lo [default: every interface].
    #[arg(
        long,
        env = "AUDIOMI_MDNS_INTERFACE",
        hide_env_values = true,
        value_name = "NAME"
    )]
    mdns_interface: Option<String>,
}

impl AnnounceArgs {
    /// `ServeSettings::announce`: `None` with `--no-announce`.
    pub fn announce(&self) -> Option<Option<String>> {
        (!self.no_announce).then(|| self.mdns_interface.clone())
    }
}

/// `record` / `listen`: find the server by name.
#[derive(Debug, Args)]
pub struct FindArgs {
    /// Connect to the server announced under this name (see `audiomi discover`) instead of
    /// --host/--port.
    #[arg(long, value_name = "NAME", conflicts_with = "host")]
    pub server: Option<String>,
    /// Browse on this network interface only [default: every interface].
    #[arg(
        long,
        env = "AUDIOMI_MDNS_INTERFACE",
        hide_env_values = true,
        value_name = "NAME"
    )]
    pub mdns_interface: Option<String>,
}

/// `audiomi discover`.
#[derive(Debug, Args)]
pub struct DiscoverArgs {
    /// Print JSON (an array of objects) instead of a table.
    #[arg(long)]
    json: bool,
    /// How long to browse, in seconds.
    #[arg(long, default_value_t = 3.0)]
    seconds: f64,
    /// Browse on this network interface only [default: every interface].
    #[arg(
        long,
        env = "AUDIOMI_MDNS_INTERFACE",
        hide_env_values = true,
        value_name = "NAME"
    )]
    mdns_interface: Option<String>,
}

/// Longest time `record --server NAME` browses before giving up: 5 s.
pub const FIND_TIMEOUT: Duration = Duration::from_secs(5);

/// `audiomi discover`: browse for `--seconds` and print what is there.
pub(super) async fn discover(args: DiscoverArgs) -> anyhow::Result<()> {
    if !(args.seconds.is_finite() && (0.1..=3600.0).contains(&args.seconds)) {
        return Err(usage(format!(
            "invalid --seconds {}: give 0.1 to 3600",
            args.seconds
        )));
    }
    let found = browse_for(
        args.mdns_interface.as_deref(),
        Duration::from_secs_f64(args.seconds),
    )
    .await?;
    if args.json {
        out!("{}", serde_json::to_string_pretty(&found)?);
        return Ok(());
    }
    if found.is_empty() {
        say!("no audioMi server found in {} s", args.seconds);
        return Ok(());
    }
    out!(
        "{:<24} {:<22} {:<12} {:<6} {:<8} WEB",
        "NAME",
        "ADDRESS",
        "FORMAT",
        "TLS",
        "PRIVATE"
    );
    for s in &found {
        let addr = s
            .connect_addr(false)
            .or_else(|| s.connect_addr(true))
            .unwrap_or_default();
        out!(
            "{:<24} {:<22} {:<12} {:<6} {:<8} {}",
            s.name,
            addr,
            format!("{} Hz/{}", s.sample_rate, s.channels),
            s.tls_port.map_or("-".into(), |p| p.to_string()),
            if s.key_required { "key" } else { "-" },
            s.http_port.map_or("-".into(), |p| p.to_string())
        );
    }
    Ok(())
}

/// Once one server of the name answered, how long others of the same name are waited for: 1 s
/// (mDNS answers on one link arrive within a few hundred milliseconds of the query).
pub const MORE_OF_A_NAME: Duration = Duration::from_secs(1);

/// Browses until a server named `name` (its announced name or instance label, ignoring case)
/// appears, for at most [`FIND_TIMEOUT`], then [`MORE_OF_A_NAME`] longer for others of the same
/// name.
///
/// # Errors
/// A usage-level error naming the servers that were seen, if `name` is not among them, or
/// listing every server of that name if there are several.
pub(super) async fn find(name: &str, interface: Option<&str>) -> anyhow::Result<FoundServer> {
    let browser = engine::discovery::browse(interface)?;
    let mut deadline = tokio::time::Instant::now() + FIND_TIMEOUT;
    let mut seen = Vec::new();
    let mut matches: Vec<FoundServer> = Vec::new();
    loop {
        let sighting = tokio::select! {
            () = tokio::time::sleep_until(deadline) => None,
            s = browser.next() => s,
        };
        match sighting {
            Some(engine::discovery::ServerSighting::Found(s)) => {
                let label = s.fullname.split("._audiomi.").next().unwrap_or_default();
                if s.name.eq_ignore_ascii_case(name) || label.eq_ignore_ascii_case(name) {
                    if matches.is_empty() {
                        deadline = tokio::time::Instant::now() + MORE_OF_A_NAME;
                    }
                    let addr =
                        |f: &FoundServer| f.connect_addr(false).or_else(|| f.connect_addr(true));
                    if !matches
                        .iter()
                        .any(|m| m.fullname == s.fullname && addr(m) == addr(&s))
                    {
                        matches.push(s);
                    }
                    continue;
                }
                seen.push(s.name);
            }
            Some(_) => {}
            None => break,
        }
    }
    if matches.len() > 1 {
        let list: Vec<String> = matches
            .iter()
            .map(|m| {
                let addr = m.connect_addr(false).or_else(|| m.connect_addr(true));
                format!("{} at {}", m.name, addr.unwrap_or_default())
            })
            .collect();
        return Err(usage(format!(
            "{} servers are named {name:?}: {}; give --host and --port instead, or start them \
             with distinct --name",
            matches.len(),
            list.join(", ")
        )));
    }
    if let Some(found) = matches.pop() {
        return Ok(found);
    }
    let seen = if seen.is_empty() {
        "none".to_string()
    } else {
        seen.join(", ")
    };
    Err(anyhow::anyhow!(
        "no audioMi server named {name:?} answered over mDNS within {} s (seen: {seen})",
        FIND_TIMEOUT.as_secs()
    ))
}
