//! Typed client for the omie API (filled in by its own issue).
#![forbid(unsafe_code)]
#![deny(missing_docs)]
