//! Where installed models live.

use std::path::PathBuf;

/// `$LADDER_MODELS_DIR`, else `./models` when it exists, else the `models/` folder of the
/// source tree this binary was built from.
pub fn models_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("LADDER_MODELS_DIR") {
        return PathBuf::from(dir);
    }
    let here = PathBuf::from("models");
    if here.is_dir() {
        return here;
    }
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../models"))
}
