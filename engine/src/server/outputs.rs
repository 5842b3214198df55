//! Starting and stopping the outputs of a server besides the TCP fan-out's accept loop: the
//! fan-out's thread, the shared live encodings, the web output, the Icecast publishers and the
//! RTP output. Each is a sibling module reading the same chunk stream.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use tokio::net::TcpListener;

use super::Hub;
use crate::encode::live::{self, Encoded};
use crate::encode::ogg_opus::bitrate_for;
use crate::icecast::{IcecastPublisher, IcecastStatus, IcecastTarget};
use crate::pipeline::Output;
use crate::rtp::{RtpOptions, RtpOutput, RtpStats};
use crate::stream::{ChunkStream, Subscription};
use crate::web::{StatusSource, WebConfig, WebOutput, WebStats};
use crate::{Error, Result};

/// Name of the TCP fan-out's thread.
pub const FANOUT_THREAD: &str = "audiomi-fanout";

/// Starts the TCP fan-out: a long-lived thread that takes every item of `subscription` and hands
/// it to the hub (which writes to the sockets). It ends when the chunk stream closes.
pub(super) fn spawn_fanout(
    hub: Arc<Hub>,
    mut subscription: Subscription,
) -> Result<std::thread::JoinHandle<()>> {
    let dropped = subscription.dropped();
    std::thread::Builder::new()
        .name(FANOUT_THREAD.into())
        .spawn(move || {
            while let Some(item) = subscription.recv_blocking() {
                hub.stats()
                    .fanout_dropped
                    .store(dropped.load(Ordering::Relaxed), Ordering::Relaxed);
                match item {
                    Output::Chunk(chunk) => hub.publish_behind(&chunk, subscription.waiting()),
                    Output::Notice(n) => hub.notice(n),
                }
            }
        })
        .map_err(|source| Error::Thread {
            name: FANOUT_THREAD.into(),
            source,
        })
}

/// What the outputs other than the TCP fan-out are asked to do.
pub(super) struct OutputPlan {
    /// The web output's bound listener and limits.
    pub web: Option<(TcpListener, WebConfig)>,
    /// One Icecast publisher per target.
    pub icecast: Vec<IcecastTarget>,
    /// The RTP output.
    pub rtp: Option<RtpOptions>,
}

/// The running outputs other than the TCP fan-out. The encoding and RTP threads end by
/// themselves when the chunk stream closes; [`Outputs::stop`] ends the tasks.
pub(super) struct Outputs {
    web: Option<WebOutput>,
    icecast: Vec<IcecastPublisher>,
}

/// What a [`super::ServerHandle`] reports of its outputs.
#[derive(Debug, Default)]
pub(super) struct OutputInfo {
    pub web: Option<(SocketAddr, Arc<WebStats>)>,
    pub icecast: Vec<Arc<IcecastStatus>>,
    pub rtp: Option<Arc<RtpStats>>,
}

impl Outputs {
    /// Starts what `plan` asks for on `stream`; the live encodings only if an output needs them.
    ///
    /// # Errors
    /// As [`live::start`], [`WebOutput::start`] and [`RtpOutput::start`].
    pub(super) fn start(
        plan: OutputPlan,
        stream: &ChunkStream,
        hub: &Arc<Hub>,
    ) -> Result<(Self, OutputInfo)> {
        let format = hub.config().format;
        let mut info = OutputInfo::default();
        let encoded = if plan.web.is_some() || !plan.icecast.is_empty() {
            let queue = plan
                .web
                .as_ref()
                .map_or(WebConfig::default().queue, |w| w.1.queue);
            Some(live::start(stream, format.sample_rate, format.channels, queue)?.0)
        } else {
            None
        };
        // What can fail starts first, so that a failure leaves no task behind (the RTP thread
        // ends with the chunk stream).
        if let Some(rtp) = plan.rtp {
            let rtp = RtpOutput::start(stream, format.sample_rate, format.channels, &rtp)?;
            info.rtp = Some(rtp.stats().clone());
        }
        let web = match (plan.web, &encoded) {
            (Some((listener, config)), Some(encoded)) => {
                let web = start_web(listener, encoded.clone(), hub, config)?;
                info.web = Some((web.local_addr(), web.stats().clone()));
                Some(web)
            }
            _ => None,
        };
        let audio_info = format!(
            "samplerate={};channels={};bitrate={}",
            format.sample_rate,
            format.channels,
            bitrate_for(format.sample_rate, format.channels) / 1000
        );
        let icecast: Vec<_> = match &encoded {
            Some(encoded) => plan
                .icecast
                .into_iter()
                .map(|t| IcecastPublisher::start(t, encoded.clone(), audio_info.clone()))
                .collect(),
            None => Vec::new(),
        };
        info.icecast = icecast.iter().map(|p| p.status().clone()).collect();
        Ok((Self { web, icecast }, info))
    }

    /// Stops the web output and the Icecast publishers and waits for them.
    pub(super) async fn stop(self) {
        if let Some(web) = self.web {
            web.stop().await;
        }
        for publisher in self.icecast {
            publisher.stop().await;
        }
    }
}

/// Starts the web output on `listener`, serving `encoded`; its status page reports the TCP
/// receivers and level of `hub`.
fn start_web(
    listener: TcpListener,
    encoded: Encoded,
    hub: &Arc<Hub>,
    config: WebConfig,
) -> Result<WebOutput> {
    let format = hub.config().format;
    let (clients, level, chat, track) = (hub.clone(), hub.clone(), hub.clone(), hub.clone());
    let status = StatusSource {
        started: Instant::now(),
        sample_rate: format.sample_rate,
        channels: format.channels,
        tcp_receivers: Arc::new(move || clients.stats().clients.load(Ordering::Relaxed)),
        level: Arc::new(move || level.stats().level()),
        chat: Arc::new(move |after| chat.chat_since(after)),
        now_playing: Arc::new(move || track.current_track().map(|(_, t)| t)),
    };
    WebOutput::start(listener, encoded, status, config)
}
