//! `audiomi serve`.

use super::*;
use engine::icecast::IcecastUrl;

/// `audiomi serve`: serve until Ctrl-C or SIGTERM.
pub(super) async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let settings = settings()?;
    let host = settings.host(args.net.host.as_deref(), config::DEFAULT_SERVE_HOST)?;
    let port = settings.port(args.net.port)?;
    let checkcode = settings.checkcode(args.net.checkcode)?;
    let spec: SourceSpec = args.source.parse().map_err(usage)?;
    let format = engine::quality::AudioFormat::from_settings(&settings, args.format.as_deref())?;
    let chunk = config::check_chunk_ms("--chunk-ms", args.chunk_ms)?;
    let max_clients = config::check_max_clients("--max-clients", args.max_clients)?;
    let max_lag = config::check_max_lag_ms("--max-lag-ms", args.max_lag_ms, args.chunk_ms)?;
    let http_port = if args.no_http {
        None
    } else {
        Some(settings.http_port(args.http_port)?)
    };
    let icecast = icecast_urls(&settings, &args.icecast)?;
    let rtp = (!args.rtp.is_empty()).then(|| engine::rtp::RtpOptions {
        destinations: args.rtp.clone(),
        ttl: args.rtp_ttl,
        sdp: args.rtp_sdp.clone(),
        name: String::new(),
    });
    let defaults = ServeSettings::new(host.clone(), port, spec.clone());
    let server = ServeSettings {
        looping: args.looping,
        shuffle: args.shuffle,
        pipeline: PipelineConfig {
            rate: format.rate,
            channels: format.channels,
            chunk,
            ..PipelineConfig::default()
        },
        server: ServerConfig {
            checkcode,
            max_clients,
            max_lag,
            grace: Duration::from_millis(args.grace_ms),
            writes_per_sec: args.writes_per_sec,
            ..ServerConfig::default()
        },
        http_port,
        name: args.name.clone().unwrap_or_else(|| defaults.name.clone()),
        icecast,
        rtp,
        tls: args.tls.settings(),
        announce: args.announce.announce(),
        ..defaults
    }
    .start()
    .await
    .map_err(|e| web_port_error(e, &host, http_port))?;
    info!(addr = %server.local_addr(), source = %spec, %format, chunk_ms = args.chunk_ms, "serving");
    report_outputs(&server, &args);
    let token = server.shutdown_token();
    let hub = server.hub().clone();
    status_ticker(token.clone(), move || {
        let s = hub.stats();
        let level = s.level();
        format!(
            "clients {} | level {:6.1} dBFS (peak {:6.1}) | {} sent",
            s.clients.load(Ordering::Relaxed),
            level.rms_dbfs,
            level.peak_dbfs,
            human_bytes(s.bytes_queued.load(Ordering::Relaxed))
        )
    });
    let ended = server.clone();
    tokio::spawn(async move {
        tokio::select! {
            () = shutdown_signal() => info!("stopping"),
            () = ended.finished() => info!("the source ended and every receiver has it: stopping"),
        }
        token.cancel();
    });
    server.wait().await?;
    info!("stopped");
    Ok(())
}

/// A bind error on the web player's port, told as such with the flags that move it or turn it
/// off; any other error as it is.
fn web_port_error(e: engine::Error, host: &str, http_port: Option<u16>) -> anyhow::Error {
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

/// Logs where the outputs other than the plaintext port are (TLS fingerprint on stderr too).
fn report_outputs(server: &engine::server::ServerHandle, args: &ServeArgs) {
    if let Some((addr, fingerprint)) = server.tls() {
        info!(%addr, %fingerprint, "TLS port (receivers: record --tls --fingerprint FINGERPRINT)");
        say!("TLS certificate fingerprint: {fingerprint}");
    }
    if let Some(url) = server.web_url() {
        info!(%url, "web player (open it in any browser on the network)");
    }
    for publisher in server.icecast() {
        info!(url = %publisher.url, listen = %publisher.url.listen_url(), "Icecast output (publishes as Ogg/Opus; listeners open the listen URL)");
    }
    if let Some(sdp) = &args.rtp_sdp {
        info!(destinations = ?args.rtp, sdp = %sdp.display(), "sending RTP");
    }
}

/// The Icecast URLs: the `--icecast` flags, else `ICECAST` from the environment / `.env`
/// (separated by white space); an invalid one is reported under the name it came from.
fn icecast_urls(settings: &config::Settings, flags: &[String]) -> anyhow::Result<Vec<IcecastUrl>> {
    if !flags.is_empty() {
        return Ok(flags
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
