//! What a front end reads and does with a running [`Station`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use super::{DRAIN_TIMEOUT, Station};
use crate::Result;
use crate::audio::level::Level;
use crate::icecast::IcecastStatus;
use crate::output::{OutputStatus, ServerEvent};
use crate::pipeline::{Notice, PipelineStats};
use crate::rtp::RtpStats;
use crate::secure::Fingerprint;
use crate::server::{Hub, ServerStats};
use crate::stream::ChunkStream;
use crate::web::WebStats;

impl Station {
    /// The chunk stream the source stage publishes to (subscribe to add a reader); `None` once
    /// the station has stopped.
    pub fn stream(&self) -> Option<ChunkStream> {
        self.inner.stream.upgrade()
    }

    /// The level of the latest chunk ([`Level::SILENCE`] before the first).
    pub fn level(&self) -> Level {
        self.inner.state.level()
    }

    /// What each output reports now, in start order.
    pub fn outputs(&self) -> Vec<OutputStatus> {
        self.inner.outputs.all.iter().map(|o| o.status()).collect()
    }

    /// Counters of the source stage (chunks produced, silence inserted, device overruns).
    pub fn source_stats(&self) -> &Arc<PipelineStats> {
        &self.inner.source_stats
    }

    /// The web output's address, if it runs.
    pub fn web_addr(&self) -> Option<SocketAddr> {
        self.inner.outputs.web.as_ref().map(|(a, _)| *a)
    }

    /// The web player's URL (`https://` when TLS is on), if it runs.
    pub fn web_url(&self) -> Option<String> {
        let secure = self.tls().is_some();
        self.web_addr().map(|a| crate::web::player_url(a, secure))
    }

    /// The web output's counters, if it runs.
    pub fn web_stats(&self) -> Option<&Arc<WebStats>> {
        self.inner.outputs.web.as_ref().map(|(_, s)| s)
    }

    /// State and counters of each Icecast publisher, in the order of [`super::ServeOptions::icecast`].
    pub fn icecast(&self) -> &[Arc<IcecastStatus>] {
        &self.inner.outputs.icecast
    }

    /// The RTP output's counters, if it runs.
    pub fn rtp_stats(&self) -> Option<&Arc<RtpStats>> {
        self.inner.outputs.rtp.as_ref()
    }

    /// The TLS port's address and the certificate's fingerprint, if TLS is on.
    pub fn tls(&self) -> Option<(SocketAddr, Fingerprint)> {
        self.inner.tcp.tls().map(|(a, f, _)| (a, f))
    }

    /// The plaintext port's address (the TLS port's when the plaintext port is off).
    pub fn local_addr(&self) -> SocketAddr {
        let tcp = &self.inner.tcp;
        match (tcp.plain_addr(), tcp.tls()) {
            (Some(a), _) | (None, Some((a, _, _))) => a,
            (None, None) => SocketAddr::from(([0, 0, 0, 0], 0)),
        }
    }

    /// The TCP output's hub: clients, stats.
    pub fn hub(&self) -> &Arc<Hub> {
        self.inner.tcp.hub()
    }

    /// The TCP output's live counters: receivers, bytes, drops.
    pub fn stats(&self) -> &ServerStats {
        self.inner.tcp.hub().stats()
    }

    /// What happens in the station from now on, as a stream (events missed by a slow reader are
    /// skipped); it ends when the station stops.
    pub fn events(&self) -> impl futures::Stream<Item = ServerEvent> + Send + 'static + use<> {
        futures::stream::unfold(self.inner.state.subscribe(), |mut rx| async move {
            loop {
                match rx.recv().await {
                    Ok(e) => return Some((e, rx)),
                    Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        })
    }

    /// Resolves once the source has ended (a file or playlist played without looping) and its
    /// last chunk has gone out to every receiver of every output (each TCP connection closes
    /// once its queue is written; at most [`DRAIN_TIMEOUT`] is waited for them). Never
    /// resolves for a source that does not end. The caller then stops the station.
    pub async fn finished(&self) {
        let state = &self.inner.state;
        let mut events = state.subscribe();
        while !state.is_finished() {
            match events.recv().await {
                Ok(ServerEvent::Source(Notice::Finished)) => break,
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => std::future::pending::<()>().await,
            }
        }
        let deadline = tokio::time::Instant::now() + DRAIN_TIMEOUT;
        let outputs = &self.inner.outputs.all;
        while !outputs.iter().all(|o| o.drained()) && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// A token that stops the station when cancelled (e.g. from a signal handler).
    pub fn shutdown_token(&self) -> CancellationToken {
        self.inner.shutdown.clone()
    }

    /// Waits until the station has stopped (after [`Station::stop`] or its shutdown token):
    /// outputs stopped, source stage and reader threads ended.
    ///
    /// # Errors
    /// None today; reserved for outputs that can fail to stop.
    pub async fn wait(&self) -> Result<()> {
        let mut stopped = self.inner.stopped.clone();
        let _ = stopped.wait_for(|s| *s).await;
        Ok(())
    }

    /// Stops every output and the source, and waits for all of it.
    ///
    /// # Errors
    /// As [`Station::wait`].
    pub async fn stop(&self) -> Result<()> {
        self.inner.shutdown.cancel();
        self.wait().await
    }
}
