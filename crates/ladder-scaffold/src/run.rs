//! Running a plan: each component in order, on the fields of one plain state it declares.
//!
//! Invariants:
//! - Each component's events sit between its `ComponentStarted` and its
//!   `ComponentFinished` (ok or not, with its detail or its error); a failed component
//!   ends the run with its error.
//! - A component sees only the fields it reads, and only the fields it writes are kept
//!   ([`State::view`], [`State::keep`]).
//! - The run's answer is the state's `answer` once every component has run.

use ladder_core::trace::EventKind;
use ladder_core::{Answer, RunContext, RunError, TaskView};

use crate::components::Env;
use crate::pipeline::Plan;
use crate::state::State;
use crate::vectors::Cache;

/// Run `plan`'s components in order; the synthesis's answer ends the run.
pub(crate) async fn execute(
    plan: &Plan,
    task: &TaskView,
    ctx: &mut RunContext,
    cache: &Cache,
    grounded: bool,
) -> Result<Answer, RunError> {
    let env = Env {
        task,
        vectors: cache,
        catalogue: &plan.catalogue,
        grounded,
    };
    let mut state = State::default();
    for node in &plan.order {
        ctx.record(EventKind::ComponentStarted {
            component: node.id.clone(),
            kind: node.component.kind().to_string(),
        })?;
        let mut own = state.view(node.component.reads().iter().map(|r| r.field));
        let result = node.component.run(&env, ctx, &mut own).await;
        state.keep(&own, node.component.writes());
        let (ok, detail) = match &result {
            Ok(d) => (true, d.clone()),
            Err(e) => (false, e.to_string()),
        };
        ctx.record(EventKind::ComponentFinished {
            component: node.id.clone(),
            ok,
            detail,
        })?;
        result?;
    }
    state
        .answer
        .ok_or_else(|| RunError::Contract("the pipeline ended without an answer".into()))
}
