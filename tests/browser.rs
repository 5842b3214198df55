//! A real browser plays the web player: Debian's Chromium, headless, opens the page of
//! `audiomi serve --source tone:440` (`?autoplay`; on 127.0.0.1 the page is a secure context, so
//! it plays the low-latency WebSocket + AudioWorklet stream; `&mode=mse` is what a phone on plain
//! http:// gets, WebM/Opus through Media Source Extensions; `&mode=wav` the `<audio>` fallback
//! without MSE). Chromium's sound goes to the test's private PulseAudio; its sink's monitor is
//! recorded and must hold the 440 Hz tone at the level served (the `<audio>` fallback: above
//! −30 dBFS, it may drop out). The page's *Record* is pressed through the DevTools protocol in
//! the low-latency mode (a WAV) and the MSE mode (Ogg/Opus), and the saved files are checked.
//! Screenshots of the page at phone and desktop size are taken too, and 10 s of `/stream.opus`
//! and `/stream.webm` saved to files must play in the browser as well.

use std::process::Command;
use std::time::{Duration, Instant};

mod common;

use audiomi_testkit::cdp::{self, Cdp};
use audiomi_testkit::serde_json::json;
use audiomi_testkit::{
    Proc, Pulse, dominant_frequency, free_port, read_wav, rms_dbfs, wait_for_port,
};
use common::audiomi;

/// Chromium headless ([`audiomi_testkit::peers::chromium`]) that may start sound without a
/// gesture, with its own profile in `profile`.
fn chromium(profile: &std::path::Path) -> Command {
    let mut c = audiomi_testkit::peers::chromium(profile);
    c.arg("--autoplay-policy=no-user-gesture-required");
    c
}

/// Plays `url` in headless Chromium on `pulse` for 5 s (longer, up to 20 s, until the sink
/// carries sound: a cold browser on a busy CI machine may start later) and returns 3 s of what
/// the default sink's monitor heard, at 16 kHz mono.
fn heard(pulse: &Pulse, dir: &std::path::Path, name: &str, url: &str) -> Vec<i16> {
    heard_with(pulse, dir, name, url, &[])
}

/// As [`heard`], with more Chromium flags.
fn heard_with(
    pulse: &Pulse,
    dir: &std::path::Path,
    name: &str,
    url: &str,
    flags: &[&str],
) -> Vec<i16> {
    let mut browser = chromium(&dir.join(format!("profile-{name}")));
    browser
        .args(flags)
        .arg("--remote-debugging-port=0")
        .arg(url);
    pulse.apply(&mut browser);
    let mut browser = browser.spawn().expect("chromium");
    // Chromium starts, the page connects and plays; then 3 s of the sink's monitor.
    std::thread::sleep(Duration::from_secs(5));
    let record = |secs: f64, file: &std::path::Path| {
        pulse
            .sh(&format!(
                "timeout {secs} parecord --device=virt.monitor --rate=16000 --channels=1 --file-format=wav {}",
                file.display()
            ))
            .status()
            .expect("parecord")
    };
    // Still silent after 5 s: wait (in 0.5 s probes) until there is sound, for 15 s at most.
    let probe = dir.join(format!("probe-{name}.wav"));
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        record(0.5, &probe);
        // A probe cut short reads as silence (parecord may not have written its header yet).
        let level = hound::WavReader::open(&probe).ok().map(|r| {
            let x: Vec<i16> = r.into_samples::<i16>().map_while(Result::ok).collect();
            rms_dbfs(&x)
        });
        if level.is_some_and(|l| l > -60.0) {
            break;
        }
    }
    let capture = dir.join(format!("heard-{name}.wav"));
    let recorded = record(3.0, &capture);
    let _ = browser.kill();
    let _ = browser.wait();
    assert!(recorded.code() == Some(124) || recorded.success());
    read_wav(&capture).1
}

/// Opens `url` in headless Chromium on `pulse`, waits until the page says "playing", presses its
/// *Record* for `secs` seconds and again to stop, and returns the file the page saved: its name
/// and bytes (downloads allowed into a folder of the test through the DevTools protocol).
fn record_in_page(
    pulse: &Pulse,
    dir: &std::path::Path,
    name: &str,
    url: &str,
    secs: f64,
) -> (String, Vec<u8>) {
    let profile = dir.join(format!("profile-{name}"));
    let downloads = dir.join(format!("downloads-{name}"));
    std::fs::create_dir_all(&downloads).expect("downloads");
    let mut browser = chromium(&profile);
    browser.arg("--remote-debugging-port=0").arg(url);
    pulse.apply(&mut browser);
    let mut browser = browser.spawn().expect("chromium");
    let port = cdp::devtools_port(&profile);
    let mut page = Cdp::page(port, url);
    // (Browser.setDownloadBehavior on the browser target saved nothing in Chromium 156.)
    page.call(
        "Page.setDownloadBehavior",
        json!({ "behavior": "allow", "downloadPath": downloads.display().to_string() }),
    );
    let state = "document.getElementById('state').textContent";
    let end = Instant::now() + Duration::from_secs(15);
    while page.eval(state) != "playing" {
        assert!(
            Instant::now() < end,
            "{name}: the page says {}",
            page.eval(state)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    page.eval("document.getElementById('record').click()");
    std::thread::sleep(Duration::from_secs_f64(secs));
    page.eval("document.getElementById('record').click()");
    let end = Instant::now() + Duration::from_secs(10);
    let saved = loop {
        let done = std::fs::read_dir(&downloads)
            .expect("downloads")
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|e| e != "crdownload"));
        if let Some(p) = done {
            break p;
        }
        assert!(
            Instant::now() < end,
            "{name}: nothing was saved; the page says {}; {:?}",
            page.eval("document.getElementById('rec').textContent"),
            std::fs::read_dir(&downloads)
                .map(|d| d.flatten().map(|e| e.path()).collect::<Vec<_>>())
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let _ = browser.kill();
    let _ = browser.wait();
    let file = saved
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    (file, std::fs::read(&saved).expect("saved file"))
}

/// Whether `name` is `audiomi-YYYYMMDD-HHMMSS.EXT`.
fn stamped(name: &str, ext: &str) -> bool {
    let Some(stem) = name
        .strip_prefix("audiomi-")
        .and_then(|n| n.strip_suffix(&format!(".{ext}")))
    else {
        return false;
    };
    let b = stem.as_bytes();
    b.len() == 15
        && b[8] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 8 || c.is_ascii_digit())
}

/// Asserts that `samples` hold the served tone: 440 Hz at −15.05 dBFS RMS (−12 dBFS peak,
/// played at full volume).
fn assert_tone(samples: &[i16], what: &str) {
    assert!(
        samples.len() > 16_000 * 2,
        "{what}: {} samples",
        samples.len()
    );
    let freq = dominant_frequency(samples, 16_000);
    assert!((freq - 440.0).abs() < 3.0, "{what} plays {freq} Hz");
    let level = rms_dbfs(samples);
    assert!((level + 15.05).abs() < 1.5, "{what} plays at {level} dBFS");
}

/// 10 s of the live stream at `path` saved as `file` (what a browser's *Record* keeps): long
/// enough to still play through [`heard`]'s 5 s wait and 3 s capture.
fn save(http: u16, path: &str, file: &std::path::Path) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", http)).expect("connect");
    s.write_all(format!("GET {path} HTTP/1.0\r\n\r\n").as_bytes())
        .expect("send");
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .expect("timeout");
    let end = std::time::Instant::now() + Duration::from_secs(10);
    let (mut raw, mut buf) = (Vec::new(), [0u8; 4096]);
    while std::time::Instant::now() < end {
        if let Ok(n) = s.read(&mut buf) {
            raw.extend_from_slice(&buf[..n]);
        }
    }
    let body = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("response head")
        + 4;
    std::fs::write(file, &raw[body..]).expect("write");
}

#[test]
fn chromium_plays_the_tone_and_the_page_fits_a_phone_and_a_desktop() {
    let pulse = Pulse::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let (port, http) = (free_port(), free_port());
    let mut serve = audiomi(dir.path());
    serve
        .args(["serve", "--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--http-port", &http.to_string(), "--source", "tone:440"]);
    let _server = Proc::spawn(serve, &dir.path().join("serve.log"));
    wait_for_port(http, Duration::from_secs(10));
    let page = format!("http://127.0.0.1:{http}/");

    for (name, size) in [("phone", "390,844"), ("desktop", "1280,800")] {
        let shot = dir.path().join(format!("{name}.png"));
        let status = chromium(&dir.path().join(format!("profile-{name}")))
            .arg(format!("--window-size={size}"))
            .arg("--virtual-time-budget=2000")
            .arg(format!("--screenshot={}", shot.display()))
            .arg(&page)
            .status()
            .expect("chromium (scripts/deps.sh installs it)");
        assert!(status.success());
        let png = std::fs::read(&shot).expect("screenshot written");
        assert_eq!(&png[1..4], b"PNG");
        let width = u32::from_be_bytes([png[16], png[17], png[18], png[19]]);
        assert_eq!(
            width.to_string(),
            size.split(',').next().unwrap_or_default()
        );
        if let Ok(out) = std::env::var("AUDIOMI_PAGE_SHOTS") {
            let _ = std::fs::copy(
                &shot,
                std::path::Path::new(&out).join(format!("web-{name}.png")),
            );
        }
    }

    let samples = heard(&pulse, dir.path(), "page", &format!("{page}?autoplay"));
    assert_tone(&samples, "the page (WebSocket + AudioWorklet)");
    // Outside secure contexts (a phone on plain http://): Opus in WebM through Media Source
    // Extensions, at the served level. The page says which mode it plays.
    let dom = audiomi_testkit::peers::chromium_dom(
        &format!("{page}?mode=mse"),
        &dir.path().join("profile-mse-dom"),
        &[],
    );
    assert!(
        dom.contains("compatible (Opus in WebM, through Media Source Extensions)"),
        "{dom}"
    );
    let samples = heard(
        &pulse,
        dir.path(),
        "mse",
        &format!("{page}?autoplay&mode=mse"),
    );
    assert_tone(&samples, "the page (WebM/Opus through MSE)");
    // Where MSE has no WebM/Opus: the WAV stream in <audio>, with its burst on connect.
    // It plays the tone, but not always without dropouts (in CI once at −23.7 dBFS RMS against
    // −15.05 served): asserted is that it plays, clearly above silence (−120 dBFS).
    let samples = heard(
        &pulse,
        dir.path(),
        "wav",
        &format!("{page}?autoplay&mode=wav"),
    );
    let freq = dominant_frequency(&samples, 16_000);
    assert!(
        (freq - 440.0).abs() < 3.0,
        "the <audio> fallback plays {freq} Hz"
    );
    let level = rms_dbfs(&samples);
    assert!(level > -30.0, "the <audio> fallback plays at {level} dBFS");

    // *Record*: in the low-latency mode the page keeps the PCM it plays and saves a WAV; in the
    // other modes it saves the Ogg/Opus stream as it arrives. Each file is named
    // audiomi-YYYYMMDD-HHMMSS and holds the tone at the served level for about as long as Record
    // was on (3 s).
    let (name, bytes) = record_in_page(
        &pulse,
        dir.path(),
        "rec-wav",
        &format!("{page}?autoplay"),
        3.0,
    );
    assert!(stamped(&name, "wav"), "{name}");
    let wav = dir.path().join(&name);
    std::fs::write(&wav, bytes).expect("write");
    let (spec, samples) = read_wav(&wav);
    assert_eq!((spec.sample_rate, spec.channels), (16_000, 1));
    let secs = samples.len() as f64 / 16_000.0;
    assert!((2.5..=3.6).contains(&secs), "the page's WAV lasts {secs} s");
    assert_tone(&samples, "the page's recording (WAV)");
    let url = format!("{page}?autoplay&mode=mse");
    let (name, bytes) = record_in_page(&pulse, dir.path(), "rec-opus", &url, 3.0);
    assert!(stamped(&name, "opus"), "{name}");
    let opus = dir.path().join(&name);
    std::fs::write(&opus, bytes).expect("write");
    let samples = audiomi_testkit::peers::opusdec_16k(&opus);
    let secs = samples.len() as f64 / 16_000.0;
    assert!(
        (2.5..=3.6).contains(&secs),
        "the page's Opus file lasts {secs} s"
    );
    assert_tone(&samples, "the page's recording (Ogg/Opus)");

    // The containers of the streams, saved as files (as *Record* saves them), play in the
    // browser: Ogg/Opus and WebM/Opus.
    for (path, name) in [
        ("/stream.opus", "saved.opus"),
        ("/stream.webm", "saved.webm"),
    ] {
        let file = dir.path().join(name);
        save(http, path, &file);
        let url = format!("file://{}", file.display());
        assert_tone(&heard(&pulse, dir.path(), name, &url), name);
    }
}

/// A private server (`--tls --access-key`): the web player is served over HTTPS with the TLS
/// port's certificate; without the key the page asks for it and nothing plays (curl: 401); with
/// the key Chromium plays the tone.
#[test]
fn chromium_plays_a_private_server_over_https_only_with_its_key() {
    let pulse = Pulse::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let (port, tls, http) = (free_port(), free_port(), free_port());
    let key = "let me in";
    let mut serve = audiomi(dir.path());
    serve
        .args(["serve", "--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--tls", "--tls-port", &tls.to_string(), "--no-plain"])
        .args(["--access-key", key, "--http-port", &http.to_string()])
        .args(["--source", "tone:440"]);
    let _server = Proc::spawn(serve, &dir.path().join("serve.log"));
    wait_for_port(http, Duration::from_secs(10));
    let log = std::fs::read_to_string(dir.path().join("serve.log")).unwrap_or_default();
    assert!(log.contains(&format!("https://127.0.0.1:{http}/")), "{log}");
    let page = format!("https://127.0.0.1:{http}/");
    let curl = |url: &str| {
        let out = Command::new("curl")
            .args([
                "-k",
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "--max-time",
                "2",
            ])
            .arg(url)
            .output()
            .expect("curl");
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    assert_eq!(curl(&page), "200", "the page itself asks for the key");
    assert_eq!(curl(&format!("{page}status.json")), "401");
    assert_eq!(curl(&format!("{page}stream.wav?key=wrong")), "401");
    assert_eq!(curl(&format!("{page}status.json?key=let%20me%20in")), "200");
    assert_eq!(
        curl(&format!("http://127.0.0.1:{http}/")),
        "000",
        "no plain HTTP"
    );
    let log = std::fs::read_to_string(dir.path().join("serve.log")).unwrap_or_default();
    assert!(
        log.contains("web: wrong access key") && !log.contains(key),
        "{log}"
    );

    // The page in a real browser: without the key it shows the key field and says why.
    let profile = dir.path().join("profile-dom");
    let dom =
        audiomi_testkit::peers::chromium_dom(&page, &profile, &["--ignore-certificate-errors"]);
    assert!(dom.contains("this server needs an access key"), "{dom}");
    assert!(
        dom.contains(r#"<div class="row" id="keyrow">"#),
        "the key field shows: {dom}"
    );

    let quiet = heard_with(
        &pulse,
        dir.path(),
        "nokey",
        &format!("{page}?autoplay"),
        &["--ignore-certificate-errors"],
    );
    assert!(
        rms_dbfs(&quiet) < -60.0,
        "nothing plays without the key: {} dBFS",
        rms_dbfs(&quiet)
    );
    let url = format!("{page}?autoplay&key=let%20me%20in");
    let samples = heard_with(
        &pulse,
        dir.path(),
        "key",
        &url,
        &["--ignore-certificate-errors"],
    );
    assert_tone(&samples, "the private page over HTTPS with its key");
}
