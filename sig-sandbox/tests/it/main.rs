//! Integration tests: a tiny example sandbox (`kv`) built on the crate and
//! exercised over real HTTP on loopback with reqwest.

mod admin;
mod decisions;
mod http_faults;
mod kv;
mod limits;
mod server;
