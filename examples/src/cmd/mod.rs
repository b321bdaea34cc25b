//! One module per `sig` subcommand.

pub mod access;
pub mod customers;
pub mod demo;
pub mod docsales;
pub mod migrate;
pub mod validate;

/// The catalog of the shipped example configuration, used when no `--config` is given.
pub const EXAMPLE_CONFIG: &str = include_str!("../../sig.example.toml");
