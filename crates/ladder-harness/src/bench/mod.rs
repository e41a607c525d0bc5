//! `ladder bench`: every task x strategy x trial of some suites, each run saved the moment
//! it finishes, resumable, and summarised with intervals and paired comparisons.
//!
//! One file per job, all re-exported here (callers use `ladder_harness::bench::*`):
//! - `plan`: what a bench runs ([`BenchSpec`], [`Plan`], [`Manifest`]) and its [`Job`]s.
//! - `machine`: the git revision and the CPU a bench ran on, for its manifest.
//! - `executor`: running the jobs, several at once, into records.
//! - `records`: `results.jsonl`, read, appended to and resumed.
//! - `history`: the machine's record of wall times, for `--dry-run` estimates.
//! - `replay`: a replayed bench against the original.
//! - `merge`: folders of the same plan with different models made one (`ladder merge`).
//! - `summary`: the records aggregated per suite and strategy, and the tables.
//!
//! Invariants:
//! - `results.jsonl` gets one record per finished run, appended and flushed before the
//!   next run starts (its trace is already on disk); a run that errors is recorded as an
//!   error and the bench goes on.
//! - `--resume` skips the runs already recorded (a torn last line, from a kill mid-write, is
//!   ignored and its run redone; any other unreadable line is set aside and the user told)
//!   and refuses a folder made with other settings.
//! - Trial `t` of every strategy runs with the same seed (the bench seed plus `t`), so
//!   strategies are compared on the same tasks and seeds: paired.

mod executor;
mod history;
mod machine;
mod merge;
mod plan;
mod records;
mod replay;
mod rescore;
mod summary;

pub use executor::{run, Progress};
pub use history::{estimate, history_path};
pub use merge::{merge, Source};
pub use plan::{
    model_label, prepare, BenchSpec, Job, Manifest, ModelEntry, PipelineEntry, Plan, SplitChoice,
    Tasks,
};
pub use records::{read_results, Record, Results, Unreadable, SET_ASIDE};
pub use replay::{differences, replay_mismatches};
pub use rescore::{rescore, Rescored};
pub use summary::{
    ablation, ablation_table, chance_level, chance_levels, compare, costs_table, summarise, table,
    AblationRow, Chance, Row,
};
