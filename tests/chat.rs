//! Text chat end to end: two `audiomi chat` processes and a `record` on one server; a line typed
//! in one appears in the other within 1 s; a legacy client connected at the same time still
//! parses its stream (it never sees TEXT); over-long, invalid and flooding messages are dropped
//! with a log line while the sender keeps its audio.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use audiomi_testkit::{Proc, free_port, legacy_client, read_wav, wait_for_port, wait_for_text};
use common::{audiomi, serve_command};

const CHECKCODE: [u8; 4] = [0x26, 0x01, 0x35, 0x01];

/// `audiomi chat --name NAME` with piped stdin and stdout; its stdout lines arrive on the channel.
fn chatter(dir: &std::path::Path, port: u16, name: &str) -> (Child, mpsc::Receiver<String>) {
    let mut child = audiomi(dir)
        .args(["chat", "--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--name", name])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(
            std::fs::File::create(dir.join(format!("{name}.log"))).expect("log"),
        ))
        .spawn()
        .expect("audiomi chat");
    let out = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    (child, rx)
}

/// Waits up to `within` for `line` on `rx`; how long it took.
fn expect_line(rx: &mpsc::Receiver<String>, line: &str, within: Duration) -> Duration {
    let start = Instant::now();
    while let Some(left) = within.checked_sub(start.elapsed()) {
        match rx.recv_timeout(left) {
            Ok(l) if l == line => return start.elapsed(),
            Ok(_) => {}
            Err(_) => break,
        }
    }
    panic!("{line:?} did not arrive within {within:?}");
}

#[test]
fn a_line_typed_in_one_chat_appears_in_the_other_and_legacy_clients_never_see_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path();
    let port = free_port();
    let _server = Proc::spawn(serve_command(p, port, "tone:440"), &p.join("serve.log"));
    wait_for_port(port, Duration::from_secs(10));
    let mut record = audiomi(p);
    record.args([
        "record",
        "--port",
        &port.to_string(),
        "--duration",
        "4",
        "--out",
        "r.wav",
    ]);
    let mut record = Proc::spawn(record, &p.join("record.log"));
    let legacy = std::thread::spawn(move || legacy_client(port, 3.0).frames);
    let (mut alice, alice_rx) = chatter(p, port, "alice");
    let (mut bob, bob_rx) = chatter(p, port, "bob");
    wait_for_text(
        &p.join("serve.log"),
        "client named itself name=bob",
        Duration::from_secs(10),
    );
    std::thread::sleep(Duration::from_millis(300));

    let alice_in = alice.stdin.as_mut().expect("stdin");
    alice_in.write_all(b"hello from alice\n").expect("type");
    alice_in.flush().expect("flush");
    let took = expect_line(&bob_rx, "alice: hello from alice", Duration::from_secs(1));
    println!("alice -> bob in {took:?}");
    let bob_in = bob.stdin.as_mut().expect("stdin");
    bob_in.write_all("grüße, alice\n".as_bytes()).expect("type");
    bob_in.flush().expect("flush");
    expect_line(&alice_rx, "bob: grüße, alice", Duration::from_secs(1));

    assert!(
        legacy.join().expect("legacy client") >= 100,
        "the legacy client kept streaming"
    );
    assert_eq!(record.wait(Duration::from_secs(15)), Some(0));
    let (_, samples) = read_wav(&p.join("r.wav"));
    assert_eq!(samples.len(), 64_000);
    let log = std::fs::read_to_string(p.join("record.log")).expect("record log");
    assert!(
        log.contains("from=alice") && log.contains("hello from alice"),
        "{log}"
    );
    drop(alice.stdin.take());
    assert!(
        alice.wait().expect("alice exits").success(),
        "stdin closed: chat ends"
    );
    let _ = bob.kill();
    let _ = bob.wait();
}

/// An extension client that asked for the chat, named `name`: the connection after FORMAT.
fn raw_chat_client(port: u16, name: &str) -> TcpStream {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let mut hello = Vec::new();
    hello.extend_from_slice(&CHECKCODE);
    hello.extend_from_slice(&100i32.to_le_bytes()); // EXT_HELLO
    hello.extend_from_slice(&CHECKCODE);
    hello.extend_from_slice(&99i32.to_le_bytes()); // PING
    hello.extend_from_slice(&CHECKCODE);
    hello.extend_from_slice(&103i32.to_le_bytes()); // NAME
    hello.extend_from_slice(&i32::try_from(name.len()).expect("len").to_le_bytes());
    hello.extend_from_slice(name.as_bytes());
    hello.extend_from_slice(&CHECKCODE);
    hello.extend_from_slice(&106i32.to_le_bytes()); // CHAT
    s.write_all(&hello).expect("hello");
    s
}

fn text_frame(bytes: &[u8]) -> Vec<u8> {
    let mut f = CHECKCODE.to_vec();
    f.extend_from_slice(&105i32.to_le_bytes());
    f.extend_from_slice(&i32::try_from(bytes.len()).expect("len").to_le_bytes());
    f.extend_from_slice(bytes);
    f
}

#[test]
fn over_long_invalid_and_flooding_messages_are_dropped_and_audio_goes_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path();
    let port = free_port();
    let _server = Proc::spawn(serve_command(p, port, "tone:440"), &p.join("serve.log"));
    wait_for_port(port, Duration::from_secs(10));
    let (mut bob, bob_rx) = chatter(p, port, "bob");
    wait_for_text(
        &p.join("serve.log"),
        "client named itself name=bob",
        Duration::from_secs(10),
    );
    let mut bad = raw_chat_client(port, "mallory");
    bad.write_all(&text_frame(&vec![b'x'; 5000]))
        .expect("over-long");
    bad.write_all(&text_frame(&[0x68, 0xff, 0xfe]))
        .expect("not UTF-8");
    for i in 0..30 {
        bad.write_all(&text_frame(format!("flood {i}").as_bytes()))
            .expect("flood");
    }
    // Every TEXT counts toward the burst of 10: the two bad ones, then flood 0..7; nothing else.
    for i in 0..8 {
        expect_line(
            &bob_rx,
            &format!("mallory: flood {i}"),
            Duration::from_secs(2),
        );
    }
    assert!(
        bob_rx.recv_timeout(Duration::from_millis(700)).is_err(),
        "the rest was dropped"
    );
    // Mallory's own connection still carries audio.
    bad.set_read_timeout(Some(Duration::from_secs(3)))
        .expect("timeout");
    let mut buf = vec![0u8; 64 * 1024];
    let mut got = 0;
    let until = Instant::now() + Duration::from_secs(1);
    while Instant::now() < until {
        got += bad.read(&mut buf).expect("audio keeps coming");
    }
    assert!(got > 16_000, "about 1 s of audio: {got} bytes");
    let log = std::fs::read_to_string(p.join("serve.log")).expect("log");
    for reason in [
        "5000 bytes, over the 4096-byte limit",
        "not UTF-8",
        "over the rate limit",
    ] {
        assert!(log.contains(reason), "{reason:?} not logged: {log}");
    }
    let _ = bob.kill();
    let _ = bob.wait();
}

/// The web page shows the chat (read-only): `/chat.json` has the message, and a real Chromium
/// renders it on the page.
#[test]
fn the_web_page_shows_the_chat() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path();
    let (port, http) = (free_port(), free_port());
    let mut serve = audiomi(p);
    serve
        .args(["serve", "--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--http-port", &http.to_string(), "--source", "tone:440"]);
    let _server = Proc::spawn(serve, &p.join("serve.log"));
    wait_for_port(http, Duration::from_secs(10));
    let (mut alice, _rx) = chatter(p, port, "alice");
    wait_for_text(
        &p.join("serve.log"),
        "client named itself name=alice",
        Duration::from_secs(10),
    );
    let alice_in = alice.stdin.as_mut().expect("stdin");
    alice_in.write_all(b"<b>hello</b> web\n").expect("type");
    alice_in.flush().expect("flush");
    wait_for_text(
        &p.join("serve.log"),
        "chat message relayed",
        Duration::from_secs(5),
    );
    let mut s = TcpStream::connect(("127.0.0.1", http)).expect("connect");
    s.write_all(b"GET /chat.json?after=0 HTTP/1.0\r\n\r\n")
        .expect("GET");
    let mut body = String::new();
    s.read_to_string(&mut body).expect("response");
    assert!(
        body.contains(r#""from":"alice""#) && body.contains(r#""seq":1"#),
        "{body}"
    );
    let page = format!("http://127.0.0.1:{http}/");
    let dom = audiomi_testkit::peers::chromium_dom(&page, &p.join("profile"), &[]);
    // Shown as text, never as markup.
    assert!(dom.contains("alice: &lt;b&gt;hello&lt;/b&gt; web"), "{dom}");
    let _ = alice.kill();
    let _ = alice.wait();
}
