//! Helpers shared by the wire integration tests and the fuzz targets.
pub mod fuzz_checks;
