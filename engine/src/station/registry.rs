//! The registration list: every output a station can run, started in this order from what
//! [`ServeOptions`] asks for, and the mDNS TXT record that tells what was started. Adding an
//! output is one entry here (and its fields in [`ServeOptions`]).

use std::net::SocketAddr;
use std::sync::Arc;

use super::ServeOptions;
use crate::Result;
use crate::discovery::{Announcer, TxtRecord};
use crate::icecast::{IcecastPublisher, IcecastStatus};
use crate::output::{Output, StationContext};
use crate::rtp::{RtpOutput, RtpStats};
use crate::secure::Fingerprint;
use crate::server::{BoundPorts, ServerConfig, TcpOutput};
use crate::web::{WebConfig, WebOutput, WebStats};

/// The ports and listeners of a station, bound before its source is opened (so that a port in
/// use is told first).
pub(super) struct Bound {
    tcp: BoundPorts,
    web: Option<(tokio::net::TcpListener, WebConfig)>,
}

/// The started outputs: all of them as [`Output`]s (in start order) and the ones a front end
/// reads typed counters of.
#[derive(Default)]
pub(super) struct Outputs {
    /// Every started output, in start order (stopped in reverse).
    pub all: Vec<Arc<dyn Output>>,
    /// The TCP output (always started first).
    pub tcp: Option<Arc<TcpOutput>>,
    /// The web player's address and counters, if it runs.
    pub web: Option<(SocketAddr, Arc<WebStats>)>,
    /// Each Icecast publisher's state and counters, in the order of the targets.
    pub icecast: Vec<Arc<IcecastStatus>>,
    /// The RTP output's counters, if it runs.
    pub rtp: Option<Arc<RtpStats>>,
}

impl Outputs {
    fn add<O: Output + 'static>(&mut self, output: O) -> Arc<O> {
        let output = Arc::new(output);
        self.all.push(output.clone());
        output
    }

    /// Stops every started output, the last started first.
    pub(super) async fn stop(&self) {
        for output in self.all.iter().rev() {
            output.stop().await;
        }
    }
}

/// Binds the TCP output's ports (its hub to run with `config`) and the web player's listener.
///
/// # Errors
/// As [`BoundPorts::bind`] and [`crate::listen::bind`].
pub(super) async fn bind(options: &mut ServeOptions, config: ServerConfig) -> Result<Bound> {
    let tcp = BoundPorts::bind(crate::server::TcpSettings {
        listen: options.listen.clone(),
        tls: options.tls.take(),
        config,
    })
    .await?;
    let web = match options.web.take() {
        Some(w) => {
            let listener = crate::listen::bind(&w.listen).await?.0;
            // A web player beside TLS is HTTPS with the same certificate and asks for the same
            // access key.
            let config = match tcp.tls_config() {
                Some((tls, access)) => WebConfig {
                    tls: Some(tls),
                    access,
                    ..w.config
                },
                None => w.config,
            };
            Some((listener, config))
        }
        None => None,
    };
    Ok(Bound { tcp, web })
}

/// Starts the outputs `options` asks for on the bound ports, in registration order, into
/// `outputs`; returns the TCP output. On an error, `outputs` holds the outputs already
/// started, for the caller to stop.
///
/// # Errors
/// What starting an output returns.
pub(super) fn start(
    bound: Bound,
    options: &ServeOptions,
    ctx: &StationContext,
    outputs: &mut Outputs,
) -> Result<Arc<TcpOutput>> {
    let tcp = outputs.add(TcpOutput::start(bound.tcp, ctx)?);
    outputs.tcp = Some(tcp.clone());
    if let Some(rtp) = &options.rtp {
        let rtp = outputs.add(RtpOutput::start(rtp, ctx)?);
        outputs.rtp = Some(rtp.stats().clone());
    }
    if let Some((listener, config)) = bound.web {
        let web = outputs.add(WebOutput::start(listener, config, ctx)?);
        outputs.web = Some((web.local_addr(), web.stats().clone()));
    }
    for target in &options.icecast {
        let publisher = outputs.add(IcecastPublisher::start(target.clone(), ctx)?);
        outputs.icecast.push(publisher.status().clone());
    }
    if let Some(spec) = &options.announce {
        let txt = txt_record(ctx, outputs, &spec.name);
        if let Some(announcer) = spec.start(txt) {
            outputs.add::<Announcer>(announcer);
        }
    }
    Ok(tcp)
}

/// The TXT record announcing a station with these outputs (see [`TxtRecord`]).
fn txt_record(ctx: &StationContext, outputs: &Outputs, name: &str) -> TxtRecord {
    let format = ctx.format();
    let tcp = outputs.tcp.as_deref();
    let tls: Option<(SocketAddr, Fingerprint, bool)> = tcp.and_then(TcpOutput::tls);
    TxtRecord {
        name: name.to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        format: (format.sample_rate, format.channels),
        plain_port: tcp.and_then(TcpOutput::plain_addr).map(|a| a.port()),
        tls_port: tls.map(|t| t.0.port()),
        fingerprint: tls.map(|t| t.1.to_string()),
        http_port: outputs.web.as_ref().map(|(a, _)| a.port()),
        key_required: tls.is_some_and(|t| t.2),
    }
}
