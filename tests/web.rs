//! `audiomi serve`'s web player as a user meets it: the URL in the log, `--http-port`,
//! `--no-http`, and a busy port said plainly.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

mod common;

use audiomi_testkit::{Proc, assert_fails, free_port, wait_for_port, wait_for_text};
use common::audiomi;

/// `audiomi serve --host 127.0.0.1 --port PORT --source tone:440`, the web player as configured
/// by the caller.
fn web_serve(dir: &std::path::Path, port: u16) -> std::process::Command {
    let mut cmd = audiomi(dir);
    cmd.args(["serve", "--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--source", "tone:440"]);
    cmd
}

fn status_json(port: u16) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect to the web player");
    s.write_all(b"GET /status.json HTTP/1.0\r\nHost: audiomi\r\n\r\n")
        .expect("send");
    let mut text = String::new();
    s.read_to_string(&mut text).expect("read");
    text
}

#[test]
fn serve_offers_the_web_player_and_says_where() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (port, http) = (free_port(), free_port());
    let mut cmd = web_serve(dir.path(), port);
    cmd.args(["--http-port", &http.to_string()]);
    let log = dir.path().join("serve.log");
    let _server = Proc::spawn(cmd, &log);
    wait_for_port(port, Duration::from_secs(10));
    wait_for_text(
        &log,
        &format!("http://127.0.0.1:{http}/"),
        Duration::from_secs(5),
    );
    let reply = status_json(http);
    assert!(reply.starts_with("HTTP/1.0 200"), "{reply}");
    assert!(reply.contains("\"sample_rate\":16000"), "{reply}");
}

#[test]
fn no_http_serves_no_web_player() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (port, http) = (free_port(), free_port());
    let mut cmd = web_serve(dir.path(), port);
    cmd.env("HTTP_PORT", http.to_string()).arg("--no-http");
    let log = dir.path().join("serve.log");
    let _server = Proc::spawn(cmd, &log);
    wait_for_port(port, Duration::from_secs(10));
    assert!(TcpStream::connect(("127.0.0.1", http)).is_err());
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(!text.contains("web player"), "{text}");
}

#[test]
fn a_busy_web_port_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let busy = TcpListener::bind("127.0.0.1:0").expect("bind");
    let http = busy.local_addr().expect("addr").port();
    let mut cmd = web_serve(dir.path(), free_port());
    cmd.args(["--http-port", &http.to_string()]);
    let out = cmd.output().expect("run");
    assert_fails(&out, 1, &["cannot listen", &http.to_string()]);
}
