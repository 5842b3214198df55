//! The properties the fuzz targets (`wire/fuzz`) check on arbitrary input, shared with the
//! regression test `tests/fuzz_corpus.rs` that replays the saved corpus and crash inputs.
//!
//! Input layout: byte 0 picks the split points (how the bytes are cut into reads), the rest is
//! what arrives on the socket. Properties: decoding never panics; decoding the bytes in one read
//! and cut into pieces gives the same frames and the same error; decoded frames never hold more
//! payload than arrived; a decoder that returns `Ok(None)` has consumed nothing.

#![allow(dead_code)]

use bytes::BytesMut;
use wire::{ClientFrame, Codec, Error, ServerFrame};

/// The checkcode inputs use (the default, so the golden frames of the corpus decode).
pub const CHECKCODE: i32 = wire::DEFAULT_CHECKCODE;

/// Read sizes for `data`: all of it in one read (`cuts` `None`), or cut into reads of 1 to 61
/// bytes in a sequence that `cuts` seeds.
fn read_sizes(cuts: Option<u8>) -> impl FnMut() -> usize {
    let mut step = cuts.map_or(usize::MAX, |c| usize::from(c % 13) + 1);
    move || {
        let n = step;
        if step != usize::MAX {
            step = step * 7 % 61 + 1;
        }
        n
    }
}

/// Decodes `data` fed in reads of the sizes `next_read` gives, until the decoder wants more or
/// fails.
fn run<F: std::fmt::Debug + PartialEq>(
    data: &[u8],
    mut next_read: impl FnMut() -> usize,
    mut decode: impl FnMut(&mut BytesMut) -> Result<Option<F>, Error>,
) -> (Vec<F>, Option<Error>) {
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let n = next_read().min(rest.len());
        buf.extend_from_slice(&rest[..n]);
        rest = &rest[n..];
        loop {
            let before = buf.len();
            match decode(&mut buf) {
                Ok(Some(f)) => frames.push(f),
                Ok(None) => {
                    assert_eq!(buf.len(), before, "Ok(None) must consume nothing");
                    break;
                }
                Err(e) => return (frames, Some(e)),
            }
        }
    }
    (frames, None)
}

/// Checks the client → server decoder on one fuzz input.
pub fn check_client(input: &[u8]) {
    let Some((&cuts, data)) = input.split_first() else {
        return;
    };
    let codec = Codec::new(CHECKCODE);
    // One read holding everything and the same bytes cut into reads must decode alike.
    let whole = run(data, read_sizes(None), |b| codec.decode_client(b));
    let split = run(data, read_sizes(Some(cuts)), |b| codec.decode_client(b));
    assert_eq!(whole, split, "cut reads change what is decoded");
    assert!(whole.0.len() * wire::HEADER_LEN <= data.len());
    for f in &whole.0 {
        match f {
            ClientFrame::Other(cmd) => assert!(
                *cmd != wire::CMD_PING && *cmd != wire::CMD_EXT_HELLO && *cmd != wire::CMD_EXT_NAME
            ),
            // At most MAX_NAME_LEN bytes arrived; U+FFFD (3 bytes) may stand for 1 invalid byte.
            ClientFrame::Name(n) => assert!(n.chars().count() <= wire::MAX_NAME_LEN),
            _ => {}
        }
    }
}

/// Checks the server → client decoder on one fuzz input.
pub fn check_server(input: &[u8]) {
    let Some((&cuts, data)) = input.split_first() else {
        return;
    };
    let codec = Codec::new(CHECKCODE);
    let whole = run(data, read_sizes(None), |b| codec.decode_server(b));
    let split = run(data, read_sizes(Some(cuts)), |b| codec.decode_server(b));
    assert_eq!(whole, split, "cut reads change what is decoded");
    let payload: usize = whole
        .0
        .iter()
        .map(|f| match f {
            ServerFrame::Audio(p) | ServerFrame::AudioAt { pcm: p, .. } => {
                assert!(p.len() % 2 == 0 && p.len() <= wire::MAX_PAYLOAD);
                p.len()
            }
            _ => 0,
        })
        .sum();
    assert!(
        payload <= data.len(),
        "frames hold more payload than arrived"
    );
}
