//! A bench folder for the TUI's tests (shared by `src/live.rs`'s unit test and
//! `tests/tui_tmux.rs`): the committed replay bench's results, each record's trace swapped
//! for one of the two committed sea-002 traces, copied into the folder's `traces/`.

use std::path::Path;

/// Write the folder into `dir` (which must exist); `root` is the repository's root.
pub fn write(root: &Path, dir: &Path) {
    let fixtures = root.join("fixtures");
    std::fs::create_dir_all(dir.join("traces")).unwrap();
    let results =
        std::fs::read_to_string(fixtures.join("runs/replay-small/results.jsonl")).unwrap();
    let names = ["sea-002-scaffold.jsonl", "sea-002-bootstrap.jsonl"];
    let mut lines = Vec::new();
    for (i, line) in results.lines().enumerate() {
        let mut record: serde_json::Value = serde_json::from_str(line).unwrap();
        let name = names[i % 2];
        std::fs::copy(
            fixtures.join("traces").join(name),
            dir.join("traces").join(name),
        )
        .unwrap();
        record["trace"] = format!("traces/{name}").into();
        lines.push(record.to_string());
    }
    std::fs::write(dir.join("results.jsonl"), lines.join("\n") + "\n").unwrap();
}
