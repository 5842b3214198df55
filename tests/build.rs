//! Tells the end-to-end tests where the `audiomi` binary of this build profile is:
//! `target/<profile>/audiomi` (`.exe` on Windows), as `AUDIOMI_TEST_BIN`. The tests live in
//! their own package, so Cargo's `CARGO_BIN_EXE_audiomi` (given only to the binary's own
//! package) is not set for them; `scripts/test.sh` builds the binary before it runs them.

use std::path::{Path, PathBuf};

fn main() {
    // OUT_DIR is target/<profile>/build/<this package>-<hash>/out.
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("Cargo sets OUT_DIR"));
    let profile_dir = out.ancestors().nth(3).unwrap_or(Path::new("."));
    let windows = std::env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "windows");
    let exe = if windows { "audiomi.exe" } else { "audiomi" };
    println!(
        "cargo:rustc-env=AUDIOMI_TEST_BIN={}",
        profile_dir.join(exe).display()
    );
    println!("cargo:rerun-if-changed=build.rs");
}
