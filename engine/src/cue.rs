//! WAV cue points with labels: a `cue ` chunk and a `LIST`/`adtl` chunk of `labl` entries after
//! the audio, as in the RIFF WAVE spec (Microsoft/IBM, *Multimedia Programming Interface and
//! Data Specifications 1.0*, 1991, "Cue-Points Chunk" and "Associated Data List Chunk"). Audio
//! editors (Audacity imports them as labels, ocenaudio, Adobe Audition, sox's `--i`) show them
//! as markers.

use std::fs::OpenOptions;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

/// One cue point: a frame offset into the audio and its label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cue {
    /// Offset in frames (samples per channel) from the start of the audio.
    pub frame: u32,
    /// The label (UTF-8, written NUL-terminated).
    pub label: String,
}

/// Appends `cues` to the finished WAV file at `path` and updates its RIFF size. Nothing is
/// written for an empty list.
///
/// # Errors
/// The I/O error if the file cannot be read or written.
pub fn append(path: &Path, cues: &[Cue]) -> std::io::Result<()> {
    if cues.is_empty() {
        return Ok(());
    }
    let mut out = Vec::new();
    out.extend_from_slice(b"cue ");
    out.extend_from_slice(&(4 + 24 * cues.len() as u32).to_le_bytes());
    out.extend_from_slice(&(cues.len() as u32).to_le_bytes());
    for (i, cue) in cues.iter().enumerate() {
        let id = i as u32 + 1;
        out.extend_from_slice(&id.to_le_bytes()); // dwName
        out.extend_from_slice(&cue.frame.to_le_bytes()); // dwPosition (play order)
        out.extend_from_slice(b"data"); // fccChunk
        out.extend_from_slice(&0u32.to_le_bytes()); // dwChunkStart
        out.extend_from_slice(&0u32.to_le_bytes()); // dwBlockStart
        out.extend_from_slice(&cue.frame.to_le_bytes()); // dwSampleOffset
    }
    let mut adtl = b"adtl".to_vec();
    for (i, cue) in cues.iter().enumerate() {
        let text = cue.label.replace('\0', " ");
        let size = 4 + text.len() as u32 + 1;
        adtl.extend_from_slice(b"labl");
        adtl.extend_from_slice(&size.to_le_bytes());
        adtl.extend_from_slice(&(i as u32 + 1).to_le_bytes());
        adtl.extend_from_slice(text.as_bytes());
        adtl.push(0);
        if size % 2 == 1 {
            adtl.push(0); // chunks are word-aligned
        }
    }
    out.extend_from_slice(b"LIST");
    out.extend_from_slice(&(adtl.len() as u32).to_le_bytes());
    out.extend_from_slice(&adtl);
    let mut file = OpenOptions::new().read(true).write(true).open(path)?;
    let end = file.seek(SeekFrom::End(0))?;
    if end % 2 == 1 {
        file.write_all(&[0])?;
    }
    file.write_all(&out)?;
    let len = file.seek(SeekFrom::End(0))?;
    file.seek(SeekFrom::Start(4))?;
    file.write_all(&u32::try_from(len - 8).unwrap_or(u32::MAX).to_le_bytes())?;
    file.sync_all()
}

/// The cue points of the WAV file at `path`, with their labels, in file order (an editor's
/// view; for tests and tools).
///
/// # Errors
/// The I/O error if the file cannot be read.
pub fn read(path: &Path) -> std::io::Result<Vec<Cue>> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)?.read_to_end(&mut bytes)?;
    let u32_at = |b: &[u8], i: usize| {
        b.get(i..i + 4)
            .map_or(0, |s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    };
    let mut frames = Vec::new();
    let mut labels = std::collections::HashMap::new();
    let mut i = 12;
    while i + 8 <= bytes.len() {
        let id = &bytes[i..i + 4];
        let size = u32_at(&bytes, i + 4) as usize;
        let body = &bytes[(i + 8).min(bytes.len())..(i + 8 + size).min(bytes.len())];
        if id == b"cue " {
            let n = u32_at(body, 0) as usize;
            for k in 0..n {
                let p = 4 + 24 * k;
                frames.push((u32_at(body, p), u32_at(body, p + 20)));
            }
        } else if id == b"LIST" && body.starts_with(b"adtl") {
            let mut j = 4;
            while j + 8 <= body.len() {
                let sub = u32_at(body, j + 4) as usize;
                if &body[j..j + 4] == b"labl" && sub >= 4 {
                    let text = &body[(j + 12).min(body.len())..(j + 8 + sub).min(body.len())];
                    let text = text.split(|&c| c == 0).next().unwrap_or_default();
                    labels.insert(
                        u32_at(body, j + 8),
                        String::from_utf8_lossy(text).into_owned(),
                    );
                }
                j += 8 + sub + sub % 2;
            }
        }
        i += 8 + size + size % 2;
    }
    Ok(frames
        .into_iter()
        .map(|(id, frame)| Cue {
            frame,
            label: labels.remove(&id).unwrap_or_default(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cues_round_trip_and_the_file_stays_a_valid_wav() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.wav");
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 16_000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(&path, spec).expect("create");
        for i in 0..1000 {
            w.write_sample(i as i16).expect("write");
        }
        w.finalize().expect("finalize");
        let cues = vec![
            Cue {
                frame: 0,
                label: "Tone A — sox".into(),
            },
            Cue {
                frame: 640,
                label: "B".into(),
            },
        ];
        append(&path, &cues).expect("append");
        assert_eq!(read(&path).expect("read"), cues);
        let r = hound::WavReader::open(&path).expect("still a WAV");
        assert_eq!(r.duration(), 1000);
        let len = std::fs::metadata(&path).expect("meta").len();
        let bytes = std::fs::read(&path).expect("bytes");
        assert_eq!(
            u64::from(u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]])),
            len - 8
        );
    }
}
