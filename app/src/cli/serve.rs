//! `audiomi serve`.

use super::*;

/// `audiomi serve`: serve until Ctrl-C or SIGTERM.
pub(super) async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let settings = settings()?;
    let host = settings.host(args.net.host.as_deref(), config::DEFAULT_SERVE_HOST)?;
    let port = settings.port(args.net.port)?;
    let checkcode = settings.checkcode(args.net.checkcode)?;
    let spec: SourceSpec = args.source.parse().map_err(usage)?;
    let rate = config::check_rate("--rate", args.rate)?;
    let chunk = config::check_chunk_ms("--chunk-ms", args.chunk_ms)?;
    let max_clients = config::check_max_clients("--max-clients", args.max_clients)?;
    let max_lag = config::check_max_lag_ms("--max-lag-ms", args.max_lag_ms, args.chunk_ms)?;
    let http_port = if args.no_http {
        None
    } else {
        Some(settings.http_port(args.http_port)?)
    };
    let server = ServeSettings {
        looping: args.looping,
        pipeline: PipelineConfig {
            rate,
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
        ..ServeSettings::new(host, port, spec.clone())
    }
    .start()
    .await?;
    info!(addr = %server.local_addr(), source = %spec, rate = args.rate, chunk_ms = args.chunk_ms, "serving");
    if let Some(web) = server.web_addr() {
        info!(url = %engine::web::player_url(web), "web player (open it in any browser on the network)");
    }
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
    tokio::spawn(async move {
        shutdown_signal().await;
        info!("stopping");
        token.cancel();
    });
    server.wait().await?;
    info!("stopped");
    Ok(())
}
