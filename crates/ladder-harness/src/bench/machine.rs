//! Where a bench ran, for its manifest: the git revision and whether the work tree had
//! changes, and the machine's CPU and cores.
//!
//! Invariants:
//! - Best effort: nothing here fails. Without git (or outside a repository) the revision
//!   is empty and the tree clean; without `/proc/cpuinfo` the CPU is empty.
//! - The machine is a JSON object of two keys: `cpu` (its model name) and `cores` (the
//!   threads available, at least 1).

/// `git ARGS`' trimmed output, or `None` when git cannot run or fails.
fn git(args: &[&str]) -> Option<String> {
    let out = std::process::Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The commit checked out (`git rev-parse HEAD`), empty when unknown.
pub(super) fn git_revision() -> String {
    git(&["rev-parse", "HEAD"]).unwrap_or_default()
}

/// Whether the work tree has changes (`git status --porcelain` lists something).
pub(super) fn git_dirty() -> bool {
    git(&["status", "--porcelain"]).is_some_and(|s| !s.is_empty())
}

/// The CPU's model name and the cores available.
pub(super) fn machine() -> serde_json::Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_default();
    serde_json::json!({
        "cpu": cpu,
        "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
    })
}
