//! iotfleet: a terminal fleet console for AWS IoT Core. The binary in `main.rs` parses the
//! command line and dispatches here; integration tests and benches use these modules directly.

pub mod cli;
pub mod config;
pub mod fleet;
pub mod json_error;
pub mod local;
pub mod log_file;
pub mod policy;
pub mod query;
pub mod tui;
pub mod untrusted;
pub mod wildcard;
