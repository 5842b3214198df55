//! A minimal Chrome DevTools Protocol client for the browser tests: find the DevTools port of a
//! Chromium started with `--remote-debugging-port=0`, connect to a page target and call methods
//! (`Runtime.evaluate`, `Page.setDownloadBehavior`, …). Protocol:
//! <https://chromedevtools.github.io/devtools-protocol/>. Panics on failure (test code).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// A WebSocket connection to one DevTools target.
pub struct Cdp {
    ws: tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<TcpStream>>,
    next: u64,
}

/// The DevTools port Chromium chose: the first line of `DevToolsActivePort` in its profile
/// folder, waited for up to 10 s.
pub fn devtools_port(profile: &Path) -> u16 {
    let file = profile.join("DevToolsActivePort");
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(port) = std::fs::read_to_string(&file)
            .ok()
            .and_then(|s| s.lines().next()?.trim().parse().ok())
        {
            return port;
        }
        assert!(Instant::now() < end, "Chromium wrote no {}", file.display());
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// GET `path` from the DevTools HTTP endpoint on `port`, as JSON. HTTP/1.1 (Chromium answers
/// HTTP/1.0 with nothing) and the body read by its `Content-Length` (it keeps the connection).
fn json_get(port: u16, path: &str) -> Value {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("DevTools port");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n").as_bytes())
        .expect("send");
    let (mut raw, mut buf) = (Vec::new(), [0u8; 8192]);
    loop {
        if let Some(p) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&raw[..p]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .expect("Content-Length");
            if raw.len() >= p + 4 + len {
                return serde_json::from_slice(&raw[p + 4..p + 4 + len]).expect("DevTools JSON");
            }
        }
        let n = s.read(&mut buf).expect("DevTools read");
        assert!(n > 0, "DevTools closed the connection");
        raw.extend_from_slice(&buf[..n]);
    }
}

impl Cdp {
    /// Connects to the first page whose URL starts with `prefix`, waited for up to 10 s.
    pub fn page(port: u16, prefix: &str) -> Self {
        let end = Instant::now() + Duration::from_secs(10);
        loop {
            let list = json_get(port, "/json/list");
            let found = list.as_array().into_iter().flatten().find(|t| {
                t["type"] == "page" && t["url"].as_str().is_some_and(|u| u.starts_with(prefix))
            });
            if let Some(ws) = found.and_then(|t| t["webSocketDebuggerUrl"].as_str()) {
                return Self::connect(ws);
            }
            assert!(Instant::now() < end, "no page at {prefix}: {list}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn connect(url: &str) -> Self {
        let (ws, _) = tungstenite::connect(url).expect("DevTools WebSocket");
        Self { ws, next: 1 }
    }

    /// Calls `method` with `params` and returns its `result` (events in between are skipped).
    /// Panics on a protocol error.
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        let id = self.next;
        self.next += 1;
        let msg = json!({ "id": id, "method": method, "params": params });
        self.ws
            .send(tungstenite::Message::text(msg.to_string()))
            .expect("DevTools send");
        loop {
            let m = self.ws.read().expect("DevTools read");
            let Ok(text) = m.to_text() else { continue };
            let Ok(v) = serde_json::from_str::<Value>(text) else {
                continue;
            };
            if v["id"] == id {
                assert!(v.get("error").is_none(), "{method}: {v}");
                return v["result"].clone();
            }
        }
    }

    /// Evaluates the JavaScript `expression` in the page (promises awaited; as if from a user
    /// gesture, so a click may start a download) and returns its value.
    pub fn eval(&mut self, expression: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            json!({
                "expression": expression,
                "awaitPromise": true,
                "returnByValue": true,
                "userGesture": true,
            }),
        );
        r["result"]["value"].clone()
    }
}
