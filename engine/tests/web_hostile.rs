//! `/ws` against hostile clients (#24), in a process of its own so that its memory is the
//! server's: 100 clients that announce 16 MiB frames, send 1 MiB continuation frames without
//! FIN, stall inside a frame header, or trickle fragments of a message that never ends. The server
//! stays under 100 MB more memory, closes every one of them within 5 s, and a normal listener
//! beside them keeps getting every chunk.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use engine::audio::sources::SourceSpec;
use engine::station::ServeSettings;
use futures::StreamExt;

/// This process's resident memory in bytes (Linux `/proc/self/status`, `VmRSS` in kB).
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Opens `/ws` with a raw upgrade and reads the 101 response head.
fn upgrade(web: SocketAddr) -> TcpStream {
    let mut s = TcpStream::connect(web).expect("connect");
    s.write_all(
        b"GET /ws HTTP/1.1\r\nHost: audiomi\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
          Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
    )
    .expect("request");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut byte).expect("response head");
        head.push(byte[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    s
}

/// A masked frame header (RFC 6455 §5.2) for `len` payload bytes, zero mask.
fn header(fin: bool, opcode: u8, len: u64) -> Vec<u8> {
    let mut h = vec![if fin { 0x80 } else { 0 } | opcode];
    match len {
        0..=125 => h.push(0x80 | len as u8),
        126..=0xffff => {
            h.push(0x80 | 126);
            h.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            h.push(0x80 | 127);
            h.extend_from_slice(&len.to_be_bytes());
        }
    }
    h.extend_from_slice(&[0; 4]);
    h
}

/// One hostile client of kind `kind` (0..4); returns how long the server took to close it after
/// the upgrade, or `None` if it was still open after 8 s.
fn hostile(web: SocketAddr, kind: usize) -> Option<Duration> {
    let mut s = upgrade(web);
    let start = Instant::now();
    let mut w = s.try_clone().expect("clone");
    // The bad input goes out on its own thread while this one waits for the close; writes stop
    // mattering once the server has closed, so their errors are expected.
    std::thread::spawn(move || send_bad(&mut w, kind));
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let mut buf = vec![0u8; 64 * 1024];
    while start.elapsed() < Duration::from_secs(8) {
        match s.read(&mut buf) {
            Ok(0) => return Some(start.elapsed()),
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return Some(start.elapsed()),
        }
    }
    None
}

/// Writes the bad input of kind `kind` (0..4) to `s`.
fn send_bad(s: &mut TcpStream, kind: usize) {
    let mib = vec![0u8; 1 << 20];
    let _ = match kind {
        // A 16 MiB binary frame, then 1 MiB of it.
        0 => s
            .write_all(&header(true, 2, 16 << 20))
            .and_then(|()| s.write_all(&mib)),
        // 1 MiB continuation frames of a message without FIN.
        1 => (0..3).try_for_each(|i| {
            s.write_all(&header(false, if i == 0 { 2 } else { 0 }, 1 << 20))?;
            s.write_all(&mib)
        }),
        // Two bytes of a frame header, then nothing.
        2 => s.write_all(&[0x82, 0xfe]),
        // A fragment of 100 bytes every 500 ms, never the last one.
        _ => (0..12).try_for_each(|i| {
            s.write_all(&header(false, if i == 0 { 2 } else { 0 }, 100))?;
            s.write_all(&mib[..100])?;
            std::thread::sleep(Duration::from_millis(500));
            Ok(())
        }),
    };
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_websocket_clients_are_bounded_and_closed_while_a_listener_plays() {
    let mut settings = ServeSettings::new("127.0.0.1", 0, SourceSpec::Tone(440.0));
    settings.http_port = Some(0);
    let server = settings.start().await.expect("server starts");
    let web = server.web_addr().expect("web output runs");
    let (mut listener, _) = tokio_tungstenite::connect_async(format!("ws://{web}/ws"))
        .await
        .expect("a normal listener");
    let _format = listener.next().await.expect("format").expect("no error");
    let before = rss();
    let peak = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(before));
    let clients: Vec<_> = (0..100)
        .map(|i| std::thread::spawn(move || hostile(web, i % 4)))
        .collect();
    let sampler = {
        let peak = peak.clone();
        std::thread::spawn(move || {
            for _ in 0..60 {
                peak.fetch_max(rss(), std::sync::atomic::Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    // The normal listener: every chunk, in order, while the attack lasts.
    let mut positions = Vec::new();
    let until = tokio::time::Instant::now() + Duration::from_secs(5);
    while tokio::time::Instant::now() < until {
        match tokio::time::timeout(Duration::from_secs(1), listener.next()).await {
            Ok(Some(Ok(tokio_tungstenite::tungstenite::Message::Binary(b)))) => {
                positions.push(u64::from_le_bytes(b[..8].try_into().expect("8 bytes")));
            }
            other => panic!("the normal listener lost its stream: {other:?}"),
        }
    }
    let closed: Vec<Option<Duration>> = clients
        .into_iter()
        .map(|c| tokio::task::block_in_place(|| c.join().expect("client")))
        .collect();
    tokio::task::block_in_place(|| sampler.join().expect("sampler"));
    let grew = peak
        .load(std::sync::atomic::Ordering::Relaxed)
        .saturating_sub(before);
    assert!(grew < 100 << 20, "the server grew by {} MB", grew >> 20);
    for (i, c) in closed.iter().enumerate() {
        let took = c.unwrap_or_else(|| panic!("client {i} (kind {}) was never closed", i % 4));
        assert!(
            took < Duration::from_secs(5),
            "client {i} (kind {}) closed after {took:?}",
            i % 4
        );
    }
    assert!(positions.len() >= 200, "{} chunks in 5 s", positions.len());
    assert!(
        positions.windows(2).all(|w| w[1] == w[0] + 320),
        "a chunk was lost"
    );
    server.stop().await.expect("stop");
}
