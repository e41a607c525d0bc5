//! `ladder run`: one strategy on one task, through the harness; prints the outcome, the
//! metrics and the score, and says where the trace and score were saved.

use anyhow::{bail, Context, Result};
use ladder_core::StopReason;
use ladder_harness::{RunOutput, RunSpec};

/// Run, print, and fail (exit 1) when the run did not answer.
pub async fn run(spec: RunSpec) -> Result<()> {
    // Ctrl-C cancels the run: a model call in flight stops at once, and every event so far
    // is already in the trace file. A second Ctrl-C quits without waiting.
    let cancel = spec.cancel.clone();
    let on_interrupt = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("interrupted: stopping the run (Ctrl-C again to quit at once)");
            cancel.cancel();
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(130);
            }
        }
    });
    let out = ladder_harness::run(spec)
        .await
        .context("the run could not start")?;
    on_interrupt.abort();
    print(&out);
    if let Some(e) = &out.trace_error {
        bail!("the trace was not written in full: {e}");
    }
    match &out.outcome.stop {
        StopReason::Answered => Ok(()),
        StopReason::Error { message } => bail!("the run did not answer: {message}"),
        other => bail!("the run did not answer: {}", other.label()),
    }
}

fn print(out: &RunOutput) {
    let m = &out.metrics;
    println!("task      {}", out.task.id);
    println!("strategy  {}", out.strategy);
    println!("stop      {}", out.outcome.stop.label());
    match &out.outcome.stop {
        StopReason::Error { message } => println!("error     {message}"),
        StopReason::BudgetExhausted { limit } => println!("limit     {limit}"),
        StopReason::Repeating { detail } => println!("detail    {detail}"),
        _ => {}
    }
    if let Some(answer) = &out.outcome.answer {
        println!("answer    {}", answer.replace('\n', "\n          "));
    }
    if !out.outcome.picks.is_empty() {
        println!("picks     {}", out.outcome.picks.join(", "));
    }
    println!(
        "metrics   {} model calls | {} prompt + {} completion = {} tokens | {} user turns | {} retrievals | wall {:.0} ms | model {:.0} ms",
        m.model_calls, m.prompt_tokens, m.completion_tokens, m.total_tokens, m.user_turns, m.retrievals, m.wall_ms, m.model_ms
    );
    if m.user_model_calls > 0 {
        println!(
            "user      {} model calls, {} tokens (the model playing the user; not the strategy's cost)",
            m.user_model_calls, m.user_tokens
        );
    }
    println!("trace     {}", out.trace_path.display());
    if let Some(score) = &out.score {
        crate::world::print_score(score, "score     ", "          ");
    }
    if let Some(p) = &out.score_path {
        println!("score at  {}", p.display());
    }
}
