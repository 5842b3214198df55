//! Property tests: every frame round-trips, and arbitrary bytes never panic the decoders nor make
//! them reserve more than one maximal frame.

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use wire::{
    ClientFrame, Codec, MAX_PAYLOAD, POSITION_LEN, SIZED_HEADER_LEN, ServerFrame, StreamFormat,
};

fn client_frame() -> impl Strategy<Value = ClientFrame> {
    prop_oneof![
        Just(ClientFrame::Ping),
        Just(ClientFrame::ExtHello),
        any::<i32>()
            .prop_filter("not a known command", |c| ![99, 100, 103, 104, 105, 106]
                .contains(c))
            .prop_map(ClientFrame::Other),
        "[a-zA-Z0-9 äöü€-]{0,20}".prop_map(ClientFrame::Name),
        prop::collection::vec(any::<u8>(), 0..=256).prop_map(|k| ClientFrame::Key(Bytes::from(k))),
        Just(ClientFrame::Chat),
        prop::collection::vec(any::<u8>(), 0..=600).prop_map(|t| ClientFrame::Text(Bytes::from(t))),
    ]
}

fn pcm() -> impl Strategy<Value = Bytes> {
    prop::collection::vec(any::<i16>(), 0..2048).prop_map(|s| wire::pcm16_to_bytes(&s))
}

fn server_frame() -> impl Strategy<Value = ServerFrame> {
    prop_oneof![
        any::<u8>().prop_map(|status| ServerFrame::Ack { status }),
        any::<u8>().prop_map(|status| ServerFrame::KeyResult { status }),
        ("[a-z0-9 é]{0,20}", "[a-zA-Z0-9 äöü€-]{0,200}")
            .prop_map(|(from, text)| ServerFrame::Text { from, text }),
        pcm().prop_map(ServerFrame::Audio),
        (
            any::<u32>(),
            any::<u16>(),
            any::<u16>(),
            any::<u32>(),
            any::<u32>()
        )
            .prop_map(|(r, c, b, id, features)| {
                ServerFrame::Format(StreamFormat {
                    sample_rate: r,
                    channels: c,
                    bits_per_sample: b,
                    stream_id: id,
                    features,
                })
            }),
        (any::<u64>(), pcm()).prop_map(|(position, pcm)| ServerFrame::AudioAt { position, pcm }),
    ]
}

proptest! {
    #[test]
    fn client_frames_round_trip(checkcode in any::<i32>(), frames in prop::collection::vec(client_frame(), 1..20)) {
        let c = Codec::new(checkcode);
        let mut buf = BytesMut::new();
        for f in &frames {
            c.encode_client(f, &mut buf);
        }
        for f in &frames {
            prop_assert_eq!(c.decode_client(&mut buf), Ok(Some(f.clone())));
        }
        prop_assert!(buf.is_empty());
    }

    #[test]
    fn server_frames_round_trip(checkcode in any::<i32>(), frames in prop::collection::vec(server_frame(), 1..8), split in any::<prop::sample::Index>()) {
        let c = Codec::new(checkcode);
        let mut encoded = BytesMut::new();
        for f in &frames {
            c.encode_server(f, &mut encoded);
        }
        let at = split.index(encoded.len() + 1);
        let mut buf = BytesMut::from(&encoded[..at]);
        let mut decoded = Vec::new();
        while let Some(f) = c.decode_server(&mut buf).expect("valid frames") {
            decoded.push(f);
        }
        buf.extend_from_slice(&encoded[at..]);
        while let Some(f) = c.decode_server(&mut buf).expect("valid frames") {
            decoded.push(f);
        }
        prop_assert_eq!(decoded, frames);
        prop_assert!(buf.is_empty());
    }

    #[test]
    fn arbitrary_bytes_never_panic_nor_overallocate(
        checkcode in prop_oneof![Just(20_250_918), any::<i32>()],
        prefix in prop::sample::select(vec![vec![], vec![0x26, 0x01, 0x35, 0x01]]),
        cmd in prop::sample::select(vec![vec![], vec![1, 0, 0, 0], vec![99, 0, 0, 0], vec![101, 0, 0, 0], vec![102, 0, 0, 0]]),
        junk in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let c = Codec::new(checkcode);
        let mut bytes = prefix;
        bytes.extend_from_slice(&cmd);
        bytes.extend_from_slice(&junk);
        let limit = bytes.len() + SIZED_HEADER_LEN + POSITION_LEN + MAX_PAYLOAD;

        let mut buf = BytesMut::from(&bytes[..]);
        while let Ok(Some(_)) = c.decode_server(&mut buf) {}
        prop_assert!(buf.capacity() <= limit, "capacity {} > {}", buf.capacity(), limit);

        let mut buf = BytesMut::from(&bytes[..]);
        while let Ok(Some(_)) = c.decode_client(&mut buf) {}
        prop_assert!(buf.capacity() <= bytes.len());
    }
}
