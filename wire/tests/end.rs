//! Golden bytes of END and ENDS (docs/PROTOCOL.md): the source ended at a stream position.

use bytes::BytesMut;
use wire::{ClientFrame, Codec, Error, ServerFrame};

/// END at position 80,000 (5.000 s of 16 kHz): `checkcode, 109, size 8, end: u64`.
const EXT_END: [u8; 20] = [
    0x26, 0x01, 0x35, 0x01, 0x6d, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, // header, size 8
    0x80, 0x38, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, // end 80000
];

/// ENDS: `checkcode, 110`.
const EXT_ENDS: [u8; 8] = [0x26, 0x01, 0x35, 0x01, 0x6e, 0x00, 0x00, 0x00];

#[test]
fn end_golden() {
    let c = Codec::default();
    let mut out = BytesMut::new();
    c.encode_server(&ServerFrame::End { position: 80_000 }, &mut out);
    assert_eq!(&out[..], &EXT_END[..]);
    // Byte by byte: nothing until the last byte, then exactly the frame.
    let mut buf = BytesMut::new();
    for (i, b) in EXT_END.iter().enumerate() {
        buf.extend_from_slice(&[*b]);
        let got = c.decode_server(&mut buf).expect("valid");
        if i + 1 < EXT_END.len() {
            assert_eq!(got, None, "after {} bytes", i + 1);
        } else {
            assert_eq!(got, Some(ServerFrame::End { position: 80_000 }));
        }
    }
    assert!(buf.is_empty());
}

#[test]
fn ends_golden() {
    let c = Codec::default();
    let mut out = BytesMut::new();
    c.encode_client(&ClientFrame::Ends, &mut out);
    assert_eq!(&out[..], &EXT_ENDS[..]);
    let mut buf = BytesMut::from(&EXT_ENDS[..]);
    assert_eq!(c.decode_client(&mut buf), Ok(Some(ClientFrame::Ends)));
}

#[test]
fn an_end_of_another_size_is_refused() {
    let c = Codec::default();
    for (size, e) in [
        (
            7,
            Error::Undersize {
                cmd: 109,
                size: 7,
                min: 8,
            },
        ),
        (
            9,
            Error::Oversize {
                cmd: 109,
                size: 9,
                max: 8,
            },
        ),
    ] {
        let mut buf = BytesMut::from(&EXT_END[..8]);
        buf.extend_from_slice(&i32::to_le_bytes(size));
        buf.extend_from_slice(&[0; 9]);
        assert_eq!(c.decode_server(&mut buf), Err(e), "size {size}");
    }
}
