//! Where installed models live.

use std::path::PathBuf;

/// `$LADDER_MODELS_DIR`, else `~/.cache/ladder/models` (one folder shared by every clone on
/// the machine, where `just setup` installs), else `./models` when there is no home folder.
pub fn models_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("LADDER_MODELS_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        Some(home) => PathBuf::from(home).join(".cache/ladder/models"),
        None => PathBuf::from("models"),
    }
}
