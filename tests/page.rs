//! What the web page tells a listener (#24), read from the page as headless Chromium renders
//! it: the server's name as heading, the key row only for a private server, the mode in plain
//! words, the format as the mode really carries it, and "no sound" for a silent stream.

use std::time::{Duration, Instant};

mod common;

use audiomi_testkit::cdp::{self, Cdp};
use audiomi_testkit::{Proc, free_port, wait_for_port};
use common::audiomi;

/// Opens `url` in headless Chromium and returns the page's DevTools handle and the browser.
fn open(profile: &std::path::Path, url: &str) -> (Cdp, Proc) {
    let mut c = audiomi_testkit::peers::chromium(profile);
    c.arg("--remote-debugging-port=0").arg(url);
    let browser = Proc {
        child: c.spawn().expect("chromium (scripts/deps.sh installs it)"),
    };
    let port = cdp::devtools_port(profile);
    (Cdp::page(port, url), browser)
}

/// Evaluates `js` until it returns `want` (the page polls the status every 500 ms), at most 10 s.
fn wait_for(page: &mut Cdp, js: &str, want: &str) {
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        let got = page.eval(js);
        if got == want {
            return;
        }
        assert!(Instant::now() < end, "{js}: {got:?}, wanted {want:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn text(page: &mut Cdp, id: &str) -> String {
    page.eval(&format!("document.getElementById('{id}').textContent"))
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn the_page_says_whose_it_is_and_what_it_plays() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (port, http) = (free_port(), free_port());
    // A silent source: a sine at 0 Hz is no tone; a folder with one silent file is.
    let silent = dir.path().join("silence.wav");
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 16_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&silent, spec).expect("wav");
    for _ in 0..16_000 * 60 {
        w.write_sample(0_i16).expect("write");
    }
    w.finalize().expect("finalize");
    let mut serve = audiomi(dir.path());
    serve
        .args(["serve", "--host", "127.0.0.1", "--port", &port.to_string()])
        .args([
            "--http-port",
            &http.to_string(),
            "--source",
            "file:silence.wav",
        ])
        .args(["--name", "Kitchen PC"]);
    let _server = Proc::spawn(serve, &dir.path().join("serve.log"));
    wait_for_port(http, Duration::from_secs(10));

    // 127.0.0.1 is a secure context: the low-latency mode, which carries PCM.
    let url = format!("http://127.0.0.1:{http}/");
    let (mut page, _browser) = open(&dir.path().join("profile-ll"), &url);
    wait_for(
        &mut page,
        "document.getElementById('name').textContent",
        "Kitchen PC",
    );
    let shown = "getComputedStyle(document.getElementById('keyrow')).display";
    assert_eq!(page.eval(shown), "none", "the key row on an open server");
    assert!(text(&mut page, "about").contains("Play"));
    assert!(text(&mut page, "mode").starts_with("low latency"));
    let format = text(&mut page, "format");
    assert!(
        format.contains("PCM") && !format.contains("Opus"),
        "{format}"
    );
    assert_eq!(text(&mut page, "level"), "no sound");

    // The MSE mode (a phone on plain http://) carries Opus and says it is the compatible one.
    let url = format!("http://127.0.0.1:{http}/?mode=mse");
    let (mut page, _browser) = open(&dir.path().join("profile-mse"), &url);
    wait_for(
        &mut page,
        "document.getElementById('name').textContent",
        "Kitchen PC",
    );
    assert!(text(&mut page, "mode").starts_with("compatible"));
    let format = text(&mut page, "format");
    assert!(format.contains("Opus"), "{format}");
}
