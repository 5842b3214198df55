//! What the binary's end-to-end tests share: the `audiomi` binary Cargo built for them.
//! (Each test crate includes this module and uses part of it.)
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

/// The `audiomi` binary of this build (Cargo builds it before the integration tests).
pub const BIN: &str = env!("CARGO_BIN_EXE_audiomi");

/// `audiomi` with the test environment ([`audiomi_testkit::audiomi`]), run in `dir`.
pub fn audiomi(dir: &Path) -> Command {
    audiomi_testkit::audiomi(Path::new(BIN), dir)
}

/// `audiomi serve --host 127.0.0.1 --port PORT --no-http --source SOURCE`, run in `dir`.
pub fn serve_command(dir: &Path, port: u16, source: &str) -> Command {
    audiomi_testkit::serve_command(Path::new(BIN), dir, port, source)
}
