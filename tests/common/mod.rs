//! What the binary's end-to-end tests share: the `audiomi` binary Cargo built for them.
//! (Each test crate includes this module and uses part of it.)
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

/// The `audiomi` binary of this build profile (`target/<profile>/audiomi`, named by
/// `tests/build.rs`): `scripts/test.sh` builds it before it runs the tests.
pub const BIN: &str = env!("AUDIOMI_TEST_BIN");

/// `audiomi` with the test environment ([`audiomi_testkit::audiomi`]), run in `dir`.
pub fn audiomi(dir: &Path) -> Command {
    audiomi_testkit::audiomi(Path::new(BIN), dir)
}

/// `audiomi serve --host 127.0.0.1 --port PORT --no-http --source SOURCE`, run in `dir`.
pub fn serve_command(dir: &Path, port: u16, source: &str) -> Command {
    audiomi_testkit::serve_command(Path::new(BIN), dir, port, source)
}
