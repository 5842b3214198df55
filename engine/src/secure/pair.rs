//! A connected pair of loopback TCP sockets (a portable `socketpair`): the TLS port hands the
//! decrypted side of each connection to the same hub as the plaintext port through one.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};

use tokio::net::{TcpListener, TcpStream};

/// Two connected TCP sockets on 127.0.0.1: `(a, b)`, where bytes written to one are read from
/// the other. A listener on an ephemeral port accepts exactly one connection, checked to be the
/// one this function made (its peer address is our socket's local address), then closes.
///
/// # Errors
/// Whatever binding, connecting or accepting on loopback returns; a stranger's connection that
/// won the race is refused with `ConnectionRefused`.
pub async fn loopback_pair() -> io::Result<(TcpStream, TcpStream)> {
    let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await?;
    let addr = listener.local_addr()?;
    let (connected, accepted) = tokio::join!(TcpStream::connect(addr), listener.accept());
    let a = connected?;
    let (b, peer) = accepted?;
    if peer != a.local_addr()? {
        return Err(io::Error::new(
            io::ErrorKind::ConnectionRefused,
            format!("a stranger ({peer}) connected to the internal loopback pair"),
        ));
    }
    a.set_nodelay(true)?;
    b.set_nodelay(true)?;
    Ok((a, b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn bytes_cross_the_pair_both_ways() {
        let (mut a, mut b) = loopback_pair().await.expect("pair");
        a.write_all(b"ping").await.expect("write");
        let mut buf = [0u8; 4];
        b.read_exact(&mut buf).await.expect("read");
        assert_eq!(&buf, b"ping");
        b.write_all(b"pong").await.expect("write");
        a.read_exact(&mut buf).await.expect("read");
        assert_eq!(&buf, b"pong");
    }
}
