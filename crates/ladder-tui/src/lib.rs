//! ladder-tui: two runs side by side in the terminal, live or from saved traces.
//!
//! The Elm architecture, as ratatui's own examples keep it: [`state::App`] is plain data,
//! [`update::update`] is the one function that changes it (keys and trace events become
//! [`update::Msg`]s), [`view::view`] draws it. Drawing is tested with ratatui's
//! `TestBackend`, without a terminal.
//!
//! Invariants:
//! - The UI only consumes trace events (live from a run's [`ladder_core::TraceSink`]
//!   subscription, or read from trace files); it never reaches into a strategy.
//! - It depends on ladder-core alone (checked by the workspace's `tests/architecture.rs`):
//!   starting runs and reading bench records is the binary's (`src/live.rs`); the UI gets
//!   their results as [`Msg`]s and plain [`RunTable`]s.
//! - The terminal is restored on every exit: normal, error, Ctrl-C or panic
//!   ([`terminal::Session`]).

pub mod lessons;
pub mod person;
pub mod saved;
pub mod state;
pub mod terminal;
pub mod update;
pub mod view;

pub use state::{App, Base, Pane, Picker, Request, RunRow, RunTable, TaskCard};
pub use update::{update, Msg};
