//! The model file: its GGUF magic, its quantisation's name and its SHA-256.
//!
//! Invariants:
//! - A file that does not start with `GGUF` is refused before llama.cpp sees it
//!   ([`check_magic`]), with a message that says what it starts with.
//! - The SHA-256 is computed at most once per loaded model and not at all when `just
//!   setup`'s `FILE.verified` note still matches the file's size and modification time.

use std::path::Path;

use super::Inner;

pub(super) fn check_magic(path: &Path) -> Result<(), String> {
    use std::io::Read;
    let mut magic = [0u8; 4];
    let mut f = std::fs::File::open(path).map_err(|e| format!("cannot open it: {e}"))?;
    f.read_exact(&mut magic).map_err(|_| {
        "it is shorter than a GGUF header: run `just setup` again to re-install it".to_string()
    })?;
    if &magic != b"GGUF" {
        return Err(format!(
            "it is not a GGUF file (it starts with {magic:02x?}, a GGUF file starts with \"GGUF\")"
        ));
    }
    Ok(())
}

/// llama.cpp's name for a GGUF `general.file_type` code (`llama_ftype`).
fn file_type_name(code: &str) -> String {
    let name = match code.trim() {
        "0" => "F32",
        "1" => "F16",
        "2" => "Q4_0",
        "3" => "Q4_1",
        "7" => "Q8_0",
        "8" => "Q5_0",
        "9" => "Q5_1",
        "10" => "Q2_K",
        "11" => "Q3_K_S",
        "12" => "Q3_K_M",
        "13" => "Q3_K_L",
        "14" => "Q4_K_S",
        "15" => "Q4_K_M",
        "16" => "Q5_K_S",
        "17" => "Q5_K_M",
        "18" => "Q6_K",
        "32" => "BF16",
        other => return format!("file_type {other}"),
    };
    name.into()
}

/// The SHA-256 of a file: read from `just setup`'s `FILE.verified` note when its size and
/// modification time still match (so a run does not hash 100 MB again), else computed.
fn file_sha256(path: &Path) -> String {
    if let Some(sha) = crate::catalog::verified_sha256(path) {
        return sha;
    }
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    match std::fs::File::open(path).and_then(|mut f| std::io::copy(&mut f, &mut hasher)) {
        Ok(_) => ladder_core::numbers::hex(&hasher.finalize()),
        Err(e) => format!("unreadable: {e}"),
    }
}

impl Inner {
    pub(super) fn file_sha256(&self) -> String {
        self.sha256.get_or_init(|| file_sha256(&self.path)).clone()
    }

    /// The catalog's word for the weights' quantisation, else the GGUF's own
    /// `general.file_type` named as llama.cpp names it.
    pub(super) fn quantisation(&self) -> String {
        if let Some(m) = crate::catalog::by_file(&self.name) {
            return m.quantisation.clone();
        }
        match self.model.meta_val_str("general.file_type") {
            Ok(code) => file_type_name(&code),
            Err(_) => "unknown".into(),
        }
    }
}
