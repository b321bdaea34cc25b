//! One module per `sig` subcommand.

pub mod access;
pub mod acting;
pub mod customers;
pub mod demo;
pub mod docsales;
pub mod integrations;
pub mod migrate;
pub mod proposals;
pub mod sandbox;
pub mod serve;
pub mod servers;
pub mod sync;
pub mod validate;

/// The catalog of the shipped example configuration, used when no `--config` is given.
pub const EXAMPLE_CONFIG: &str = include_str!("../../sig.example.toml");
