//! Golden bytes: these literals are the protocol. Every frame is checked encoded, decoded whole,
//! decoded one byte at a time, and with the next frame's bytes already behind it in the buffer.

use bytes::{Bytes, BytesMut};
use wire::{ClientFrame, Codec, Error, MAX_PAYLOAD, ServerFrame, StreamFormat};

const PING: [u8; 8] = [0x26, 0x01, 0x35, 0x01, 0x63, 0x00, 0x00, 0x00];
const ACK: [u8; 9] = [0x26, 0x01, 0x35, 0x01, 0x63, 0x00, 0x00, 0x00, 0x00];
const AUDIO_1_MINUS_1: [u8; 16] = [
    0x26, 0x01, 0x35, 0x01, 0x01, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x01, 0x00, 0xff, 0xff,
];
const EXT_HELLO: [u8; 8] = [0x26, 0x01, 0x35, 0x01, 0x64, 0x00, 0x00, 0x00];
const EXT_FORMAT_16K_MONO: [u8; 24] = [
    0x26, 0x01, 0x35, 0x01, 0x65, 0x00, 0x00, 0x00, 0x0c, 0x00, 0x00, 0x00, // header, size 12
    0x80, 0x3e, 0x00, 0x00, // 16000 Hz
    0x01, 0x00, // 1 channel
    0x10, 0x00, // 16 bits
    0x04, 0x03, 0x02, 0x01, // stream id 0x01020304
];
/// FORMAT as audioMi sends it since version 2: `features` appended (bit 0: takes NAME).
const EXT_FORMAT_V2: [u8; 28] = [
    0x26, 0x01, 0x35, 0x01, 0x65, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, // header, size 16
    0x80, 0x3e, 0x00, 0x00, // 16000 Hz
    0x01, 0x00, // 1 channel
    0x10, 0x00, // 16 bits
    0x04, 0x03, 0x02, 0x01, // stream id 0x01020304
    0x01, 0x00, 0x00, 0x00, // features: FEATURE_CLIENT_NAME
];
/// NAME "pc1" (client → server).
const EXT_NAME_PC1: [u8; 15] = [
    0x26, 0x01, 0x35, 0x01, 0x67, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, // header, size 3
    0x70, 0x63, 0x31, // "pc1"
];
/// KEY "s3cret" (client → server, first frame on the TLS port).
const EXT_KEY_S3CRET: [u8; 18] = [
    0x26, 0x01, 0x35, 0x01, 0x68, 0x00, 0x00, 0x00, 0x06, 0x00, 0x00, 0x00, // header, size 6
    0x73, 0x33, 0x63, 0x72, 0x65, 0x74, // "s3cret"
];
/// KEY_RESULT: accepted, wrong key, key required (server → client, 9 bytes like ACK).
const KEY_RESULT_ACCEPTED: [u8; 9] = [0x26, 0x01, 0x35, 0x01, 0x68, 0x00, 0x00, 0x00, 0x00];
const KEY_RESULT_WRONG: [u8; 9] = [0x26, 0x01, 0x35, 0x01, 0x68, 0x00, 0x00, 0x00, 0x01];
const KEY_RESULT_REQUIRED: [u8; 9] = [0x26, 0x01, 0x35, 0x01, 0x68, 0x00, 0x00, 0x00, 0x02];
/// CHAT (client → server): "send me the chat".
const EXT_CHAT: [u8; 8] = [0x26, 0x01, 0x35, 0x01, 0x6a, 0x00, 0x00, 0x00];
/// TEXT "hi" (client → server).
const EXT_TEXT_HI: [u8; 14] = [
    0x26, 0x01, 0x35, 0x01, 0x69, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, // header, size 2
    0x68, 0x69, // "hi"
];
/// TEXT from "pc1": "hi" (server → client).
const EXT_TEXT_FROM_PC1: [u8; 18] = [
    0x26, 0x01, 0x35, 0x01, 0x69, 0x00, 0x00, 0x00, 0x06, 0x00, 0x00, 0x00, // header, size 6
    0x03, 0x70, 0x63, 0x31, // from_len 3, "pc1"
    0x68, 0x69, // "hi"
];
const EXT_AUDIO_AT_5: [u8; 24] = [
    0x26, 0x01, 0x35, 0x01, 0x66, 0x00, 0x00, 0x00, 0x0c, 0x00, 0x00, 0x00, // header, size 12
    0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // position 5
    0x01, 0x00, 0xff, 0xff, // samples [1, -1]
];

fn codec() -> Codec {
    Codec::new(20_250_918)
}

fn check_client(frame: ClientFrame, golden: &[u8]) {
    let c = codec();
    let mut out = BytesMut::new();
    c.encode_client(&frame, &mut out);
    assert_eq!(&out[..], golden, "encoding {frame:?}");

    let mut whole = BytesMut::from(golden);
    assert_eq!(c.decode_client(&mut whole), Ok(Some(frame.clone())));
    assert!(whole.is_empty());

    let mut buf = BytesMut::new();
    for (i, b) in golden.iter().enumerate() {
        assert_eq!(c.decode_client(&mut buf), Ok(None), "after {i} bytes");
        assert_eq!(buf.len(), i, "an incomplete frame is not consumed");
        buf.extend_from_slice(&[*b]);
    }
    assert_eq!(c.decode_client(&mut buf), Ok(Some(frame.clone())));
    assert!(buf.is_empty());

    let mut trailing = BytesMut::from(golden);
    trailing.extend_from_slice(&PING[..3]);
    assert_eq!(c.decode_client(&mut trailing), Ok(Some(frame)));
    assert_eq!(
        &trailing[..],
        &PING[..3],
        "trailing bytes stay in the buffer"
    );
}

fn check_server(frame: ServerFrame, golden: &[u8]) {
    let c = codec();
    let mut out = BytesMut::new();
    c.encode_server(&frame, &mut out);
    assert_eq!(&out[..], golden, "encoding {frame:?}");

    let mut whole = BytesMut::from(golden);
    assert_eq!(c.decode_server(&mut whole), Ok(Some(frame.clone())));
    assert!(whole.is_empty());

    let mut buf = BytesMut::new();
    for (i, b) in golden.iter().enumerate() {
        assert_eq!(c.decode_server(&mut buf), Ok(None), "after {i} bytes");
        assert_eq!(buf.len(), i, "an incomplete frame is not consumed");
        buf.extend_from_slice(&[*b]);
    }
    assert_eq!(c.decode_server(&mut buf), Ok(Some(frame.clone())));
    assert!(buf.is_empty());

    let mut trailing = BytesMut::from(golden);
    trailing.extend_from_slice(&AUDIO_1_MINUS_1[..5]);
    assert_eq!(c.decode_server(&mut trailing), Ok(Some(frame)));
    assert_eq!(&trailing[..], &AUDIO_1_MINUS_1[..5]);
}

#[test]
fn ping_golden() {
    check_client(ClientFrame::Ping, &PING);
}

#[test]
fn ext_hello_golden() {
    check_client(ClientFrame::ExtHello, &EXT_HELLO);
}

#[test]
fn unknown_client_command_is_an_8_byte_header() {
    check_client(
        ClientFrame::Other(7),
        &[0x26, 0x01, 0x35, 0x01, 0x07, 0x00, 0x00, 0x00],
    );
}

#[test]
fn ack_golden() {
    check_server(ServerFrame::Ack { status: 0 }, &ACK);
}

#[test]
fn audio_golden() {
    check_server(
        ServerFrame::Audio(Bytes::from_static(&[0x01, 0x00, 0xff, 0xff])),
        &AUDIO_1_MINUS_1,
    );
    assert_eq!(
        wire::pcm16_to_bytes(&[1, -1]),
        Bytes::from_static(&AUDIO_1_MINUS_1[12..])
    );
    assert_eq!(wire::bytes_to_pcm16(&AUDIO_1_MINUS_1[12..]), vec![1, -1]);
}

#[test]
fn empty_audio_frame_is_valid() {
    check_server(
        ServerFrame::Audio(Bytes::new()),
        &[
            0x26, 0x01, 0x35, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        ],
    );
}

#[test]
fn ext_format_golden() {
    check_server(
        ServerFrame::Format(StreamFormat {
            sample_rate: 16_000,
            channels: 1,
            bits_per_sample: 16,
            stream_id: 0x0102_0304,
            features: wire::FEATURE_CLIENT_NAME,
        }),
        &EXT_FORMAT_V2,
    );
}

/// FORMAT of a music stream (`serve --format 48000:2`): 48,000 Hz (`80 bb 00 00`), 2 channels,
/// features NAME and TEXT (3).
#[test]
fn ext_format_48k_stereo_golden() {
    check_server(
        ServerFrame::Format(StreamFormat {
            sample_rate: 48_000,
            channels: 2,
            bits_per_sample: 16,
            stream_id: 0x0102_0304,
            features: wire::FEATURE_CLIENT_NAME | wire::FEATURE_TEXT,
        }),
        &[
            0x26, 0x01, 0x35, 0x01, 0x65, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x80, 0xbb,
            0x00, 0x00, 0x02, 0x00, 0x10, 0x00, 0x04, 0x03, 0x02, 0x01, 0x03, 0x00, 0x00, 0x00,
        ],
    );
}

/// A version-1 FORMAT (12-byte payload, as audioMi 0.1 sent it) still decodes, with no features.
#[test]
fn version_1_format_decodes_without_features() {
    let c = codec();
    let mut buf = BytesMut::from(&EXT_FORMAT_16K_MONO[..]);
    assert_eq!(
        c.decode_server(&mut buf),
        Ok(Some(ServerFrame::Format(StreamFormat {
            features: 0,
            ..StreamFormat::legacy(0x0102_0304)
        })))
    );
    assert!(buf.is_empty());
}

#[test]
fn ext_name_golden() {
    check_client(ClientFrame::Name("pc1".into()), &EXT_NAME_PC1);
}

#[test]
fn ext_key_golden() {
    check_client(
        ClientFrame::Key(Bytes::from_static(b"s3cret")),
        &EXT_KEY_S3CRET,
    );
    check_client(
        ClientFrame::Key(Bytes::new()),
        &EXT_KEY_S3CRET[..12]
            .iter()
            .enumerate()
            .map(|(i, b)| if i == 8 { 0 } else { *b })
            .collect::<Vec<_>>(),
    );
}

#[test]
fn key_result_golden() {
    check_server(
        ServerFrame::KeyResult {
            status: wire::KEY_ACCEPTED,
        },
        &KEY_RESULT_ACCEPTED,
    );
    check_server(
        ServerFrame::KeyResult {
            status: wire::KEY_WRONG,
        },
        &KEY_RESULT_WRONG,
    );
    check_server(
        ServerFrame::KeyResult {
            status: wire::KEY_REQUIRED,
        },
        &KEY_RESULT_REQUIRED,
    );
}

#[test]
fn keys_over_256_bytes_are_refused_before_allocating() {
    let c = codec();
    let mut over = BytesMut::from(&EXT_KEY_S3CRET[..12]);
    over[8..12].copy_from_slice(&257i32.to_le_bytes());
    assert_eq!(
        c.decode_client(&mut over),
        Err(Error::Oversize {
            cmd: wire::CMD_EXT_KEY,
            size: 257,
            max: wire::MAX_KEY_LEN
        })
    );
    assert_eq!(over.capacity(), 12, "refused before allocating");
    // The encoder never writes more than the decoder takes.
    let mut out = BytesMut::new();
    c.encode_client(&ClientFrame::Key(Bytes::from(vec![b'k'; 300])), &mut out);
    assert_eq!(&out[8..12], &[0x00, 0x01, 0x00, 0x00], "cut to 256 bytes");
    assert!(matches!(c.decode_client(&mut out), Ok(Some(ClientFrame::Key(k))) if k.len() == 256));
}

#[test]
fn chat_golden() {
    check_client(ClientFrame::Chat, &EXT_CHAT);
    check_client(ClientFrame::Text(Bytes::from_static(b"hi")), &EXT_TEXT_HI);
    check_server(
        ServerFrame::Text {
            from: "pc1".into(),
            text: "hi".into(),
        },
        &EXT_TEXT_FROM_PC1,
    );
}

#[test]
fn text_frames_over_64_kib_are_refused_before_allocating_and_a_bad_from_len_is_cut() {
    let c = codec();
    let mut over = BytesMut::from(&EXT_TEXT_HI[..12]);
    over[8..12].copy_from_slice(&65_537i32.to_le_bytes());
    assert_eq!(
        c.decode_client(&mut over),
        Err(Error::Oversize {
            cmd: wire::CMD_EXT_TEXT,
            size: 65_537,
            max: wire::MAX_TEXT_FRAME
        })
    );
    assert_eq!(over.capacity(), 12, "refused before allocating");
    // A message longer than 4 KiB but under 64 KiB decodes (the server drops it, not the link).
    let mut long = BytesMut::new();
    c.encode_client(&ClientFrame::Text(Bytes::from(vec![b'x'; 5000])), &mut long);
    assert!(
        matches!(c.decode_client(&mut long), Ok(Some(ClientFrame::Text(t))) if t.len() == 5000)
    );
    // from_len larger than the payload: the name takes what there is, the text is empty.
    let mut bad = BytesMut::from(&EXT_TEXT_FROM_PC1[..]);
    bad[12] = 200;
    assert_eq!(
        c.decode_server(&mut bad),
        Ok(Some(ServerFrame::Text {
            from: "pc1hi".into(),
            text: String::new()
        }))
    );
}

#[test]
fn names_are_cut_at_64_bytes_on_a_character_boundary_and_longer_ones_refused() {
    let c = codec();
    // 30 × "é" (2 bytes each) + "ab€" = 60 + 2 + 3 = 65 bytes: cut before the 3-byte "€".
    let long = format!("{}ab€", "é".repeat(30));
    let mut out = BytesMut::new();
    c.encode_client(&ClientFrame::Name(long), &mut out);
    assert_eq!(&out[8..12], &[62, 0, 0, 0]);
    let cut = format!("{}ab", "é".repeat(30));
    assert_eq!(c.decode_client(&mut out), Ok(Some(ClientFrame::Name(cut))));

    let mut over = BytesMut::from(&EXT_NAME_PC1[..12]);
    over[8] = 65;
    assert_eq!(
        c.decode_client(&mut over),
        Err(Error::Oversize {
            cmd: wire::CMD_EXT_NAME,
            size: 65,
            max: wire::MAX_NAME_LEN
        })
    );
    assert_eq!(over.capacity(), 12, "refused before allocating");
    let mut negative = BytesMut::from(&EXT_NAME_PC1[..12]);
    negative[8..12].copy_from_slice(&(-1i32).to_le_bytes());
    assert!(matches!(
        c.decode_client(&mut negative),
        Err(Error::NegativeSize { .. })
    ));
    // Invalid UTF-8 is not an error: it becomes U+FFFD.
    let mut bad = BytesMut::from(&EXT_NAME_PC1[..]);
    bad[12] = 0xff;
    assert_eq!(
        c.decode_client(&mut bad),
        Ok(Some(ClientFrame::Name("\u{fffd}c1".into())))
    );
}

#[test]
fn ext_audio_at_golden() {
    check_server(
        ServerFrame::AudioAt {
            position: 5,
            pcm: Bytes::from_static(&[0x01, 0x00, 0xff, 0xff]),
        },
        &EXT_AUDIO_AT_5,
    );
}

#[test]
fn longer_format_payload_from_a_newer_server_is_accepted() {
    let mut bytes = EXT_FORMAT_V2.to_vec();
    bytes[8] = 0x14; // size 20: four more bytes than version 2 knows
    bytes.extend_from_slice(&[0xaa, 0xbb, 0xcc, 0xdd]);
    bytes.extend_from_slice(&ACK);
    let mut buf = BytesMut::from(&bytes[..]);
    let c = codec();
    assert!(
        matches!(c.decode_server(&mut buf), Ok(Some(ServerFrame::Format(f))) if f.sample_rate == 16_000)
    );
    assert_eq!(
        c.decode_server(&mut buf),
        Ok(Some(ServerFrame::Ack { status: 0 }))
    );
}

#[test]
fn wrong_checkcode_is_an_error_in_both_directions() {
    let c = Codec::new(12345);
    let wrong = Error::WrongCheckcode {
        expected: 12345,
        got: 20_250_918,
    };
    assert_eq!(
        c.decode_client(&mut BytesMut::from(&PING[..])),
        Err(wrong.clone())
    );
    assert_eq!(
        c.decode_server(&mut BytesMut::from(&ACK[..])),
        Err(wrong.clone())
    );
    assert_eq!(
        c.decode_server(&mut BytesMut::from(&AUDIO_1_MINUS_1[..])),
        Err(wrong)
    );
}

#[test]
fn negative_size_is_rejected_before_allocating() {
    let mut buf = BytesMut::from(
        &[
            0x26, 0x01, 0x35, 0x01, 0x01, 0x00, 0x00, 0x00, 0xfe, 0xff, 0xff, 0xff,
        ][..],
    );
    let cap = buf.capacity();
    assert_eq!(
        codec().decode_server(&mut buf),
        Err(Error::NegativeSize { cmd: 1, size: -2 })
    );
    assert_eq!(buf.capacity(), cap);
}

#[test]
fn odd_size_is_rejected() {
    let mut buf = BytesMut::from(
        &[
            0x26, 0x01, 0x35, 0x01, 0x01, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01,
        ][..],
    );
    assert_eq!(
        codec().decode_server(&mut buf),
        Err(Error::OddSize { cmd: 1, size: 3 })
    );
    // AUDIO_AT: 8 position bytes + 3 PCM bytes.
    let mut buf = BytesMut::from(
        &[
            0x26, 0x01, 0x35, 0x01, 0x66, 0x00, 0x00, 0x00, 0x0b, 0x00, 0x00, 0x00,
        ][..],
    );
    assert_eq!(
        codec().decode_server(&mut buf),
        Err(Error::OddSize { cmd: 102, size: 11 })
    );
}

#[test]
fn oversize_claims_are_rejected_before_allocating() {
    // A 2 GB claim (0x7fff_fffe bytes), then one byte over MAX_PAYLOAD.
    for size in [0x7fff_fffe_i32, (MAX_PAYLOAD + 2) as i32] {
        let mut bytes = vec![0x26, 0x01, 0x35, 0x01, 0x01, 0x00, 0x00, 0x00];
        bytes.extend_from_slice(&size.to_le_bytes());
        let mut buf = BytesMut::from(&bytes[..]);
        let cap = buf.capacity();
        assert_eq!(
            codec().decode_server(&mut buf),
            Err(Error::Oversize {
                cmd: 1,
                size,
                max: MAX_PAYLOAD
            })
        );
        assert_eq!(buf.capacity(), cap, "nothing reserved for a size of {size}");
    }
    // Exactly MAX_PAYLOAD is allowed: the decoder waits for it.
    let mut bytes = vec![0x26, 0x01, 0x35, 0x01, 0x01, 0x00, 0x00, 0x00];
    bytes.extend_from_slice(&(MAX_PAYLOAD as i32).to_le_bytes());
    let mut buf = BytesMut::from(&bytes[..]);
    assert_eq!(codec().decode_server(&mut buf), Ok(None));
    // FORMAT is capped far lower.
    let mut buf = BytesMut::from(
        &[
            0x26, 0x01, 0x35, 0x01, 0x65, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00,
        ][..],
    );
    assert_eq!(
        codec().decode_server(&mut buf),
        Err(Error::Oversize {
            cmd: 101,
            size: 4096,
            max: wire::MAX_FORMAT_LEN
        })
    );
}

#[test]
fn undersize_extension_frames_are_rejected() {
    let mut buf = BytesMut::from(
        &[
            0x26, 0x01, 0x35, 0x01, 0x65, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00,
        ][..],
    );
    assert_eq!(
        codec().decode_server(&mut buf),
        Err(Error::Undersize {
            cmd: 101,
            size: 4,
            min: 12
        })
    );
}

#[test]
fn unknown_server_command_is_an_error() {
    let mut buf = BytesMut::from(&[0x26, 0x01, 0x35, 0x01, 0x07, 0x00, 0x00, 0x00][..]);
    assert_eq!(
        codec().decode_server(&mut buf),
        Err(Error::UnknownCommand { cmd: 7 })
    );
}

#[test]
fn a_stream_of_mixed_frames_split_anywhere_decodes_the_same() {
    let mut stream = Vec::new();
    stream.extend_from_slice(&AUDIO_1_MINUS_1);
    stream.extend_from_slice(&ACK);
    stream.extend_from_slice(&EXT_FORMAT_16K_MONO);
    stream.extend_from_slice(&EXT_AUDIO_AT_5);
    let c = codec();
    for split in 0..=stream.len() {
        let mut buf = BytesMut::from(&stream[..split]);
        let mut frames = Vec::new();
        while let Some(f) = c.decode_server(&mut buf).expect("valid stream") {
            frames.push(f);
        }
        buf.extend_from_slice(&stream[split..]);
        while let Some(f) = c.decode_server(&mut buf).expect("valid stream") {
            frames.push(f);
        }
        assert_eq!(frames.len(), 4, "split at {split}");
        assert_eq!(frames[1], ServerFrame::Ack { status: 0 });
    }
}

/// NOW_PLAYING at position 48,000: title "Tone A", artist "sox".
const EXT_NOW_PLAYING: [u8; 30] = [
    0x26, 0x01, 0x35, 0x01, 0x6b, 0x00, 0x00, 0x00, 0x12, 0x00, 0x00, 0x00, // header, size 18
    0x80, 0xbb, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // position 48000
    0x06, 0x54, 0x6f, 0x6e, 0x65, 0x20, 0x41, // title_len 6, "Tone A"
    0x73, 0x6f, 0x78, // "sox"
];

#[test]
fn ext_now_playing_golden() {
    check_server(
        ServerFrame::NowPlaying {
            position: 48_000,
            title: "Tone A".into(),
            artist: "sox".into(),
        },
        &EXT_NOW_PLAYING,
    );
}

#[test]
fn ext_tracks_golden() {
    check_client(
        ClientFrame::Tracks,
        &[0x26, 0x01, 0x35, 0x01, 0x6c, 0x00, 0x00, 0x00],
    );
}

/// Over 1 KiB is refused before allocating; long fields are cut at a character boundary by the
/// encoder; a title length past the payload is cut to what is there.
#[test]
fn now_playing_limits() {
    let c = codec();
    let mut over = BytesMut::from(&EXT_NOW_PLAYING[..12]);
    over[8..12].copy_from_slice(&1_025i32.to_le_bytes());
    assert_eq!(
        c.decode_server(&mut over),
        Err(Error::Oversize {
            cmd: wire::CMD_EXT_NOW_PLAYING,
            size: 1_025,
            max: wire::MAX_NOW_PLAYING_FRAME
        })
    );
    let long = "é".repeat(200); // 400 bytes
    let mut out = BytesMut::new();
    c.encode_now_playing(7, &long, &long, &mut out);
    match c.decode_server(&mut out) {
        Ok(Some(ServerFrame::NowPlaying { title, artist, .. })) => {
            assert_eq!(title.len(), 254, "cut to 255 bytes at a character boundary");
            assert_eq!(artist, title);
        }
        other => panic!("{other:?}"),
    }
    let mut bad = BytesMut::from(&EXT_NOW_PLAYING[..]);
    bad[20] = 0xff; // title_len 255 > what follows
    match c.decode_server(&mut bad) {
        Ok(Some(ServerFrame::NowPlaying { title, artist, .. })) => {
            assert_eq!((title.as_str(), artist.as_str()), ("Tone Asox", ""));
        }
        other => panic!("{other:?}"),
    }
}
