//! Real peers started by tests: Debian's `icecast2` with a private configuration on a free
//! loopback port, and the decoders that check what it delivers (`curl`, `opusdec`).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::{Proc, free_port, read_wav, wait_for_port};

/// The source password of every test Icecast.
pub const ICECAST_PASSWORD: &str = "audiomi-test";

/// A private `icecast2` listening on `127.0.0.1:port`, killed when dropped. Run as root (as CI
/// does), it switches to `nobody` (`<changeowner>`), as Icecast refuses to run as root.
pub struct Icecast {
    /// Its port on 127.0.0.1.
    pub port: u16,
    dir: tempfile::TempDir,
    proc: Option<Proc>,
}

impl Icecast {
    /// Starts an Icecast; with `relay_of = Some((port, mount))` it relays that mount of the
    /// Icecast on 127.0.0.1:`port` under the same mount name.
    ///
    /// # Panics
    /// If `icecast2` is missing (scripts/deps.sh installs it) or does not listen within 10 s.
    pub fn start(relay_of: Option<(u16, &str)>) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        // `nobody` must reach the log folder.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
        let logs = dir.path().join("log");
        std::fs::create_dir(&logs).expect("log dir");
        std::fs::set_permissions(&logs, std::fs::Permissions::from_mode(0o777)).expect("chmod");
        let port = free_port();
        let relay = relay_of.map_or(String::new(), |(master, mount)| {
            format!(
                "<relay><server>127.0.0.1</server><port>{master}</port><mount>{mount}</mount>\
                 <local-mount>{mount}</local-mount><on-demand>0</on-demand>\
                 <relay-shoutcast-metadata>0</relay-shoutcast-metadata></relay>"
            )
        });
        let owner = if is_root() {
            "<changeowner><user>nobody</user><group>nogroup</group></changeowner>"
        } else {
            ""
        };
        let config = format!(
            "<icecast><limits><clients>100</clients><sources>4</sources>\
             <source-timeout>10</source-timeout><burst-size>0</burst-size></limits>\
             <authentication><source-password>{ICECAST_PASSWORD}</source-password>\
             <admin-user>admin</admin-user><admin-password>{ICECAST_PASSWORD}</admin-password>\
             </authentication><hostname>127.0.0.1</hostname>\
             <listen-socket><port>{port}</port><bind-address>127.0.0.1</bind-address></listen-socket>\
             {relay}<fileserve>0</fileserve>\
             <paths><basedir>/usr/share/icecast2</basedir><logdir>{logs}</logdir>\
             <webroot>/usr/share/icecast2/web</webroot><adminroot>/usr/share/icecast2/admin</adminroot></paths>\
             <logging><accesslog>access.log</accesslog><errorlog>error.log</errorlog><loglevel>3</loglevel></logging>\
             <security><chroot>0</chroot>{owner}</security></icecast>",
            logs = logs.display()
        );
        std::fs::write(dir.path().join("icecast.xml"), config).expect("write config");
        let mut icecast = Self {
            port,
            dir,
            proc: None,
        };
        icecast.run();
        icecast
    }

    fn run(&mut self) {
        let mut cmd = Command::new("icecast2");
        cmd.arg("-c").arg(self.dir.path().join("icecast.xml"));
        let log = self.dir.path().join("stdout.log");
        self.proc = Some(Proc::spawn(cmd, &log));
        wait_for_port(self.port, Duration::from_secs(10));
    }

    /// Kills it (SIGKILL) and waits until it has exited.
    pub fn stop(&mut self) {
        drop(self.proc.take());
    }

    /// Starts it again on the same port with the same configuration; returns once it listens.
    pub fn start_again(&mut self) {
        self.run();
    }

    /// `URL` of `mount` on it, e.g. `http://127.0.0.1:PORT/live.opus`.
    pub fn url(&self, mount: &str) -> String {
        format!("http://127.0.0.1:{}{mount}", self.port)
    }

    /// The source URL audioMi publishes to: `icecast://source:PASSWORD@127.0.0.1:PORT/MOUNT`.
    pub fn source_url(&self, mount: &str, password: &str) -> String {
        format!("icecast://source:{password}@127.0.0.1:{}{mount}", self.port)
    }

    /// Its access log (one line per finished request).
    pub fn access_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log/access.log")).unwrap_or_default()
    }

    /// The HTTP status of `GET mount` now (404 while no source publishes it; 0 if Icecast did
    /// not answer within 2 s).
    pub fn mount_status(&self, mount: &str) -> u16 {
        let url = format!("http://127.0.0.1:{}{mount}", self.port);
        http_client(Duration::from_secs(2))
            .get(url)
            .send()
            .map_or(0, |r| r.status().as_u16())
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A blocking HTTP client for tests and tools (reqwest): plain HTTP, no proxy (everything a
/// test fetches is on loopback), at most `timeout` per request, the body included.
///
/// # Panics
/// If the client cannot be built (no TLS backend is compiled in, so this does not happen).
pub fn http_client(timeout: Duration) -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .no_proxy()
        .timeout(timeout)
        .build()
        .expect("an HTTP client")
}

/// The body of `GET url` as text (5 s at most); empty if nothing came.
pub fn http_get(url: &str) -> String {
    http_client(Duration::from_secs(5))
        .get(url)
        .send()
        .and_then(|r| r.text())
        .unwrap_or_default()
}

/// Listens to `url` for `seconds` with curl and decodes what arrived with opusdec at 16 kHz;
/// returns the samples (mono).
///
/// # Panics
/// If curl received nothing or opusdec cannot decode it.
pub fn listen_opus(url: &str, seconds: u32, dir: &Path, name: &str) -> Vec<i16> {
    let file: PathBuf = dir.join(format!("{name}.opus"));
    // curl ends with code 28 (time limit) on a live stream: that is the expected end.
    let _ = Command::new("curl")
        .args(["-s", "-m", &seconds.to_string(), "-o"])
        .arg(&file)
        .arg(url)
        .status()
        .expect("run curl");
    let got = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
    assert!(got > 1000, "{url}: curl received {got} bytes");
    opusdec_16k(&file)
}

/// Decodes the Ogg/Opus `file` with opusdec (the reference decoder, from opus-tools) at 16 kHz
/// into a WAV beside it and returns its samples.
///
/// # Panics
/// If opusdec is missing or fails, or the WAV is not 16 kHz mono.
pub fn opusdec_16k(file: &Path) -> Vec<i16> {
    let wav = file.with_extension("wav");
    let out = Command::new("opusdec")
        .args(["--quiet", "--rate", "16000"])
        .arg(file)
        .arg(&wav)
        .output()
        .expect("opusdec installed (scripts/deps.sh)");
    assert!(
        out.status.success(),
        "opusdec: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (spec, samples) = read_wav(&wav);
    assert_eq!((spec.sample_rate, spec.channels), (16_000, 1));
    samples
}

/// Debian's Chromium, headless, as this machine's probe runs it (no sandbox as root, no
/// background networking, so nothing leaves 127.0.0.1), with its own profile in `profile` and
/// no standard streams. Callers add their flags and the URL.
pub fn chromium(profile: &Path) -> Command {
    let mut c = Command::new("chromium");
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .stdin(std::process::Stdio::null())
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::null());
    c
}

/// The DOM of `url` after Debian's headless Chromium ran its scripts for 3 s of virtual time
/// (`--dump-dom`), with a fresh profile at `profile` and `extra` flags (e.g.
/// `--ignore-certificate-errors` for a self-signed HTTPS page).
///
/// # Panics
/// If chromium cannot be run (scripts/deps.sh installs it).
pub fn chromium_dom(url: &str, profile: &Path, extra: &[&str]) -> String {
    let out = std::process::Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
        ])
        .args([
            "--disable-background-networking",
            "--disable-component-update",
        ])
        .args(["--virtual-time-budget=3000", "--dump-dom"])
        .args(extra)
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(url)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("chromium (scripts/deps.sh installs it)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}
