//! One streaming listener of the web output (`/stream.*` or `/ws`), counted while it lives.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use tracing::info;

use super::{Progress, WebState};

/// One listener: counted while it lives; marks its connection's progress on every item.
pub(super) struct Listener {
    state: Arc<WebState>,
    pub(super) progress: Progress,
    kind: &'static str,
}

impl Listener {
    pub(super) fn new(state: &Arc<WebState>, progress: Progress, kind: &'static str) -> Self {
        let n = state.stats.listeners.fetch_add(1, Ordering::Relaxed) + 1;
        progress.start();
        if crate::quiet::line("web listeners joined", None) {
            info!(kind, listeners = n, "web listener joined");
        }
        Self {
            state: state.clone(),
            progress,
            kind,
        }
    }

    pub(super) fn lagged(&self, items: u64) {
        self.state.stats.dropped.fetch_add(1, Ordering::Relaxed);
        if crate::quiet::refused("web listeners dropped: fell behind", None) {
            tracing::warn!(
                kind = self.kind,
                items,
                "web listener fell behind and was dropped"
            );
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.progress.stop();
        let n = self.state.stats.listeners.fetch_sub(1, Ordering::Relaxed) - 1;
        if crate::quiet::line("web listeners left", None) {
            info!(kind = self.kind, listeners = n, "web listener left");
        }
    }
}
