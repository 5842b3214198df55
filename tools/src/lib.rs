//! audioMi's bench, load and fault tools as a library, so the binaries (`audiomi-loadgen`,
//! `audiomi-faults`) and the slow reliability tests (`tests/reliability.rs`) run the same code.
//!
//! - [`loadgen`]: N receivers against a ramp server: gaps, corruption, delivery delay.
//! - [`faults`]: stalled and malformed clients, connection storms, ramp-recording checks.
//! - [`ogg_check`]: a live Ogg/Opus stream's page sequence and granule positions, as received.

pub mod faults;
pub mod loadgen;
pub mod ogg_check;

/// Raises this process's soft open-file limit to its hard limit, as `ulimit -n $(ulimit -Hn)`
/// would: a load test holds two descriptors per connection when server and clients share the
/// process. Failure is ignored (the test then fails where it runs out, with that error).
pub fn raise_fd_limit() {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    let _ = setrlimit(
        Resource::Nofile,
        Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        },
    );
}
