//! Now playing: a playlist source's track changes, relayed to the extension clients that asked
//! (TRACKS) as NOW_PLAYING frames, and kept for clients that ask later and for the web page.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::BytesMut;

use super::Hub;
use super::client::ClientShared;
use crate::audio::decode::TrackInfo;

impl Hub {
    /// A new track starts at stream `position` (frames): remembered, and sent (encoded once) to
    /// every client that asked for tracks. Called by the fan-out in stream order, before the
    /// audio at `position` goes out.
    pub(super) fn now_playing(&self, position: u64, track: &TrackInfo) {
        *self
            .track
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some((position, track.clone()));
        let frame = self.track_frame(position, track);
        for slot in self.lock().values() {
            if slot.shared.tracks.load(Ordering::Acquire) {
                // A control frame: queued even when the client lags.
                let _ = slot.shared.send(frame.clone(), 0, self.queue_frames);
            }
        }
    }

    /// The track playing and the stream position (frames) where it started, if the source has
    /// tracks.
    pub fn current_track(&self) -> Option<(u64, TrackInfo)> {
        self.track
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// A client asked for tracks (TRACKS): from now on it gets NOW_PLAYING, starting with the
    /// track playing now (if any).
    pub(super) fn subscribe_tracks(&self, client: &Arc<ClientShared>) {
        client.tracks.store(true, Ordering::Release);
        if let Some((position, track)) = self.current_track() {
            let _ = client.send(self.track_frame(position, &track), 0, self.queue_frames);
        }
    }

    /// The NOW_PLAYING frame of `track` starting at `position`.
    fn track_frame(&self, position: u64, track: &TrackInfo) -> bytes::Bytes {
        let mut frame = BytesMut::new();
        self.codec
            .encode_now_playing(position, &track.title, &track.artist, &mut frame);
        frame.freeze()
    }
}
