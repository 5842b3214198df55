//! Sound-card capture (loopback and microphones).

use crate::pipeline::Input;
use crate::source::SourceSpec;
use crate::{Error, Result};

/// Opens a sound-card source.
///
/// # Errors
/// [`Error::Source`]: sound-card capture is not part of this build yet.
pub fn open(spec: &SourceSpec) -> Result<Input> {
    Err(Error::Source {
        spec: spec.to_string(),
        reason: "sound-card capture is not available in this build yet; use file:PATH or tone:HZ"
            .into(),
    })
}
