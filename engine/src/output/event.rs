//! What happens in a station (its source and its outputs), as events for logs, the GUI and
//! tests.

use std::net::SocketAddr;

use crate::pipeline::Notice;

/// Something that happened in the station (for logs, the GUI and tests).
#[derive(Debug, Clone, PartialEq)]
pub enum ServerEvent {
    /// The TCP output is accepting connections.
    Listening {
        /// The bound address.
        addr: SocketAddr,
    },
    /// A client connected.
    ClientConnected {
        /// Connection id (unique within this server run).
        id: u64,
        /// The client's address.
        addr: SocketAddr,
        /// Clients connected now.
        clients: usize,
    },
    /// A client left or was dropped.
    ClientDisconnected {
        /// Connection id.
        id: u64,
        /// The client's address.
        addr: SocketAddr,
        /// Clients connected now.
        clients: usize,
        /// Why, in words.
        reason: String,
    },
    /// A connection was refused because `max_clients` are connected.
    ClientRefused {
        /// The client's address.
        addr: SocketAddr,
    },
    /// A notice from the source stage.
    Source(Notice),
    /// A chat message was relayed (from a receiver, or said by the server).
    Text {
        /// The sender's name.
        from: String,
        /// The message.
        text: String,
    },
    /// The station has stopped.
    Stopped,
}
