//! A minimal Chrome DevTools Protocol client for the browser tests: find the DevTools port of a
//! Chromium started with `--remote-debugging-port=0`, connect to a page target and call methods
//! (`Runtime.evaluate`, `Page.setDownloadBehavior`, …). Protocol:
//! <https://chromedevtools.github.io/devtools-protocol/>. Panics on failure (test code).

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

/// GET `path` from the DevTools HTTP endpoint on `port`, as JSON (10 s at most).
///
/// # Panics
/// If the endpoint does not answer with JSON.
fn json_get(port: u16, path: &str) -> Value {
    let body = crate::peers::http_client(Duration::from_secs(10))
        .get(format!("http://127.0.0.1:{port}{path}"))
        .send()
        .and_then(|r| r.bytes())
        .expect("DevTools answers");
    serde_json::from_slice(&body).expect("DevTools JSON")
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
