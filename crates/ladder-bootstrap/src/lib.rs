//! ladder-bootstrap: the bootstrapped strategy. One model in a plain loop; at each step the
//! model itself chooses one action and the loop carries it out through the
//! [`RunContext`]:
//!
//! - `ask`: one user turn (it may hold several questions); the reply is appended.
//! - `search`: the best knowledge-base passages for a query, appended as an observation.
//! - `note`: the model condenses its working context; the turns before it are replaced by
//!   the note (a `ContextCompression` event with the tokens before and after).
//! - `answer`: the run ends with the answer's text and the entities it picks.
//!
//! What a good engineer does to make a plain loop work with a small model, each part
//! switchable ([`Aids`]) so a bench measures what it is worth:
//! - `status`: every observation ends with the steps and tokens left.
//! - `fresh_search`: a search shows only passages not shown before (it pages past them);
//!   when it finds nothing new, an observation says so and names what was already shown.
//! - `block_repeats`: an action that repeats an earlier one (same kind, same text) is not
//!   carried out; an observation says so, and the next step may not choose that kind (a
//!   way out at decoding time). Two notes in a row are never allowed.
//! - `last_word`: when the run would end without an answer (its last step, call, tokens or
//!   wall time, or too many repeats), one last call constrained to `answer` ends it, as
//!   the scaffold always ends with its synthesis.
//!
//! Invariants:
//! - The loop knows the user's words, the suite's assistant brief, what it searched and its
//!   own notes: never the suite's slots, intents or form questions. Its prompt describes
//!   the actions and a way of working, never a domain.
//! - Prompts are files in `prompts/`; their SHA-256 is in the strategy's settings (and so in
//!   the trace header).
//! - Each call's messages extend the previous call's (until a note rewrites the history),
//!   so a backend that reuses a cached prefix evaluates only the new turn.
//! - Every action is generated under a JSON Schema whose length caps fit the tokens the
//!   call may generate, so a capped call never cuts an action in half. With grounded picks
//!   the picks are an enum of the document titles the loop's searches have shown.
//! - Before a call that would not leave room for its reply and for a note, the loop makes
//!   the model write a note first (marked `forced`); it never drops text silently.
//! - Everything the loop tells the model that is not a reply or a search result is an
//!   `Observation` event in the trace.
//! - Budgets end every run. Without `block_repeats`, the same action with the same text
//!   three times in a row ends it with the stop reason `repeating`.

mod action;

use async_trait::async_trait;
use ladder_core::trace::EventKind;
use ladder_core::{
    content_hash, Answer, ChatRequest, Constraint, Hit, Message, Outcome, RunContext, RunError,
    StopReason, Strategy, TaskView,
};

pub use action::{action_schema, parse_action, parse_free, Action, ALL, FREE_FORMAT};

/// The system prompt (the way of working), shipped with the crate.
pub const SYSTEM_PROMPT: &str = include_str!("../prompts/system.txt");
/// The action descriptions, with one short example of each.
pub const ACTIONS_PROMPT: &str = include_str!("../prompts/actions.txt");
/// The prompts as they were before the aids (no examples): `bootstrap-plain`.
pub const PLAIN_SYSTEM_PROMPT: &str = include_str!("../prompts/plain/system.txt");
pub const PLAIN_ACTIONS_PROMPT: &str = include_str!("../prompts/plain/actions.txt");

/// Tokens an action may generate at most.
const ACTION_TOKENS: u32 = 300;
/// Tokens kept free for a note call beyond its prompt.
const NOTE_ROOM: u64 = 200;
/// Characters of text per generated token, conservatively, for sizing the grammar's caps.
const CHARS_PER_TOKEN: u32 = 2;
/// Repeated actions the loop turns back before it takes its last word.
const REPEAT_LIMIT: u32 = 3;

/// How actions are generated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Under a grammar (a JSON Schema): every action parses.
    Constrained,
    /// Plain text, read by a tolerant parser ([`parse_free`]); what cannot be read is shown
    /// to the model as an observation and the loop goes on.
    Free,
}

/// The loop's aids (see the crate's documentation); all on by default, all off is the loop
/// as it was first built (`bootstrap-plain`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Aids {
    pub status: bool,
    pub fresh_search: bool,
    pub block_repeats: bool,
    pub last_word: bool,
}

impl Aids {
    pub const ALL: Aids = Aids {
        status: true,
        fresh_search: true,
        block_repeats: true,
        last_word: true,
    };
    pub const NONE: Aids = Aids {
        status: false,
        fresh_search: false,
        block_repeats: false,
        last_word: false,
    };
}

/// The bootstrapped loop.
#[derive(Debug, Clone)]
pub struct Bootstrap {
    pub mode: Mode,
    pub system_prompt: String,
    pub actions_prompt: String,
    /// Passages per search.
    pub k: usize,
    /// A smaller context window than the model's, to force notes (tests, experiments).
    pub context_limit: Option<u64>,
    pub aids: Aids,
    /// Picks constrained to the titles of the documents the searches showed.
    pub grounded: bool,
    /// A playbook of lessons (`ladder evolve`'s, or one written by hand), as the text
    /// placed in the system prompt after the way of working; its hash is in the settings.
    pub playbook: Option<String>,
}

impl Default for Bootstrap {
    fn default() -> Self {
        Bootstrap {
            mode: Mode::Constrained,
            system_prompt: SYSTEM_PROMPT.to_string(),
            actions_prompt: ACTIONS_PROMPT.to_string(),
            k: 3,
            context_limit: None,
            aids: Aids::ALL,
            grounded: false,
            playbook: None,
        }
    }
}

impl Bootstrap {
    /// The loop as it was before its aids: no status, searches that show the same passages
    /// again, repeats stopped as `repeating`, no last word, the prompt without examples.
    pub fn plain() -> Bootstrap {
        Bootstrap {
            system_prompt: PLAIN_SYSTEM_PROMPT.to_string(),
            actions_prompt: PLAIN_ACTIONS_PROMPT.to_string(),
            aids: Aids::NONE,
            ..Bootstrap::default()
        }
    }
}

/// What the loop keeps between steps besides the model's history.
#[derive(Default)]
struct Memory {
    /// Actions carried out: kind, text as the model wrote it, step.
    done: Vec<(String, String, u32)>,
    /// Chunk ids already shown.
    shown: Vec<String>,
    /// Titles of the documents shown, first seen first (the grounded picks' names).
    titles: Vec<String>,
    /// Repeated actions turned back.
    repeats: u32,
    /// The kind the next step may not choose.
    barred: Option<String>,
    /// The history's length after the last note (2 before any): a forced note needs turns
    /// beyond it, since a note cannot condense itself any further.
    condensed_len: usize,
    /// The longest model call so far, in ms (to know when the wall time has room for one
    /// more).
    longest_call_ms: u64,
}

/// The same kind and text, up to case, spacing and punctuation.
fn same(a: &str, b: &str) -> bool {
    ladder_core::words::same_words(a, b)
}

fn passages(hits: &[Hit]) -> String {
    hits.iter()
        .map(|h| format!("\n- {}: {}", h.title, h.text.replace('\n', " ")))
        .collect()
}

impl Bootstrap {
    fn system(&self, task: &TaskView) -> String {
        let mut s = self.system_prompt.trim().to_string();
        if !task.brief.is_empty() {
            s = format!("{}\n\n{s}", task.brief);
        }
        if let Some(playbook) = self.playbook.as_deref().filter(|p| !p.trim().is_empty()) {
            s = format!("{s}\n\n{}", playbook.trim());
        }
        let mut s = format!("{s}\n\n{}", self.actions_prompt.trim());
        if self.mode == Mode::Free {
            s = format!("{s}\n{FREE_FORMAT}");
        }
        s
    }

    /// The request for the next action: `max_tokens` and the grammar's caps sized together.
    fn request(
        &self,
        ctx: &RunContext,
        messages: &[Message],
        allowed: &[&str],
        names: Option<&[String]>,
    ) -> ChatRequest {
        let mut max_tokens = ACTION_TOKENS;
        if let Some(left) = ctx.tokens_left() {
            let prompt = ctx.count_tokens(messages).unwrap_or(0);
            max_tokens =
                max_tokens.min(left.saturating_sub(prompt).min(u64::from(u32::MAX)) as u32);
        }
        // JSON syntax and three picks of 40 characters take up to ~90 tokens; the text gets
        // what is left, so the capped object always fits.
        let text_chars = max_tokens.saturating_sub(90).max(8) * CHARS_PER_TOKEN;
        let mut r = ChatRequest::new(messages.to_vec());
        r.sampling.max_tokens = max_tokens;
        if self.mode == Mode::Constrained {
            r.constraint = Some(Constraint::JsonSchema(action_schema(
                allowed, text_chars, names,
            )));
        }
        r
    }

    fn window(&self, ctx: &RunContext) -> u64 {
        let w = ctx.context_window();
        self.context_limit.map_or(w, |l| l.min(w))
    }

    /// The status line that ends an observation: the steps and tokens left.
    fn status(&self, ctx: &RunContext) -> String {
        if !self.aids.status {
            return String::new();
        }
        let left = ctx.left();
        let mut parts = Vec::new();
        if let Some(s) = left.steps {
            parts.push(format!("{s} step{} left", if s == 1 { "" } else { "s" }));
        }
        if let Some(t) = left.tokens {
            parts.push(format!("about {t} tokens left"));
        }
        if parts.is_empty() {
            return String::new();
        }
        format!("\n[{}]", parts.join(", "))
    }

    /// Whether this step must be the last: no budget for another step after it.
    fn last_step(&self, ctx: &RunContext, prompt: u64, memory: &Memory) -> bool {
        let left = ctx.left();
        let reply = u64::from(ACTION_TOKENS);
        left.steps == Some(0)
            || left.model_calls.is_some_and(|c| c <= 1)
            // This call and one more after it (with this one's reply in its prompt).
            || left.tokens.is_some_and(|t| t < 2 * (prompt + reply) + reply)
            || left
                .wall_ms
                .is_some_and(|w| memory.longest_call_ms > 0 && w < 3 * memory.longest_call_ms)
            || memory.repeats >= REPEAT_LIMIT
    }

    /// Ask the model for one action among `allowed` and record it. `None` when its reply
    /// could not be read; the reason is then appended to `history` as an observation for
    /// the next step.
    #[allow(clippy::too_many_arguments)]
    async fn step(
        &self,
        ctx: &mut RunContext,
        history: &mut Vec<Message>,
        step: u32,
        allowed: &[&str],
        purpose: &str,
        prompt_note: Option<&str>,
        memory: &mut Memory,
    ) -> Result<Option<Action>, RunError> {
        let mut messages = history.clone();
        if let Some(note) = prompt_note {
            messages.push(Message::user(note));
        }
        let names = self.grounded.then_some(memory.titles.as_slice());
        let request = self.request(ctx, &messages, allowed, names);
        let started = std::time::Instant::now();
        let response = ctx.call_model(purpose, request).await?;
        memory.longest_call_ms = memory
            .longest_call_ms
            .max(started.elapsed().as_millis() as u64);
        let parsed = match self.mode {
            Mode::Constrained => parse_action(&response.text),
            Mode::Free => parse_free(&response.text),
        }
        .and_then(|a| {
            if allowed.contains(&a.action.as_str()) {
                Ok(a)
            } else {
                Err(format!(
                    "{:?} is not allowed at this step (allowed: {})",
                    a.action,
                    allowed.join(", ")
                ))
            }
        });
        ctx.record(EventKind::Action {
            step,
            action: parsed
                .as_ref()
                .map(|a| a.action.clone())
                .unwrap_or_else(|_| "invalid".into()),
            argument: parsed
                .as_ref()
                .map(|a| a.text.clone())
                .unwrap_or_else(|_| response.text.clone()),
            parse_error: parsed.as_ref().err().cloned(),
        })?;
        match parsed {
            Ok(a) => Ok(Some(a)),
            Err(why) => {
                history.push(Message::assistant(response.text));
                history.push(Message::user(format!(
                    "Observation: {why}. Reply with one JSON action."
                )));
                Ok(None)
            }
        }
    }

    /// Replace the history with the system prompt, the opening and the note.
    fn condense(
        &self,
        ctx: &mut RunContext,
        history: &mut Vec<Message>,
        note: &str,
        forced: bool,
    ) -> Result<(), RunError> {
        let before = ctx.count_tokens(history)?;
        let kept = vec![
            history[0].clone(),
            history[1].clone(),
            Message::assistant(
                serde_json::json!({"action": "note", "text": note, "picks": []}).to_string(),
            ),
            Message::user(format!("Noted. Continue.{}", self.status(ctx))),
        ];
        *history = kept;
        let after = ctx.count_tokens(history)?;
        ctx.record(EventKind::ContextCompression {
            tokens_before: before,
            tokens_after: after,
            forced,
        })
    }

    /// Show the model `text` as an observation after its action `json`, and trace it.
    fn observe(
        &self,
        ctx: &mut RunContext,
        history: &mut Vec<Message>,
        step: u32,
        json: String,
        text: String,
    ) -> Result<(), RunError> {
        ctx.record(EventKind::Observation {
            step,
            text: text.clone(),
        })?;
        history.push(Message::assistant(json));
        history.push(Message::user(format!(
            "Observation: {text}{}",
            self.status(ctx)
        )));
        Ok(())
    }

    /// Carry out a search: the passages not shown before (with `fresh_search`), or the
    /// top `k` as they come.
    async fn search(
        &self,
        ctx: &mut RunContext,
        query: &str,
        memory: &mut Memory,
    ) -> Result<Result<String, String>, RunError> {
        let mut hits = ctx.retrieve(query, self.k).await?;
        if self.aids.fresh_search {
            let seen = hits.iter().filter(|h| memory.shown.contains(&h.id)).count();
            if seen > 0 {
                // Page past what was shown: every new passage the wider search returns is
                // shown (at most k of them are new), so nothing retrieved goes unseen.
                hits = ctx.retrieve(query, self.k + seen).await?;
            }
            let (old, new): (Vec<Hit>, Vec<Hit>) =
                hits.into_iter().partition(|h| memory.shown.contains(&h.id));
            if new.is_empty() {
                let mut titles: Vec<&str> = old.iter().map(|h| h.title.as_str()).collect();
                titles.dedup();
                return Ok(Err(format!(
                    "this search found only passages already shown above ({}). Search for \
                     something different, ask the user, or answer.",
                    titles.join(", ")
                )));
            }
            hits = new;
        }
        for h in &hits {
            if !memory.shown.contains(&h.id) {
                memory.shown.push(h.id.clone());
            }
            if !h.title.is_empty() && !memory.titles.contains(&h.title) {
                memory.titles.push(h.title.clone());
            }
        }
        if hits.is_empty() {
            return Ok(Ok("Search results: nothing found.".into()));
        }
        Ok(Ok(format!("Search results:{}", passages(&hits))))
    }

    /// The earlier step that carried out this same action, if any.
    fn repeat_of(&self, memory: &Memory, action: &Action) -> Option<u32> {
        if !self.aids.block_repeats || action.action == "answer" {
            return None;
        }
        memory
            .done
            .iter()
            .find(|(kind, text, _)| *kind == action.action && same(text, &action.text))
            .map(|(_, _, step)| *step)
    }

    async fn run_loop(&self, task: &TaskView, ctx: &mut RunContext) -> Result<Outcome, RunError> {
        let mut history = vec![
            Message::system(self.system(task)),
            Message::user(task.opening.clone()),
        ];
        let mut memory = Memory {
            condensed_len: 2,
            ..Memory::default()
        };
        let mut last: Vec<(String, String)> = Vec::new();
        loop {
            let step = ctx.next_step()?;
            let prompt = ctx.count_tokens(&history)?;
            let fits_answer = prompt + u64::from(ACTION_TOKENS) <= self.window(ctx);
            let final_word =
                self.aids.last_word && fits_answer && self.last_step(ctx, prompt, &memory);
            // Room check: the next call's prompt, its reply and a note must fit.
            let forced = !final_word
                && history.len() > memory.condensed_len
                && prompt + u64::from(ACTION_TOKENS) + NOTE_ROOM > self.window(ctx);
            let barred = memory.barred.take();
            let allowed: Vec<&str> = if final_word {
                vec!["answer"]
            } else if forced {
                vec!["note"]
            } else {
                ALL.iter()
                    .copied()
                    .filter(|k| Some(*k) != barred.as_deref())
                    .collect()
            };
            let (purpose, note) = if final_word {
                let why = if memory.repeats >= REPEAT_LIMIT {
                    "You keep repeating actions."
                } else {
                    "This is your last step."
                };
                ctx.record(EventKind::Observation {
                    step,
                    text: format!("{why} Answering now."),
                })?;
                (
                    "answer (last word)",
                    Some(format!(
                        "{why} Answer the user now with the best you can from what you were \
                         told and found; put in \"picks\" the names your answer recommends."
                    )),
                )
            } else if forced {
                (
                    "note (forced)",
                    Some(
                        "Your working context is nearly full. Write a note that keeps \
                         everything you still need."
                            .to_string(),
                    ),
                )
            } else {
                ("action", None)
            };
            // An action the loop could not read is already shown to the model.
            let Some(action) = self
                .step(
                    ctx,
                    &mut history,
                    step,
                    &allowed,
                    purpose,
                    note.as_deref(),
                    &mut memory,
                )
                .await?
            else {
                continue;
            };
            let json = serde_json::json!({"action": action.action, "text": action.text, "picks": action.picks}).to_string();
            if !self.aids.block_repeats {
                last.push((action.action.clone(), action.text.clone()));
                if last.len() >= 3
                    && last[last.len() - 3..]
                        .iter()
                        .all(|x| *x == last[last.len() - 1])
                {
                    return Ok(Outcome::stopped(StopReason::Repeating {
                        detail: format!("{} {:?} three times in a row", action.action, action.text),
                    }));
                }
            }
            if let Some(earlier) = self.repeat_of(&memory, &action) {
                memory.repeats += 1;
                memory.barred = Some(action.action.clone());
                let text = format!(
                    "you already did this at step {earlier} ({} {:?}); doing it again gives \
                     nothing new. Do something else: ask the user what you still need to \
                     know, search for something different, or answer with what you have.",
                    action.action, action.text
                );
                self.observe(ctx, &mut history, step, json, text)?;
                continue;
            }
            memory
                .done
                .push((action.action.clone(), action.text.clone(), step));
            match action.action.as_str() {
                "answer" => {
                    return Ok(ctx.answer(Answer {
                        text: action.text,
                        picks: action.picks,
                    }))
                }
                "ask" => {
                    let reply = ctx.ask_user(&action.text).await?;
                    history.push(Message::assistant(json));
                    history.push(Message::user(format!("User: {reply}{}", self.status(ctx))));
                }
                "search" => match self.search(ctx, &action.text, &mut memory).await? {
                    Ok(results) => {
                        history.push(Message::assistant(json));
                        history.push(Message::user(format!("{results}{}", self.status(ctx))));
                    }
                    Err(nothing_new) => {
                        self.observe(ctx, &mut history, step, json, nothing_new)?;
                    }
                },
                _ => {
                    self.condense(ctx, &mut history, &action.text, forced)?;
                    memory.condensed_len = history.len();
                    if self.aids.block_repeats {
                        memory.barred = Some("note".into());
                    }
                }
            }
        }
    }
}

#[async_trait]
impl Strategy for Bootstrap {
    fn name(&self) -> &str {
        match (self.mode, self.aids == Aids::NONE, self.grounded) {
            (Mode::Free, _, _) => "bootstrap-free",
            (Mode::Constrained, true, _) => "bootstrap-plain",
            (Mode::Constrained, false, true) => "bootstrap-grounded",
            (Mode::Constrained, false, false) => "bootstrap",
        }
    }

    fn settings(&self) -> serde_json::Value {
        let mut settings = serde_json::json!({
            "mode": match self.mode { Mode::Constrained => "constrained", Mode::Free => "free" },
            "prompt_hash": content_hash(&(&self.system_prompt, &self.actions_prompt)),
            "k": self.k,
            "action_tokens": ACTION_TOKENS,
            "context_limit": self.context_limit,
            "aids": {
                "status": self.aids.status,
                "fresh_search": self.aids.fresh_search,
                "block_repeats": self.aids.block_repeats,
                "last_word": self.aids.last_word,
            },
            "grounded": self.grounded,
        });
        // Only with a playbook, so a bench made before playbooks still resumes.
        if let Some(playbook) = &self.playbook {
            settings["playbook_hash"] = content_hash(playbook).into();
        }
        settings
    }

    fn constraints(&self) -> Vec<Constraint> {
        if self.mode == Mode::Free {
            return vec![];
        }
        vec![
            Constraint::JsonSchema(action_schema(&ALL, 220, None)),
            Constraint::JsonSchema(action_schema(&["note"], 220, None)),
        ]
    }

    async fn run(&self, task: &TaskView, ctx: &mut RunContext) -> Outcome {
        match self.run_loop(task, ctx).await {
            Ok(outcome) => outcome,
            Err(e) => Outcome::stopped(e.stop_reason()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_parse_and_bad_ones_say_why() {
        let a = parse_action(r#"{"action": "ask", "text": "Where from?", "picks": []}"#).unwrap();
        assert_eq!((a.action.as_str(), a.text.as_str()), ("ask", "Where from?"));
        for bad in [
            "",
            "ask: where?",
            r#"{"action": "fly", "text": ""}"#,
            r#"{"action": "ask", "text": "cut"#,
        ] {
            let e = parse_action(bad).unwrap_err();
            assert!(!e.is_empty(), "{bad}");
        }
    }

    #[test]
    fn the_prompts_name_no_domain() {
        let all = format!("{SYSTEM_PROMPT} {ACTIONS_PROMPT} {PLAIN_ACTIONS_PROMPT}").to_lowercase();
        for domain in [
            "seaside",
            "lamp",
            "destination",
            "travel",
            "encyclopedia",
            "slot",
            "intent",
            "restaurant",
            "beach",
        ] {
            assert!(!all.contains(domain), "{domain}");
        }
    }

    #[test]
    fn the_same_action_is_the_same_up_to_case_and_punctuation() {
        assert!(same("Quiet places, near me!", "quiet places near me"));
        assert!(!same("quiet places", "lively places"));
    }
}
