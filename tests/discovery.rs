//! Discovery over mDNS, on the loopback interface only (the network rule): `audiomi discover`
//! finds a named server with its ports and fingerprint within 3 s and sees it withdraw when it
//! stops; an independent implementation (Debian's python3-zeroconf) sees the service and its TXT
//! record; `record --server NAME` records from a server found by name.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use audiomi_testkit::{Proc, assert_fails, free_port, read_wav, wait_for_port, wait_for_text};
use common::{audiomi, serve_command};

struct Served {
    proc: Proc,
    plain: u16,
    tls: u16,
    fingerprint: String,
}

/// `serve --name NAME --tls --mdns-interface lo` of a tone.
fn serve_named(dir: &Path, name: &str) -> Served {
    let (plain, tls) = (free_port(), free_port());
    let mut cmd = serve_command(dir, plain, "tone:440");
    cmd.args(["--name", name, "--mdns-interface", "lo"]);
    cmd.args(["--tls", "--tls-port", &tls.to_string()]);
    let log = dir.join(format!("{name}.log"));
    let proc = Proc::spawn(cmd, &log);
    wait_for_text(&log, "announcing over mDNS", Duration::from_secs(15));
    wait_for_port(plain, Duration::from_secs(10));
    let text = std::fs::read_to_string(&log).expect("log");
    let fingerprint = text
        .lines()
        .find_map(|l| l.strip_prefix("TLS certificate fingerprint: "))
        .expect("fingerprint printed")
        .trim()
        .to_string();
    Served {
        proc,
        plain,
        tls,
        fingerprint,
    }
}

/// `audiomi discover --json --mdns-interface lo --seconds S`, parsed.
fn discover(dir: &Path, seconds: f64) -> Vec<serde_json::Value> {
    let out = audiomi(dir)
        .args(["discover", "--json", "--mdns-interface", "lo"])
        .args(["--seconds", &seconds.to_string()])
        .output()
        .expect("run discover");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<Vec<serde_json::Value>>(&out.stdout).expect("JSON array")
}

fn named<'a>(found: &'a [serde_json::Value], name: &str) -> Option<&'a serde_json::Value> {
    found.iter().find(|s| s["name"] == name)
}

#[test]
fn discover_finds_a_named_server_within_3_s_and_sees_it_withdraw() {
    let dir = tempfile::tempdir().expect("tempdir");
    let name = format!("disc-{}", free_port());
    let mut served = serve_named(dir.path(), &name);
    let found = discover(dir.path(), 3.0);
    let s = named(&found, &name).unwrap_or_else(|| panic!("{name} not in {found:?}"));
    assert_eq!(s["port"], served.plain);
    assert_eq!(s["plain_port"], served.plain);
    assert_eq!(s["tls_port"], served.tls);
    assert_eq!(s["fingerprint"], served.fingerprint.as_str());
    assert_eq!(
        (s["sample_rate"].clone(), s["channels"].clone()),
        (16_000.into(), 1.into())
    );
    assert_eq!(s["key_required"], false);
    assert!(
        s["addresses"]
            .as_array()
            .is_some_and(|a| a.iter().any(|a| a == "127.0.0.1")),
        "{s}"
    );

    // A browser already running sees the goodbye when the server stops.
    let watcher = std::thread::spawn({
        let dir = dir.path().to_path_buf();
        move || discover(&dir, 5.0)
    });
    std::thread::sleep(Duration::from_millis(2500));
    served.proc.signal(15);
    assert_eq!(served.proc.wait(Duration::from_secs(10)), Some(0));
    let after = watcher.join().expect("watcher");
    assert!(named(&after, &name).is_none(), "withdrawn: {after:?}");
    assert!(named(&discover(dir.path(), 2.0), &name).is_none());
}

/// Browses `_audiomi._tcp` on 127.0.0.1 with python3-zeroconf and prints one JSON object per
/// service: name, port, TXT properties.
const ZEROCONF_BROWSER: &str = r#"
import json, sys, time
from zeroconf import Zeroconf, ServiceBrowser, ServiceListener
zc = Zeroconf(interfaces=["127.0.0.1"])
found = {}
class Listener(ServiceListener):
    def add_service(self, zc, kind, name):
        found[name] = zc.get_service_info(kind, name, 3000)
    def update_service(self, zc, kind, name):
        found[name] = zc.get_service_info(kind, name, 3000)
    def remove_service(self, zc, kind, name):
        found.pop(name, None)
ServiceBrowser(zc, "_audiomi._tcp.local.", Listener())
time.sleep(float(sys.argv[1]))
out = []
for name, info in found.items():
    if info is None:
        continue
    props = {k.decode(): (v or b"").decode() for k, v in info.properties.items()}
    out.append({"name": name, "port": info.port, "txt": props})
zc.close()
print(json.dumps(out))
"#;

#[test]
fn python_zeroconf_sees_the_service_and_its_txt_record() {
    let dir = tempfile::tempdir().expect("tempdir");
    let name = format!("zc-{}", free_port());
    let served = serve_named(dir.path(), &name);
    let out = Command::new("/usr/bin/python3")
        .args(["-c", ZEROCONF_BROWSER, "3"])
        .stdin(Stdio::null())
        .output()
        .expect("run python3 (python3-zeroconf)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let found: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).expect("JSON");
    let full = format!("{name}._audiomi._tcp.local.");
    let s = found
        .iter()
        .find(|s| s["name"] == full.as_str())
        .unwrap_or_else(|| panic!("{full} not in {found:?}"));
    assert_eq!(s["port"], served.plain);
    let txt = &s["txt"];
    assert_eq!(txt["name"], name.as_str());
    assert_eq!(txt["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(txt["format"], "16000/1");
    assert_eq!(txt["tls"], served.tls.to_string());
    assert_eq!(txt["fp"], served.fingerprint.as_str());
    assert_eq!(txt["key"], "0");
}

#[test]
fn record_finds_the_server_by_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let name = format!("rec-{}", free_port());
    let _served = serve_named(dir.path(), &name);
    let out = audiomi(dir.path())
        .args(["record", "--server", &name, "--mdns-interface", "lo"])
        .args(["--duration", "1", "--out", "named.wav"])
        .output()
        .expect("run record");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (spec, samples) = read_wav(&dir.path().join("named.wav"));
    assert_eq!((spec.sample_rate, samples.len()), (16_000, 16_000));
    let out = audiomi(dir.path())
        .args([
            "record",
            "--server",
            "nobody-by-this-name",
            "--mdns-interface",
            "lo",
        ])
        .args(["--duration", "1", "--out", "none.wav"])
        .output()
        .expect("run record");
    assert_fails(
        &out,
        1,
        &["no audioMi server named \"nobody-by-this-name\"", &name],
    );
}

/// Two servers on one machine without `--name` announce distinct names (host name and port),
/// and `record --server NAME` refuses a name that two servers answer to, listing both.
#[test]
fn default_names_are_distinct_and_an_ambiguous_name_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b) = (free_port(), free_port());
    let mut procs = Vec::new();
    for port in [a, b] {
        let mut cmd = serve_command(dir.path(), port, "tone:440");
        cmd.args(["--mdns-interface", "lo"]);
        let log = dir.path().join(format!("default-{port}.log"));
        procs.push(Proc::spawn(cmd, &log));
        wait_for_text(&log, "announcing over mDNS", Duration::from_secs(15));
    }
    let found = discover(dir.path(), 3.0);
    let host = gethostname();
    for port in [a, b] {
        let name = format!("{host}:{port}");
        assert!(named(&found, &name).is_some(), "{name} not in {found:?}");
    }
    drop(procs);
    let name = format!("twin-{}", free_port());
    let _one = serve_named(dir.path(), &name);
    let _two = serve_named(dir.path(), &name);
    let out = audiomi(dir.path())
        .args(["record", "--server", &name, "--mdns-interface", "lo"])
        .args(["--duration", "1", "--out", "twin.wav"])
        .output()
        .expect("run record");
    let stderr = assert_fails(&out, 2, &["2 servers are named", &name]);
    assert!(!dir.path().join("twin.wav").exists(), "{stderr}");
}

/// This machine's host name, as audioMi reads it.
fn gethostname() -> String {
    let out = Command::new("hostname").output().expect("hostname");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}
