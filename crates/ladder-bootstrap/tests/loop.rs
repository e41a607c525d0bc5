//! The loop's mechanics with test doubles: a model that plays back a script of actions, a
//! user and a knowledge base that answer anything. (The real model runs in the CLI tests.)

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use ladder_bootstrap::Bootstrap;
use ladder_core::trace::EventKind;
use ladder_core::{
    run_task, Budget, ChatRequest, ChatResponse, Constraint, Filter, FinishReason, Hit,
    LanguageModel, Message, ModelError, ModelInfo, RetrievalError, Retriever, RunSetup, StopReason,
    Task, TokenCount, TokenSink, Usage, UserChannel, UserError, UserReply,
};

/// Plays back `script` (the last entry repeats); records the requests. Test code only.
struct Script {
    script: Vec<&'static str>,
    next: AtomicUsize,
    requests: Mutex<Vec<ChatRequest>>,
}

#[async_trait]
impl LanguageModel for Script {
    fn info(&self) -> ModelInfo {
        ModelInfo::new("scripted", "actions")
    }
    fn context_window(&self) -> u64 {
        4096
    }
    fn count_tokens(&self, m: &[Message]) -> Result<TokenCount, ModelError> {
        Ok(TokenCount::estimate(m))
    }
    async fn chat(
        &self,
        r: &ChatRequest,
        _: Option<TokenSink>,
    ) -> Result<ChatResponse, ModelError> {
        self.requests.lock().unwrap().push(r.clone());
        let i = self
            .next
            .fetch_add(1, Ordering::SeqCst)
            .min(self.script.len() - 1);
        Ok(ChatResponse {
            text: self.script[i].to_string(),
            finish: FinishReason::Stop,
            usage: Usage {
                prompt_tokens: TokenCount::estimate(&r.messages).tokens,
                completion_tokens: 20,
                ..Usage::default()
            },
            prompt_ms: 0.0,
            generation_ms: 0.0,
            total_ms: 1.0,
        })
    }
}

struct Echo;

#[async_trait]
impl UserChannel for Echo {
    async fn ask(&mut self, q: &str) -> Result<UserReply, UserError> {
        Ok(UserReply::Answer(format!(
            "You asked: {q} I live in Ostby."
        )))
    }
}

/// A knowledge base of `docs` places, every one matching any query, in the same order.
struct Kb {
    docs: usize,
}

#[async_trait]
impl Retriever for Kb {
    async fn search(
        &self,
        q: &str,
        k: usize,
        _: Option<&Filter>,
    ) -> Result<Vec<Hit>, RetrievalError> {
        Ok((0..k.min(self.docs))
            .map(|i| Hit {
                id: format!("doc-{i}#0"),
                score: 0.9,
                document: format!("doc-{i}"),
                title: format!("Place {i}"),
                heading: String::new(),
                text: format!("Place {i} matches {q}. ").repeat(20),
                attributes: Default::default(),
            })
            .collect())
    }
}

fn task() -> Task {
    Task {
        id: "t".into(),
        suite: "s".into(),
        opening: "Find me a beach.".into(),
        profile: vec![],
        expect: Default::default(),
        gold: Default::default(),
        budget: Budget::default(),
        tags: vec![],
        split: None,
    }
}

fn model(script: Vec<&'static str>) -> Arc<Script> {
    Arc::new(Script {
        script,
        next: AtomicUsize::new(0),
        requests: Mutex::new(vec![]),
    })
}

fn setup(m: Arc<Script>) -> RunSetup {
    let mut s = RunSetup::new(m, Budget::default()).with_user(Box::new(Echo));
    s.retriever = Some(Arc::new(Kb { docs: 10 }));
    s.brief = "You help people choose a beach.".into();
    s
}

const ASK: &str = r#"{"action": "ask", "text": "Where from? How many days?", "picks": []}"#;
const SEARCH: &str = r#"{"action": "search", "text": "quiet beach", "picks": []}"#;
const NOTE: &str =
    r#"{"action": "note", "text": "User lives in Ostby; wants a quiet beach.", "picks": []}"#;
const ANSWER: &str = r#"{"action": "answer", "text": "Go to Place 0.", "picks": ["Place 0"]}"#;

fn kinds(events: &[ladder_core::Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Action { action, .. } => Some(format!("action:{action}")),
            EventKind::UserTurn { .. } => Some("user".into()),
            EventKind::Retrieval { .. } => Some("search".into()),
            EventKind::ContextCompression { forced, .. } => Some(format!("note(forced={forced})")),
            EventKind::Answer { .. } => Some("answer".into()),
            EventKind::Observation { .. } => Some("observation".into()),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn asks_searches_notes_and_answers_in_order_with_a_growing_prompt() {
    let m = model(vec![ASK, SEARCH, NOTE, ANSWER]);
    let run = run_task(&Bootstrap::default(), &task(), setup(m.clone())).await;
    assert_eq!(run.outcome.stop, StopReason::Answered);
    assert_eq!(run.outcome.picks, vec!["Place 0".to_string()]);
    assert_eq!(
        kinds(run.events()),
        [
            "action:ask",
            "user",
            "action:search",
            "search",
            "action:note",
            "note(forced=false)",
            "action:answer",
            "answer"
        ]
    );
    let requests = m.requests.lock().unwrap();
    // Each call's messages extend the previous call's (until the note rewrites them).
    assert!(requests[1].messages.starts_with(&requests[0].messages));
    assert!(requests[2].messages.starts_with(&requests[1].messages));
    assert!(requests[3].messages.len() < requests[2].messages.len());
    // The brief is the only domain text; the opening is the user's.
    assert!(requests[0].messages[0]
        .content
        .starts_with("You help people choose a beach."));
    assert_eq!(requests[0].messages[1].content, "Find me a beach.");
    // Every call is constrained to an action.
    assert!(requests.iter().all(|r| r.constraint.is_some()));
}

#[tokio::test]
async fn the_plain_loop_ends_the_same_action_three_times_as_repeating() {
    let m = model(vec![SEARCH]);
    let run = run_task(&Bootstrap::plain(), &task(), setup(m)).await;
    assert!(
        matches!(run.outcome.stop, StopReason::Repeating { .. }),
        "{:?}",
        run.outcome
    );
    assert_eq!(
        kinds(run.events())
            .iter()
            .filter(|k| *k == "search")
            .count(),
        2
    );
}

/// The kinds of action a request's grammar allows.
fn allowed(r: &ChatRequest) -> Vec<String> {
    let Some(Constraint::JsonSchema(s)) = &r.constraint else {
        return vec![];
    };
    s["properties"]["action"]["enum"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn a_repeated_action_is_turned_back_with_an_observation_and_barred_at_the_next_step() {
    let m = model(vec![SEARCH, SEARCH, ANSWER]);
    let run = run_task(&Bootstrap::default(), &task(), setup(m.clone())).await;
    assert_eq!(
        run.outcome.stop,
        StopReason::Answered,
        "{:?}",
        kinds(run.events())
    );
    assert_eq!(
        kinds(run.events()),
        [
            "action:search",
            "search",
            "action:search",
            "observation",
            "action:answer",
            "answer"
        ]
    );
    let requests = m.requests.lock().unwrap();
    let shown = &requests[2].messages.last().unwrap().content;
    assert!(shown.contains("you already did this at step 1"), "{shown}");
    assert_eq!(allowed(&requests[1]), ["ask", "search", "note", "answer"]);
    assert_eq!(allowed(&requests[2]), ["ask", "note", "answer"]);
}

#[tokio::test]
async fn repeats_past_the_limit_end_with_a_last_word_constrained_to_answer() {
    let other = r#"{"action": "search", "text": "Quiet beach!", "picks": []}"#;
    let ask = r#"{"action": "ask", "text": "Where from? How many days?", "picks": []}"#;
    // A search, the same search twice more (as the same text up to case and punctuation),
    // the same question twice: three repeats, then the last word.
    let m = model(vec![ASK, SEARCH, other, ask, SEARCH, ANSWER]);
    let run = run_task(&Bootstrap::default(), &task(), setup(m.clone())).await;
    assert_eq!(
        run.outcome.stop,
        StopReason::Answered,
        "{:?}",
        kinds(run.events())
    );
    let k = kinds(run.events());
    assert_eq!(k.iter().filter(|k| *k == "observation").count(), 4, "{k:?}");
    assert_eq!(k.iter().filter(|k| *k == "search").count(), 1, "{k:?}");
    assert_eq!(k.iter().filter(|k| *k == "user").count(), 1, "{k:?}");
    let requests = m.requests.lock().unwrap();
    let last = requests.last().unwrap();
    assert_eq!(allowed(last), ["answer"]);
    assert!(last.messages.last().unwrap().content.contains("repeating"));
}

#[tokio::test]
async fn the_last_step_is_constrained_to_answer_and_ends_answered() {
    let m = model(vec![ASK, SEARCH, ANSWER]);
    let mut s = setup(m.clone());
    s.budget = Budget {
        max_steps: 3,
        ..Budget::default()
    };
    let run = run_task(&Bootstrap::default(), &task(), s).await;
    assert_eq!(
        run.outcome.stop,
        StopReason::Answered,
        "{:?}",
        kinds(run.events())
    );
    let requests = m.requests.lock().unwrap();
    assert_eq!(requests.len(), 3);
    assert_eq!(allowed(&requests[2]), ["answer"]);
    assert!(requests[2]
        .messages
        .last()
        .unwrap()
        .content
        .contains("last step"));
    // Every observation told the model how far it may go.
    assert!(requests[1]
        .messages
        .last()
        .unwrap()
        .content
        .contains("2 steps left"));
    assert!(requests[2].messages[requests[2].messages.len() - 2]
        .content
        .contains("1 step left"));
}

#[tokio::test]
async fn a_new_search_pages_past_what_was_shown_and_says_when_nothing_is_new() {
    let again = r#"{"action": "search", "text": "beach with shade", "picks": []}"#;
    let third = r#"{"action": "search", "text": "beach near town", "picks": []}"#;
    let m = model(vec![SEARCH, again, third, ANSWER]);
    let mut s = setup(m.clone());
    s.retriever = Some(Arc::new(Kb { docs: 6 }));
    let run = run_task(&Bootstrap::default(), &task(), s).await;
    assert_eq!(run.outcome.stop, StopReason::Answered);
    let requests = m.requests.lock().unwrap();
    let first = &requests[1].messages.last().unwrap().content;
    let second = &requests[2].messages.last().unwrap().content;
    let third = &requests[3].messages.last().unwrap().content;
    assert!(
        first.contains("Place 0") && first.contains("Place 2"),
        "{first}"
    );
    assert!(
        second.contains("Place 3") && second.contains("Place 5") && !second.contains("Place 0"),
        "{second}"
    );
    assert!(third.contains("only passages already shown"), "{third}");
    assert!(kinds(run.events()).contains(&"observation".to_string()));
}

#[tokio::test]
async fn grounded_picks_are_the_titles_the_searches_showed() {
    let m = model(vec![ASK, SEARCH, ANSWER]);
    let b = Bootstrap {
        grounded: true,
        ..Bootstrap::default()
    };
    let run = run_task(&b, &task(), setup(m.clone())).await;
    assert_eq!(run.outcome.stop, StopReason::Answered);
    let requests = m.requests.lock().unwrap();
    let picks = |r: &ChatRequest| match &r.constraint {
        Some(Constraint::JsonSchema(s)) => s["properties"]["picks"].clone(),
        _ => serde_json::Value::Null,
    };
    // Before any search nothing may be picked; after it, only what it showed.
    assert_eq!(picks(&requests[0])["maxItems"], 0);
    assert_eq!(
        picks(&requests[2])["items"]["enum"],
        serde_json::json!(["Place 0", "Place 1", "Place 2"])
    );
}

#[tokio::test]
async fn a_small_context_forces_a_note_before_it_overflows() {
    let m = model(vec![SEARCH, NOTE, ANSWER]);
    let b = Bootstrap {
        context_limit: Some(1300),
        ..Bootstrap::default()
    };
    let run = run_task(&b, &task(), setup(m.clone())).await;
    assert_eq!(
        run.outcome.stop,
        StopReason::Answered,
        "{:?}",
        kinds(run.events())
    );
    let k = kinds(run.events());
    assert!(k.contains(&"note(forced=true)".to_string()), "{k:?}");
    let requests = m.requests.lock().unwrap();
    let forced = requests
        .iter()
        .find(|r| {
            r.messages
                .last()
                .is_some_and(|m| m.content.contains("nearly full"))
        })
        .expect("a forced note call");
    assert!(forced
        .constraint
        .as_ref()
        .is_some_and(|c| format!("{c:?}").contains("note")));
}

#[tokio::test]
async fn a_malformed_action_is_shown_to_the_model_and_the_loop_goes_on() {
    let m = model(vec!["I think we should search", ANSWER]);
    let run = run_task(&Bootstrap::default(), &task(), setup(m.clone())).await;
    assert_eq!(run.outcome.stop, StopReason::Answered);
    let errors: Vec<_> = run
        .events()
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Action { parse_error, .. } => parse_error.clone(),
            _ => None,
        })
        .collect();
    assert_eq!(errors.len(), 1);
    let second = &m.requests.lock().unwrap()[1];
    assert!(second
        .messages
        .last()
        .unwrap()
        .content
        .contains("not a valid action"));
}

#[tokio::test]
async fn budgets_end_every_run() {
    let m = model(vec![ASK, SEARCH]);
    // (The plain loop: the default one takes a last word on its last step.)
    let budget = Budget {
        max_steps: 3,
        ..Budget::default()
    };
    let mut s = setup(m);
    s.budget = budget;
    let run = run_task(&Bootstrap::plain(), &task(), s).await;
    assert_eq!(
        run.outcome.stop,
        StopReason::BudgetExhausted {
            limit: "3 steps".into()
        }
    );
}

#[tokio::test]
async fn free_mode_reads_plain_text_actions_and_shows_what_it_cannot_read() {
    let m = model(vec![
        "ASK: Where from? How many days?",
        "Let me think about beaches.",
        "```\nANSWER: Go to Place 0.\nPICKS: Place 0\n```",
    ]);
    let b = Bootstrap {
        mode: ladder_bootstrap::Mode::Free,
        ..Bootstrap::default()
    };
    let run = run_task(&b, &task(), setup(m.clone())).await;
    assert_eq!(run.outcome.stop, StopReason::Answered);
    assert_eq!(run.outcome.picks, vec!["Place 0".to_string()]);
    assert_eq!(
        kinds(run.events()),
        [
            "action:ask",
            "user",
            "action:invalid",
            "action:answer",
            "answer"
        ]
    );
    let requests = m.requests.lock().unwrap();
    assert!(
        requests.iter().all(|r| r.constraint.is_none()),
        "free mode is unconstrained"
    );
    assert!(requests[2]
        .messages
        .last()
        .unwrap()
        .content
        .contains("no action found"));
}
