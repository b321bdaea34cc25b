//! The fixtures of `sig_cli::fixtures`, with the `sig` binary this test build made.
#![allow(dead_code)]

pub use sig_cli::fixtures::*;

/// The `sig` binary of this build, with the harness' environment.
pub fn sig(h: &Harness) -> std::process::Command {
    h.sig_at(std::path::Path::new(env!("CARGO_BIN_EXE_sig")))
}
