//! Where things live on disk: the one place that says so.
//!
//! Invariants:
//! - Machine-wide files (the models `just setup` installs, the bench history) are under
//!   [`cache_dir`], `~/.cache/ladder`, shared by every clone on the machine.
//! - A run's own data (the embedded store of the knowledge bases) is under the data folder,
//!   [`DATA_DIR`] relative to where ladder runs unless `--data` or [`DATA_DIR_ENV`] says
//!   otherwise; the store's folder inside it is ladder-retrieval's `store_dir`.

use std::path::PathBuf;

/// The data folder when neither `--data` nor [`DATA_DIR_ENV`] gives one.
pub const DATA_DIR: &str = "data";

/// The environment variable that sets the data folder (as `--data` does).
pub const DATA_DIR_ENV: &str = "LADDER_DATA_DIR";

/// `~/.cache/ladder`, or `None` when there is no home folder.
pub fn cache_dir() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(|home| PathBuf::from(home).join(".cache/ladder"))
}

/// `$LADDER_MODELS_DIR`, else `~/.cache/ladder/models` (one folder shared by every clone on
/// the machine, where `just setup` installs), else `./models` when there is no home folder.
pub fn models_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("LADDER_MODELS_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    cache_dir().map_or_else(|| PathBuf::from("models"), |c| c.join("models"))
}

/// The data folder: `$LADDER_DATA_DIR`, else `data`.
pub fn data_dir() -> PathBuf {
    std::env::var_os(DATA_DIR_ENV)
        .filter(|d| !d.is_empty())
        .map_or_else(|| PathBuf::from(DATA_DIR), PathBuf::from)
}
