//! Replays every saved fuzz input (`wire/fuzz/corpus/*` seeds and `wire/fuzz/regressions/*`,
//! inputs that once failed) through the fuzz targets' checks, so the normal test suite keeps them
//! fixed without a fuzzer.

mod common;

use std::path::Path;

fn replay(dir: &str, check: fn(&[u8])) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return 0;
    };
    let mut n = 0;
    for entry in entries.flatten() {
        let data = std::fs::read(entry.path()).expect("read a saved input");
        check(&data);
        n += 1;
    }
    n
}

#[test]
fn saved_client_inputs_pass() {
    let n = replay(
        "fuzz/corpus/decode_client",
        common::fuzz_checks::check_client,
    ) + replay(
        "fuzz/regressions/decode_client",
        common::fuzz_checks::check_client,
    );
    assert!(n >= 3, "the seed corpus is present ({n} inputs)");
}

#[test]
fn saved_server_inputs_pass() {
    let n = replay(
        "fuzz/corpus/decode_server",
        common::fuzz_checks::check_server,
    ) + replay(
        "fuzz/regressions/decode_server",
        common::fuzz_checks::check_server,
    );
    assert!(n >= 5, "the seed corpus is present ({n} inputs)");
}

/// The checks catch a decoder that changes its answer with the read pattern: a header cut after
/// 4 bytes must give the same frame as one read.
#[test]
fn checks_run_on_cut_reads() {
    // cuts byte 3 → first read of 4 bytes; then a PING.
    let mut input = vec![3u8];
    input.extend_from_slice(&[0x26, 0x01, 0x35, 0x01, 0x63, 0x00, 0x00, 0x00]);
    common::fuzz_checks::check_client(&input);
}
