//! The contract between a station ([`crate::station`]) and its outputs.
//!
//! An output is one module (the TCP server [`crate::server`] with its TLS port, the web player
//! [`crate::web`], [`crate::icecast`], [`crate::rtp`], the mDNS announcement
//! [`crate::discovery`]) that the station starts with a [`StationContext`]: it subscribes to the
//! chunk stream there ([`StationContext::subscribe`]) and reads the shared [`StationState`]
//! (format, level, chat, now playing, receivers, events). A started output is an [`Output`]: it
//! reports an [`OutputStatus`] and stops when the station does. No output imports another; only
//! the station's registration list (`station/registry.rs`) names them all.
//!
//! **Adding an output:** a module beside the others with its settings, a constructor that takes
//! those settings and a `&StationContext` and returns a value implementing [`Output`], its CLI
//! flags in `app/src/cli/<output>.rs` and its Server tab fields; then one line in the station's
//! registration list.

mod context;
mod event;
mod state;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;

pub use context::StationContext;
pub use event::ServerEvent;
pub use state::{CHAT_LOG, ChatEntry, EVENT_BACKLOG, StationState, new_stream_id};

/// A future an output's [`Output::stop`] returns.
pub type Stopping<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// A running output of a station. The station calls [`Output::stop`] once, after cancelling
/// [`StationContext::shutdown`] and before it stops the source stage; threads that read the
/// chunk stream ([`StationContext::spawn_reader`]) end when the stream closes after that.
pub trait Output: Send + Sync {
    /// Its short name, for logs: `tcp`, `web`, `icecast`, `rtp`, `mdns`.
    fn name(&self) -> &'static str;

    /// What it is doing now, for the window, `/status.json` and the log.
    fn status(&self) -> OutputStatus;

    /// Whether every receiver of this output has had the stream's last chunk once the source
    /// has ended (see [`StationState::is_finished`]); outputs without receivers to wait for say
    /// yes.
    fn drained(&self) -> bool {
        true
    }

    /// Stops serving (closes its listeners and connections) and waits for its tasks.
    fn stop(&self) -> Stopping<'_>;
}

/// What an output reports of itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputStatus {
    /// Its short name ([`Output::name`]).
    pub name: &'static str,
    /// Where it listens or sends, if one address says it (the first of several).
    pub addr: Option<SocketAddr>,
    /// Receivers or listeners served now, if it counts them.
    pub audience: Option<usize>,
    /// One line for a person: state and counters, e.g. `3 receivers` or `publishing`.
    pub summary: String,
}
