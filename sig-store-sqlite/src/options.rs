//! How a store is opened: durability, lock waits, read connections.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// SQLite's `synchronous` setting, which decides what a commit survives (WAL mode).
///
/// | setting | process crash (SIGKILL, panic) | OS crash / power loss | cost |
/// |---|---|---|---|
/// | [`Normal`](Synchronous::Normal) (default) | every acknowledged commit kept | the file stays consistent; the last commits since the last WAL sync may be lost | no `fsync` per commit |
/// | [`Full`](Synchronous::Full) | every acknowledged commit kept | every acknowledged commit kept | one `fsync` per commit |
/// | [`Extra`](Synchronous::Extra) | as `Full` | as `Full`, also syncing the directory on WAL reset | as `Full` |
///
/// `Off` is deliberately not offered: it can corrupt the file on a power loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Synchronous {
    /// `synchronous = NORMAL`: the WAL is synced at checkpoints, not at every commit.
    #[default]
    Normal,
    /// `synchronous = FULL`: the WAL is synced at every commit.
    Full,
    /// `synchronous = EXTRA`: `FULL`, plus the directory synced when the WAL is reset.
    Extra,
}

impl Synchronous {
    /// The pragma value.
    pub fn as_str(self) -> &'static str {
        match self {
            Synchronous::Normal => "NORMAL",
            Synchronous::Full => "FULL",
            Synchronous::Extra => "EXTRA",
        }
    }

    /// The number SQLite reports for `PRAGMA synchronous`.
    pub(crate) fn level(self) -> i64 {
        match self {
            Synchronous::Normal => 1,
            Synchronous::Full => 2,
            Synchronous::Extra => 3,
        }
    }
}

impl fmt::Display for Synchronous {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_str().to_ascii_lowercase())
    }
}

/// A `synchronous` name that is not `normal`, `full` or `extra`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown synchronous setting {0:?}: expected normal, full or extra")]
pub struct UnknownSynchronous(pub String);

impl FromStr for Synchronous {
    type Err = UnknownSynchronous;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "normal" => Ok(Synchronous::Normal),
            "full" => Ok(Synchronous::Full),
            "extra" => Ok(Synchronous::Extra),
            _ => Err(UnknownSynchronous(s.to_owned())),
        }
    }
}

/// Options for [`SqliteStore::open_with`](crate::SqliteStore::open_with).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqliteOptions {
    /// Durability of a commit; see [`Synchronous`]. Default: `Normal`.
    pub synchronous: Synchronous,
    /// How long a statement waits for another process's lock before failing with
    /// `StoreError::Unavailable`. Default: 5 s.
    pub busy_timeout: Duration,
    /// Read connections kept open (reads run in parallel with the single writer thanks to
    /// WAL). Default: 4; at least 1 is used.
    pub readers: usize,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            synchronous: Synchronous::default(),
            busy_timeout: Duration::from_secs(5),
            readers: 4,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synchronous_names() {
        for s in [Synchronous::Normal, Synchronous::Full, Synchronous::Extra] {
            assert_eq!(s.to_string().parse::<Synchronous>(), Ok(s));
        }
        assert!("off".parse::<Synchronous>().is_err());
        assert_eq!(SqliteOptions::default().synchronous, Synchronous::Normal);
    }
}
