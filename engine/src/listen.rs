//! Listening TCP sockets with a backlog sized for a burst of receivers.

use std::io;
use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpSocket};

use crate::{Error, Result};

/// Connections the kernel may hold completed but not yet accepted, per listening socket.
///
/// `tokio::net::TcpListener::bind` asks for 128, as the standard library does (mio 1.2's
/// `TcpListener::bind`). When more receivers connect at once than the accept loop takes in
/// time (a thousand reconnecting after a network blip, the `hostile` reliability test's 1,105),
/// Linux drops the handshake packets beyond the queue (`TcpExtListenOverflows` in `nstat`) and
/// TCP retries them after 1, 3, 7, 15 s...: a client that sends its PING at once can complete a
/// half-done handshake with that data, but one that stays silent waits for the retries before
/// the server sees it.
/// 4,096 is Linux's default `net.core.somaxconn` since 5.4 (which caps whatever is asked;
/// `listen(2)`).
pub const BACKLOG: u32 = 4096;

/// Binds a TCP listener on `addr` (`host:port`, resolved like `TcpListener::bind`: every
/// address tried in turn, the first that binds kept) with `SO_REUSEADDR` on Unix (as the
/// standard library does) and a backlog of [`BACKLOG`] connections.
///
/// # Errors
/// The resolver's error, or the last address's `socket`/`bind`/`listen` error
/// (`AddrInUse`, `PermissionDenied`, ...); `InvalidInput` if `addr` resolves to nothing.
pub async fn tcp(addr: &str) -> io::Result<TcpListener> {
    let mut last = None;
    for a in tokio::net::lookup_host(addr).await? {
        match bind_one(a) {
            Ok(listener) => return Ok(listener),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{addr} resolves to no address"),
        )
    }))
}

/// [`tcp`] for a server's port: the listener and its local address (the port the system chose
/// for port 0).
///
/// # Errors
/// [`Error::Bind`] with `addr` as given (port in use, no permission, bad address).
pub async fn bind(addr: &str) -> Result<(TcpListener, SocketAddr)> {
    let bind_err = |source| Error::Bind {
        addr: addr.to_string(),
        source,
    };
    let listener = tcp(addr).await.map_err(bind_err)?;
    let local_addr = listener.local_addr().map_err(bind_err)?;
    Ok((listener, local_addr))
}

fn bind_one(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn binds_an_ephemeral_loopback_port_and_accepts() {
        let listener = tcp("127.0.0.1:0").await.expect("binds");
        let addr = listener.local_addr().expect("addr");
        assert!(addr.ip().is_loopback());
        assert_ne!(addr.port(), 0);
        let (client, accepted) =
            tokio::join!(tokio::net::TcpStream::connect(addr), listener.accept());
        let client = client.expect("connects");
        let (_, peer) = accepted.expect("accepts");
        assert_eq!(peer, client.local_addr().expect("local addr"));
    }

    #[tokio::test]
    async fn a_port_in_use_is_a_bind_error_naming_the_address() {
        let (_first, addr) = bind("127.0.0.1:0").await.expect("binds");
        let addr = addr.to_string();
        let err = tcp(&addr).await.expect_err("second bind fails");
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
        match bind(&addr).await {
            Err(Error::Bind {
                addr: given,
                source,
            }) => {
                assert_eq!(given, addr);
                assert_eq!(source.kind(), io::ErrorKind::AddrInUse);
            }
            other => panic!("expected a bind error, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn an_address_without_a_port_is_an_error_not_a_panic() {
        // Rejected before any name lookup: nothing leaves the machine.
        let err = tcp("127.0.0.1").await.expect_err("no port");
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }
}
