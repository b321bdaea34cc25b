//! The `config=` argument: which `sig.toml` a call reads, and the parts of it the bindings use.
//!
//! A `config` is one of:
//! - a path to a `sig.toml` (`str` without a line break, or any `os.PathLike`);
//! - the TOML text itself (a `str` with at least one line break — every real `sig.toml` has
//!   several, and no file name has one);
//! - `None`: the function's default (the demo catalog for [`crate::mapping`], no users for
//!   [`crate::history`]).
//!
//! Only secret-free parts are read ([`Catalog::from_config_toml`],
//! [`users_from_config_toml`]): a `sig.toml` whose `{ env = "NAME" }` secrets are not set in
//! this process still maps proposals, but the whole document must parse.

use std::path::PathBuf;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyString;
use sig_core::config::{Catalog, ConfigError, UserConfig, users_from_config_toml};

use crate::errors::Error;

/// The demo's `sig.toml` (`examples/demo/sig.toml`), embedded: its catalog is the default for
/// mapping, the same one `sig demo` integrates with.
pub const DEMO_CONFIG: &str = include_str!("../../../examples/demo/sig.toml");

/// Where a `sig.toml` comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigSource {
    /// The embedded demo configuration.
    Demo,
    /// A file.
    Path(PathBuf),
    /// TOML text passed in.
    Text(String),
}

impl ConfigSource {
    /// Read the `config=` argument; `None` when it is `None`.
    pub fn from_arg(arg: Option<&Bound<'_, PyAny>>) -> PyResult<Option<ConfigSource>> {
        let Some(arg) = arg.filter(|a| !a.is_none()) else {
            return Ok(None);
        };
        if let Ok(s) = arg.cast::<PyString>() {
            let s = s.to_str()?;
            return Ok(Some(if s.contains('\n') {
                ConfigSource::Text(s.to_owned())
            } else {
                ConfigSource::Path(PathBuf::from(s))
            }));
        }
        let os = arg.py().import("os")?;
        if arg.is_instance(&os.getattr("PathLike")?)? {
            let path: PathBuf = os.call_method1("fspath", (arg,))?.extract()?;
            return Ok(Some(ConfigSource::Path(path)));
        }
        Err(PyTypeError::new_err(format!(
            "config must be a path, the TOML text of a sig.toml or None, not {}",
            arg.get_type().name()?
        )))
    }

    /// The TOML text.
    pub fn text(&self) -> Result<String, Error> {
        match self {
            ConfigSource::Demo => Ok(DEMO_CONFIG.to_owned()),
            ConfigSource::Text(t) => Ok(t.clone()),
            ConfigSource::Path(p) => std::fs::read_to_string(p).map_err(|source| {
                Error::Config(ConfigError::Read {
                    path: p.clone(),
                    source,
                })
            }),
        }
    }

    /// The catalog, without resolving any secret.
    pub fn catalog(&self) -> Result<Catalog, Error> {
        Ok(Catalog::from_config_toml(&self.text()?)?)
    }

    /// The users, without resolving any secret.
    pub fn users(&self) -> Result<Vec<UserConfig>, Error> {
        Ok(users_from_config_toml(&self.text()?)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_config_maps_without_its_secrets() {
        // The demo names DEMO_* environment variables that are not set here.
        let catalog = ConfigSource::Demo.catalog().unwrap();
        assert!(catalog.resolve("PBX-10").is_some());
        let users = ConfigSource::Demo.users().unwrap();
        assert_eq!(users[0].id.as_str(), "ana");
    }

    #[test]
    fn strings_with_a_line_break_are_toml_text_others_paths() {
        Python::initialize();
        Python::attach(|py| {
            let text = PyString::new(py, "[catalog]\nplans = []\n");
            assert!(matches!(
                ConfigSource::from_arg(Some(text.as_any())).unwrap(),
                Some(ConfigSource::Text(_))
            ));
            let path = PyString::new(py, "/etc/sig/sig.toml");
            assert_eq!(
                ConfigSource::from_arg(Some(path.as_any())).unwrap(),
                Some(ConfigSource::Path("/etc/sig/sig.toml".into()))
            );
            let missing = ConfigSource::Path("/nonexistent/sig.toml".into());
            assert!(matches!(
                missing.catalog(),
                Err(Error::Config(ConfigError::Read { .. }))
            ));
            assert_eq!(ConfigSource::from_arg(None).unwrap(), None);
            let n = 3i32.into_pyobject(py).unwrap();
            assert!(ConfigSource::from_arg(Some(n.as_any())).is_err());
        });
    }
}
