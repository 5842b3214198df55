//! `audiomi serve`.

use super::*;

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
    let http_port = args.web.port(&settings)?;
    let icecast = args.icecast.urls(&settings)?;
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
        rtp: args.rtp.options(),
        tls: args.tls.settings(),
        announce: args.announce.announce(),
        ..defaults
    }
    .start()
    .await
    .map_err(|e| super::web::port_error(e, &host, http_port))?;
    info!(addr = %server.local_addr(), source = %spec, %format, chunk_ms = args.chunk_ms, "serving");
    report_outputs(&server, &args);
    let token = server.shutdown_token();
    let station = server.clone();
    status_ticker(token.clone(), move || {
        let s = station.stats();
        let level = station.level();
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

/// Logs where the outputs other than the plaintext port are (TLS fingerprint on stderr too).
fn report_outputs(server: &engine::station::Station, args: &ServeArgs) {
    if let Some((addr, fingerprint)) = server.tls() {
        info!(%addr, %fingerprint, "TLS port (receivers: record --tls --fingerprint FINGERPRINT)");
        say!("TLS certificate fingerprint: {fingerprint}");
    }
    super::web::report(server);
    super::icecast::report(server);
    args.rtp.report();
}
