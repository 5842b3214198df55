//! audioMi's bench, load and fault tools as a library, so the binaries (`audiomi-loadgen`,
//! `audiomi-faults`) and the slow reliability tests (`tests/reliability.rs`) run the same code.
//!
//! - [`loadgen`]: N receivers against a ramp server: gaps, corruption, delivery delay.
//! - [`faults`]: stalled and malformed clients, connection storms, ramp-recording checks.

pub mod faults;
pub mod loadgen;
