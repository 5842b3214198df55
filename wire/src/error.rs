//! The protocol error type.

/// A protocol error: the connection it came from cannot be trusted any more and should be closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The frame's checkcode is not the agreed one.
    #[error("wrong checkcode: expected {expected}, got {got}")]
    WrongCheckcode {
        /// The checkcode this side was configured with.
        expected: i32,
        /// The checkcode found in the frame.
        got: i32,
    },
    /// A frame declared a negative payload size (bytes).
    #[error("frame with command {cmd} declares a negative size ({size} bytes)")]
    NegativeSize {
        /// The frame's command number.
        cmd: i32,
        /// The declared size in bytes.
        size: i32,
    },
    /// A PCM16 payload whose size (bytes) is odd, so it does not hold whole samples.
    #[error(
        "frame with command {cmd} declares an odd size ({size} bytes); PCM16 needs whole 2-byte samples"
    )]
    OddSize {
        /// The frame's command number.
        cmd: i32,
        /// The declared size in bytes.
        size: i32,
    },
    /// A frame declared a payload larger than the limit for its command (bytes).
    #[error("frame with command {cmd} declares {size} bytes, more than the limit of {max} bytes")]
    Oversize {
        /// The frame's command number.
        cmd: i32,
        /// The declared size in bytes.
        size: i32,
        /// The limit in bytes.
        max: usize,
    },
    /// A sized extension frame too short to hold its fixed fields (bytes).
    #[error("frame with command {cmd} declares {size} bytes, fewer than its {min} fixed bytes")]
    Undersize {
        /// The frame's command number.
        cmd: i32,
        /// The declared size in bytes.
        size: i32,
        /// The minimum in bytes.
        min: usize,
    },
    /// A server → client frame with a command this decoder does not know, so its length is unknown.
    #[error("unknown command {cmd} from the server")]
    UnknownCommand {
        /// The command number.
        cmd: i32,
    },
}
