//! Shared helpers for SIG VoIP's workspace-level tests (see `tests/tests/`).
#![forbid(unsafe_code)]
