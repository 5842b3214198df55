//! `tokio_util::codec` adapters over the pure [`wire::Codec`], one per side of a connection.

use bytes::BytesMut;
use tokio_util::codec::{Decoder, Encoder};
use wire::{ClientFrame, ServerFrame};

/// An error while reading frames: the bytes broke the protocol, or the socket failed.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// The peer broke the protocol.
    #[error(transparent)]
    Wire(#[from] wire::Error),
    /// The socket failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// The server's side: decodes [`ClientFrame`]s, encodes [`ServerFrame`]s.
#[derive(Debug, Clone, Copy)]
pub struct ServerSide(pub wire::Codec);

impl Decoder for ServerSide {
    type Item = ClientFrame;
    type Error = CodecError;
    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<ClientFrame>, CodecError> {
        Ok(self.0.decode_client(src)?)
    }
}

impl Encoder<ServerFrame> for ServerSide {
    type Error = CodecError;
    fn encode(&mut self, item: ServerFrame, dst: &mut BytesMut) -> Result<(), CodecError> {
        self.0.encode_server(&item, dst);
        Ok(())
    }
}

/// The receiver's side: decodes [`ServerFrame`]s, encodes [`ClientFrame`]s.
#[derive(Debug, Clone, Copy)]
pub struct ClientSide(pub wire::Codec);

impl Decoder for ClientSide {
    type Item = ServerFrame;
    type Error = CodecError;
    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<ServerFrame>, CodecError> {
        Ok(self.0.decode_server(src)?)
    }

    /// At the end of the stream, a short TLS alert record (`15 03 …`, 7 bytes: shorter than a
    /// header) is reported as [`wire::Error::WrongCheckcode`] with the alert's first four bytes,
    /// so the receiver can say "this is a TLS port"; other leftovers are an I/O error.
    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<ServerFrame>, CodecError> {
        match self.decode(buf)? {
            Some(frame) => Ok(Some(frame)),
            None if buf.is_empty() => Ok(None),
            None if buf.len() >= 4 && buf[..2] == [0x15, 0x03] => {
                let got = i32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]);
                buf.clear();
                Err(CodecError::Wire(wire::Error::WrongCheckcode {
                    expected: self.0.checkcode,
                    got,
                }))
            }
            None => Err(CodecError::Io(std::io::Error::other(
                "the connection closed in the middle of a frame",
            ))),
        }
    }
}

impl Encoder<ClientFrame> for ClientSide {
    type Error = CodecError;
    fn encode(&mut self, item: ClientFrame, dst: &mut BytesMut) -> Result<(), CodecError> {
        self.0.encode_client(&item, dst);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;
    use tokio::io::AsyncWriteExt;
    use tokio_util::codec::FramedRead;

    #[tokio::test]
    async fn frames_split_across_reads_decode_whole() {
        let (mut tx, rx) = tokio::io::duplex(4);
        let mut frames = FramedRead::new(rx, ClientSide(wire::Codec::default()));
        tokio::spawn(async move {
            let bytes = [
                0x26, 0x01, 0x35, 0x01, 0x63, 0x00, 0x00, 0x00, 0x00, // ACK
                0x26, 0x01, 0x35, 0x01, 0x01, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x01, 0x00,
                0xff, 0xff,
            ];
            for b in bytes {
                tx.write_all(&[b]).await.expect("write");
            }
        });
        assert_eq!(
            frames.next().await.and_then(Result::ok),
            Some(ServerFrame::Ack { status: 0 })
        );
        assert_eq!(
            frames.next().await.and_then(Result::ok),
            Some(ServerFrame::Audio(bytes::Bytes::from_static(&[
                1, 0, 0xff, 0xff
            ])))
        );
        assert!(frames.next().await.is_none());
    }
}
