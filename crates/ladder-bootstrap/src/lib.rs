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
//! Invariants:
//! - The loop knows the user's words, the suite's assistant brief, what it searched and its
//!   own notes: never the suite's slots, intents or form questions. Its prompt describes
//!   the actions and a way of working, never a domain.
//! - Prompts are files in `prompts/`; their SHA-256 is in the strategy's settings (and so in
//!   the trace header).
//! - Each call's messages extend the previous call's (until a note rewrites the history),
//!   so a backend that reuses a cached prefix evaluates only the new turn.
//! - Every action is generated under a JSON Schema whose length caps fit the tokens the
//!   call may generate, so a capped call never cuts an action in half.
//! - Before a call that would not leave room for its reply and for a note, the loop makes
//!   the model write a note first (marked `forced`); it never drops text silently.
//! - Budgets end every run; the same action with the same text three times in a row ends
//!   it with the stop reason `repeating`.

use async_trait::async_trait;
use ladder_core::trace::EventKind;
use ladder_core::{
    content_hash, Answer, ChatRequest, Constraint, Message, Outcome, RunContext, RunError,
    StopReason, Strategy, TaskView,
};
use serde::Deserialize;

/// The system prompt (the way of working), shipped with the crate.
pub const SYSTEM_PROMPT: &str = include_str!("../prompts/system.txt");
/// The action descriptions.
pub const ACTIONS_PROMPT: &str = include_str!("../prompts/actions.txt");

/// Tokens an action may generate at most.
const ACTION_TOKENS: u32 = 200;
/// Tokens kept free for a note call beyond its prompt.
const NOTE_ROOM: u64 = 200;
/// Characters of text per generated token, conservatively, for sizing the grammar's caps.
const CHARS_PER_TOKEN: u32 = 2;

/// How actions are generated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Under a grammar (a JSON Schema): every action parses.
    Constrained,
    /// Plain text, read by a tolerant parser ([`parse_free`]); what cannot be read is shown
    /// to the model as an observation and the loop goes on.
    Free,
}

/// How free mode asks for an action.
pub const FREE_FORMAT: &str = "Write your action as one JSON object as above, or as one line \
    `ACTION: argument` (for example `ASK: Where are you travelling from?`); for an answer, add \
    a line `PICKS: name, name`.";

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
}

impl Default for Bootstrap {
    fn default() -> Self {
        Bootstrap {
            mode: Mode::Constrained,
            system_prompt: SYSTEM_PROMPT.to_string(),
            actions_prompt: ACTIONS_PROMPT.to_string(),
            k: 3,
            context_limit: None,
        }
    }
}

/// One action as the model wrote it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Action {
    pub action: String,
    #[serde(default)]
    pub text: String,
    #[serde(default)]
    pub picks: Vec<String>,
}

/// The JSON Schema of an action, with its text capped at `text_chars` characters and
/// `action` limited to `allowed`.
pub fn action_schema(allowed: &[&str], text_chars: u32) -> serde_json::Value {
    serde_json::json!({
        "type": "object",
        "properties": {
            "action": {"type": "string", "enum": allowed},
            "text": {"type": "string", "maxLength": text_chars},
            "picks": {
                "type": "array",
                "items": {"type": "string", "maxLength": 40},
                "maxItems": 3
            }
        },
        "required": ["action", "text", "picks"],
        "additionalProperties": false
    })
}

/// Read an action; the error says what was wrong, for the model to see.
pub fn parse_action(text: &str) -> Result<Action, String> {
    let a: Action = serde_json::from_str(text.trim())
        .map_err(|e| format!("your last reply was not a valid action ({e})"))?;
    match a.action.as_str() {
        "ask" | "search" | "note" | "answer" => Ok(a),
        other => Err(format!("{other:?} is not an action")),
    }
}

const ALL: [&str; 4] = ["ask", "search", "note", "answer"];

/// Read an action from free text: a fenced block's content if there is one, then a JSON
/// object, then an `ACTION: argument` line (the argument runs to the end of the text, up to
/// a `PICKS:` line). Never panics; the error says what to write instead.
pub fn parse_free(text: &str) -> Result<Action, String> {
    let mut body = text;
    if let Some(start) = text.find("```") {
        let after = &text[start + 3..];
        // Skip a language tag on the fence's line.
        let after = after.split_once('\n').map_or(after, |(_, rest)| rest);
        body = after.find("```").map_or(after, |end| &after[..end]);
    }
    if let (Some(open), Some(close)) = (body.find('{'), body.rfind('}')) {
        if open < close {
            if let Ok(a) = parse_action(&body[open..=close]) {
                return Ok(a);
            }
        }
    }
    let lines: Vec<&str> = body.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim().trim_start_matches(['*', '-', '#', ' ']);
        let Some((head, rest)) = trimmed.split_once([':', '-']) else {
            continue;
        };
        let kind = head
            .trim()
            .trim_matches(['*', '_', '#', '`', ' '])
            .to_ascii_lowercase();
        if !ALL.contains(&kind.as_str()) {
            continue;
        }
        let mut text = rest
            .trim()
            .trim_start_matches(['*', '_'])
            .trim()
            .to_string();
        let mut picks = Vec::new();
        for more in &lines[i + 1..] {
            let m = more.trim();
            if let Some(p) = m
                .strip_prefix("PICKS:")
                .or_else(|| m.strip_prefix("Picks:"))
                .or_else(|| m.strip_prefix("picks:"))
            {
                picks = p
                    .split(',')
                    .map(|x| x.trim().to_string())
                    .filter(|x| !x.is_empty())
                    .collect();
                break;
            }
            if !m.is_empty() {
                text.push('\n');
                text.push_str(m);
            }
        }
        return Ok(Action {
            action: kind,
            text: text.trim().to_string(),
            picks,
        });
    }
    Err("no action found: write one JSON object, or one line `ACTION: argument` with ACTION one of ASK, SEARCH, NOTE, ANSWER".into())
}

impl Bootstrap {
    fn system(&self, task: &TaskView) -> String {
        let mut s = self.system_prompt.trim().to_string();
        if !task.brief.is_empty() {
            s = format!("{}\n\n{s}", task.brief);
        }
        let mut s = format!("{s}\n\n{}", self.actions_prompt.trim());
        if self.mode == Mode::Free {
            s = format!("{s}\n{FREE_FORMAT}");
        }
        s
    }

    /// The request for the next action: `max_tokens` and the grammar's caps sized together.
    fn request(&self, ctx: &RunContext, messages: &[Message], allowed: &[&str]) -> ChatRequest {
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
            r.constraint = Some(Constraint::JsonSchema(action_schema(allowed, text_chars)));
        }
        r
    }

    fn window(&self, ctx: &RunContext) -> u64 {
        let w = ctx.context_window();
        self.context_limit.map_or(w, |l| l.min(w))
    }

    /// Ask the model for one action (only a note, when `forced`) and record it. `None` when
    /// its reply could not be read; the reason is then appended to `history` as an
    /// observation for the next step.
    async fn step(
        &self,
        ctx: &mut RunContext,
        history: &mut Vec<Message>,
        step: u32,
        forced: bool,
    ) -> Result<Option<Action>, RunError> {
        let allowed: &[&str] = if forced { &["note"] } else { &ALL };
        let mut messages = history.clone();
        if forced {
            messages.push(Message::user(
                "Your working context is nearly full. Write a note that keeps everything you \
                 still need.",
            ));
        }
        let request = self.request(ctx, &messages, allowed);
        let response = ctx
            .call_model(if forced { "note (forced)" } else { "action" }, request)
            .await?;
        let parsed = match self.mode {
            Mode::Constrained => parse_action(&response.text),
            Mode::Free => parse_free(&response.text),
        };
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
            Message::user("Noted. Continue."),
        ];
        *history = kept;
        let after = ctx.count_tokens(history)?;
        ctx.record(EventKind::ContextCompression {
            tokens_before: before,
            tokens_after: after,
            forced,
        })
    }

    async fn run_loop(&self, task: &TaskView, ctx: &mut RunContext) -> Result<Outcome, RunError> {
        let mut history = vec![
            Message::system(self.system(task)),
            Message::user(task.opening.clone()),
        ];
        let mut last: Vec<(String, String)> = Vec::new();
        loop {
            let step = ctx.next_step()?;
            // Room check: the next call's prompt, its reply and a note must fit.
            let prompt = ctx.count_tokens(&history)?;
            let forced = history.len() > 2
                && prompt + u64::from(ACTION_TOKENS) + NOTE_ROOM > self.window(ctx);
            // An action the loop could not read is already shown to the model.
            let Some(action) = self.step(ctx, &mut history, step, forced).await? else {
                continue;
            };
            let json = serde_json::json!({"action": action.action, "text": action.text, "picks": action.picks}).to_string();
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
                    history.push(Message::user(format!("User: {reply}")));
                }
                "search" => {
                    let hits = ctx.retrieve(&action.text, self.k).await?;
                    let mut obs = String::from("Search results:");
                    if hits.is_empty() {
                        obs.push_str(" nothing found.");
                    }
                    for h in &hits {
                        obs.push_str(&format!("\n- {}: {}", h.title, h.text.replace('\n', " ")));
                    }
                    history.push(Message::assistant(json));
                    history.push(Message::user(obs));
                }
                _ => self.condense(ctx, &mut history, &action.text, forced)?,
            }
        }
    }
}

#[async_trait]
impl Strategy for Bootstrap {
    fn name(&self) -> &str {
        match self.mode {
            Mode::Constrained => "bootstrap",
            Mode::Free => "bootstrap-free",
        }
    }

    fn settings(&self) -> serde_json::Value {
        serde_json::json!({
            "mode": match self.mode { Mode::Constrained => "constrained", Mode::Free => "free" },
            "prompt_hash": content_hash(&(&self.system_prompt, &self.actions_prompt)),
            "k": self.k,
            "action_tokens": ACTION_TOKENS,
            "context_limit": self.context_limit,
        })
    }

    fn constraints(&self) -> Vec<Constraint> {
        if self.mode == Mode::Free {
            return vec![];
        }
        vec![
            Constraint::JsonSchema(action_schema(&ALL, 220)),
            Constraint::JsonSchema(action_schema(&["note"], 220)),
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
        let all = format!("{SYSTEM_PROMPT} {ACTIONS_PROMPT}").to_lowercase();
        for domain in [
            "seaside",
            "lamp",
            "destination",
            "travel",
            "encyclopedia",
            "slot",
            "intent",
        ] {
            assert!(!all.contains(domain), "{domain}");
        }
    }
}
