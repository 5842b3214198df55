//! Private streams, end to end with real peers: `openssl s_client` negotiates TLS 1.3 and sees
//! the fingerprint the server printed; `record --tls` with the key records a ramp bit-exact;
//! each failure (wrong key, no key, wrong fingerprint, changed certificate, plaintext on the TLS
//! port, TLS on the plaintext port) has its own message and exit code; a `tcpdump -i lo` capture
//! of a TLS recording holds no run of the ramp's bytes while one of the plaintext port does;
//! hostile bytes on the TLS port do not disturb a TLS receiver.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use audiomi_testkit::{Proc, assert_fails, free_port, ramp_break, read_wav, wait_for_port};
use audiomi_testkit::{wait_for_text, write_ramp};
use common::{audiomi, serve_command};

const KEY: &str = "correct horse battery staple";

struct Server {
    _proc: Proc,
    plain: u16,
    tls: u16,
    fingerprint: String,
}

/// `serve --tls --access-key KEY` of `source` (looped), its config folder `config` in `dir`.
fn serve_tls(dir: &Path, source: &str, extra: &[&str], log: &str) -> Server {
    serve_tls_on(dir, source, extra, log, (free_port(), free_port()))
}

/// As [`serve_tls`], on the given plaintext and TLS ports.
fn serve_tls_on(dir: &Path, source: &str, extra: &[&str], log: &str, ports: (u16, u16)) -> Server {
    let (plain, tls) = ports;
    let mut cmd = serve_command(dir, plain, source);
    cmd.args(["--loop", "--tls", "--tls-port", &tls.to_string()]);
    cmd.args(["--access-key", KEY]).args(extra);
    let proc = Proc::spawn(cmd, &dir.join(log));
    let log = dir.join(log);
    wait_for_text(
        &log,
        "TLS certificate fingerprint: ",
        Duration::from_secs(15),
    );
    wait_for_port(tls, Duration::from_secs(10));
    let text = std::fs::read_to_string(&log).expect("log");
    let fingerprint = text
        .lines()
        .find_map(|l| l.strip_prefix("TLS certificate fingerprint: "))
        .expect("fingerprint line")
        .trim()
        .to_string();
    Server {
        _proc: proc,
        plain,
        tls,
        fingerprint,
    }
}

fn record(dir: &Path, port: u16, out: &str, args: &[&str]) -> std::process::Output {
    audiomi(dir)
        .args(["record", "--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--out", out, "--force", "--duration", "2"])
        .args(args)
        .output()
        .expect("run record")
}

#[test]
fn openssl_negotiates_tls_1_3_and_sees_the_printed_fingerprint() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = serve_tls(dir.path(), "tone:440", &[], "serve.log");
    let s_client = Command::new("openssl")
        .args(["s_client", "-connect", &format!("127.0.0.1:{}", server.tls)])
        .args(["-tls1_3", "-showcerts"])
        .stdin(Stdio::null())
        .output()
        .expect("run openssl s_client");
    let text = String::from_utf8_lossy(&s_client.stdout).to_string();
    assert!(text.contains("TLSv1.3"), "{text}");
    // openssl's own fingerprint of the certificate the server sent.
    let mut x509 = Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha256"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run openssl x509");
    x509.stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("pipe the certificate");
    let x509 = x509.wait_with_output().expect("openssl x509");
    let line = String::from_utf8_lossy(&x509.stdout).to_string();
    let theirs = line
        .trim()
        .rsplit('=')
        .next()
        .expect("fingerprint")
        .to_string();
    assert_eq!(format!("SHA256:{theirs}"), server.fingerprint);
    // TLS 1.2 is refused: the port speaks TLS 1.3 only.
    let old = Command::new("openssl")
        .args(["s_client", "-connect", &format!("127.0.0.1:{}", server.tls)])
        .args(["-tls1_2"])
        .stdin(Stdio::null())
        .output()
        .expect("run openssl s_client -tls1_2");
    assert!(!old.status.success(), "TLS 1.2 must fail");
    // The certificate kept in the config folder is private to its owner.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let key = dir.path().join("config/tls-key.pem");
        let mode = std::fs::metadata(key)
            .expect("key file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[test]
fn the_right_key_records_the_ramp_bit_exact_and_each_failure_says_what_it_is() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_ramp(&dir.path().join("ramp.wav"));
    let server = serve_tls(dir.path(), "file:ramp.wav", &[], "serve.log");
    let p = dir.path();
    let key = ["--access-key", KEY];

    let ok = record(p, server.tls, "ok.wav", &["--tls", key[0], key[1]]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let (_, samples) = read_wav(&p.join("ok.wav"));
    assert_eq!(samples.len(), 32_000);
    assert_eq!(ramp_break(&samples), None, "bit-exact and contiguous");
    let known = std::fs::read_to_string(p.join("config/known_servers.toml")).expect("TOFU");
    assert!(known.contains(&server.fingerprint), "{known}");

    let pinned = [
        "--tls",
        "--fingerprint",
        &server.fingerprint,
        key[0],
        key[1],
    ];
    let out = record(p, server.tls, "pin.wav", &pinned);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = record(p, server.tls, "x.wav", &["--tls", key[0], "wrong"]);
    let err = assert_fails(&out, 3, &["refused the access key"]);
    assert!(!err.contains("wrong\""), "the key is never printed: {err}");
    let out = record(p, server.tls, "x.wav", &["--tls"]);
    assert_fails(&out, 3, &["requires an access key"]);
    let zeros = format!("SHA256:{}", ["00"; 32].join(":"));
    let out = record(
        p,
        server.tls,
        "x.wav",
        &["--tls", "--fingerprint", &zeros, key[0], key[1]],
    );
    assert_fails(
        &out,
        4,
        &[
            "does not match the pinned fingerprint",
            &zeros,
            &server.fingerprint,
        ],
    );
    let out = record(p, server.tls, "x.wav", &[]);
    assert_fails(&out, 6, &["is a TLS port", "--tls"]);
    let out = record(p, server.plain, "x.wav", &["--tls", key[0], key[1]]);
    assert_fails(&out, 6, &["TLS with", "failed"]);
    assert!(!p.join("x.wav").exists(), "no failure leaves a file");
    let log = std::fs::read_to_string(p.join("serve.log")).expect("log");
    assert!(log.contains("wrong access key"), "{log}");
    assert!(
        !log.contains("wrong\n") && !log.contains(KEY),
        "keys never logged"
    );

    // The server makes a new certificate (same ports): the receiver that trusted the old one
    // refuses loudly, naming both fingerprints and the file to edit.
    let (ports, old) = ((server.plain, server.tls), server.fingerprint.clone());
    drop(server);
    std::fs::remove_file(p.join("config/tls-cert.pem")).expect("remove cert");
    std::fs::remove_file(p.join("config/tls-key.pem")).expect("remove key");
    let renewed = serve_tls_on(p, "file:ramp.wav", &[], "serve2.log", ports);
    assert_ne!(renewed.fingerprint, old);
    let out = record(p, renewed.tls, "x.wav", &["--tls", key[0], key[1]]);
    assert_fails(
        &out,
        5,
        &[
            "has CHANGED",
            &old,
            &renewed.fingerprint,
            "known_servers.toml",
        ],
    );
    assert!(
        !p.join("x.wav").exists(),
        "nothing recorded from the changed server"
    );
}

/// Offsets in `bytes` where 16 consecutive PCM16 LE samples count up by one (a run of the ramp).
fn ramp_runs(bytes: &[u8]) -> usize {
    let mut runs = 0;
    let mut i = 0;
    while i + 34 <= bytes.len() {
        let s = |k: usize| i16::from_le_bytes([bytes[i + 2 * k], bytes[i + 2 * k + 1]]);
        if (0..16).all(|k| s(k + 1) == s(k).wrapping_add(1)) {
            runs += 1;
            i += 32;
        } else {
            i += 1;
        }
    }
    runs
}

fn capture(dir: &Path, port: u16, name: &str) -> (Proc, std::path::PathBuf) {
    let pcap = dir.join(format!("{name}.pcap"));
    let mut cmd = Command::new("tcpdump");
    cmd.args(["-i", "lo", "-U", "-s", "0", "-w"]).arg(&pcap);
    cmd.args(["tcp", "port", &port.to_string()]);
    let proc = Proc::spawn(cmd, &dir.join(format!("{name}.log")));
    wait_for_text(
        &dir.join(format!("{name}.log")),
        "listening on",
        Duration::from_secs(10),
    );
    (proc, pcap)
}

#[test]
fn a_capture_of_the_tls_port_holds_no_ramp_while_the_plaintext_one_does() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path();
    write_ramp(&p.join("ramp.wav"));
    let server = serve_tls(p, "file:ramp.wav", &[], "serve.log");
    let (mut tls_dump, tls_pcap) = capture(p, server.tls, "tls");
    let (mut plain_dump, plain_pcap) = capture(p, server.plain, "plain");
    let ok = record(p, server.tls, "tls.wav", &["--tls", "--access-key", KEY]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let ok = record(p, server.plain, "plain.wav", &[]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    std::thread::sleep(Duration::from_millis(500));
    tls_dump.signal(2);
    plain_dump.signal(2);
    tls_dump.wait(Duration::from_secs(5));
    plain_dump.wait(Duration::from_secs(5));
    for wav in ["tls.wav", "plain.wav"] {
        let (_, samples) = read_wav(&p.join(wav));
        assert_eq!(ramp_break(&samples), None, "{wav} is the ramp");
    }
    let tls_bytes = std::fs::read(&tls_pcap).expect("TLS capture");
    let plain_bytes = std::fs::read(&plain_pcap).expect("plaintext capture");
    assert!(
        tls_bytes.len() > 64_000,
        "the TLS capture holds the stream: {} B",
        tls_bytes.len()
    );
    assert_eq!(
        ramp_runs(&tls_bytes),
        0,
        "no run of the ramp crosses the TLS port"
    );
    assert!(
        ramp_runs(&plain_bytes) > 1000,
        "the plaintext port carries the ramp in the clear"
    );
}

#[test]
fn hostile_bytes_on_the_tls_port_do_not_disturb_a_tls_receiver() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path();
    write_ramp(&p.join("ramp.wav"));
    let server = serve_tls(p, "file:ramp.wav", &["--no-plain"], "serve.log");
    assert!(
        TcpStream::connect(("127.0.0.1", server.plain)).is_err(),
        "--no-plain: no plaintext port"
    );
    let tls = server.tls;
    let recorder = std::thread::spawn({
        let p = p.to_path_buf();
        move || {
            audiomi(&p)
                .args(["record", "--host", "127.0.0.1", "--port", &tls.to_string()])
                .args([
                    "--out",
                    "calm.wav",
                    "--duration",
                    "4",
                    "--tls",
                    "--access-key",
                    KEY,
                ])
                .output()
                .expect("record")
        }
    });
    let until = Instant::now() + Duration::from_secs(3);
    let mut rounds = 0;
    while Instant::now() < until {
        rounds += 1;
        // Garbage, a TLS record header that promises 16 KiB and stops, a silent connection.
        for bytes in [
            &b"GET / HTTP/1.1\r\n\r\n"[..],
            &[0x16, 0x03, 0x01, 0x40, 0x00, 0x01],
            &[],
        ] {
            if let Ok(mut s) = TcpStream::connect(("127.0.0.1", tls)) {
                let _ = s.write_all(bytes);
                let _ = s.write_all(&fastrand_bytes(rounds, 512));
            }
        }
    }
    let out = recorder.join().expect("recorder thread");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (_, samples) = read_wav(&p.join("calm.wav"));
    assert_eq!(samples.len(), 64_000);
    assert_eq!(ramp_break(&samples), None, "not one sample lost or changed");
    let log = std::fs::read_to_string(p.join("serve.log")).expect("log");
    assert!(
        log.contains("plaintext on the TLS port") || log.contains("TLS handshake failed"),
        "{log}"
    );
}

/// `n` bytes of a simple deterministic pattern seeded by `seed` (an LCG; enough for garbage).
fn fastrand_bytes(seed: u32, n: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..n)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            (x >> 16) as u8
        })
        .collect()
}

#[test]
fn no_plain_needs_a_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = serve_command(dir.path(), free_port(), "tone:440");
    cmd.args([
        "--tls",
        "--tls-port",
        &free_port().to_string(),
        "--no-plain",
    ]);
    let out = cmd.output().expect("run serve");
    assert_fails(&out, 2, &["--no-plain", "access key"]);
}
