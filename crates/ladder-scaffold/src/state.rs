//! The state the components hand on to each other, field by field, and how the prompts
//! show what it holds.
//!
//! Invariants:
//! - Everything one component leaves for another is one [`Field`] of [`State`]. A
//!   component declares the fields it reads and writes
//!   ([`Component::reads`](crate::Component::reads),
//!   [`Component::writes`](crate::Component::writes)); the runner hands it a state
//!   holding only the fields it reads ([`State::view`]) and keeps only the fields it
//!   writes ([`State::keep`]), so the declarations are the data flow, and
//!   [`Pipeline::plan`](crate::Pipeline::plan) can check them.
//! - A field nobody wrote is empty (`None` or an empty list); every reader takes that as
//!   "nothing found upstream".
//! - With nothing found upstream, [`State::final_request`] is exactly `direct`'s request.

use ladder_core::{Answer, ChatRequest, Direct, Hit, TaskView};

use crate::catalogue::{candidates_text, Candidate};
use crate::prompts;

/// One piece of what the components find.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Field {
    /// The request's intents (a classifier's decision).
    Intents,
    /// The form's filled slots.
    Slots,
    /// The search query retrieval used.
    Query,
    /// The documents retrieval found.
    Hits,
    /// The catalogue's documents ranked by the user's wishes.
    Candidates,
    /// The documents' text after compression.
    Context,
    /// The debaters' drafts.
    Drafts,
    /// The answer so far.
    Answer,
}

impl Field {
    /// Every field, in the state's order.
    pub const ALL: [Field; 8] = [
        Field::Intents,
        Field::Slots,
        Field::Query,
        Field::Hits,
        Field::Candidates,
        Field::Context,
        Field::Drafts,
        Field::Answer,
    ];

    /// The field's name in [`State`] (and in messages).
    pub fn name(self) -> &'static str {
        match self {
            Field::Intents => "intents",
            Field::Slots => "slots",
            Field::Query => "query",
            Field::Hits => "hits",
            Field::Candidates => "candidates",
            Field::Context => "context",
            Field::Drafts => "drafts",
            Field::Answer => "answer",
        }
    }

    /// What it holds, in words.
    pub fn what(self) -> &'static str {
        match self {
            Field::Intents => "an intent",
            Field::Slots => "filled slots",
            Field::Query => "a search query",
            Field::Hits => "documents",
            Field::Candidates => "ranked candidates",
            Field::Context => "a context",
            Field::Drafts => "drafts",
            Field::Answer => "an answer",
        }
    }
}

/// One field a component reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Read {
    pub field: Field,
    /// What the component does when no enabled component of the pipeline writes the
    /// field; `None` when it cannot work without it (the plan is then refused).
    pub otherwise: Option<&'static str>,
}

impl Read {
    /// A field the component cannot work without.
    pub const fn needs(field: Field) -> Read {
        Read {
            field,
            otherwise: None,
        }
    }

    /// A field the component uses when some component writes it, and does `otherwise`
    /// without.
    pub const fn optional(field: Field, otherwise: &'static str) -> Read {
        Read {
            field,
            otherwise: Some(otherwise),
        }
    }
}

/// The fields [`State::notes`] reads, for the components whose prompts show the notes.
pub const NOTES_READS: [Read; 4] = [
    Read::optional(Field::Slots, "no form answers in the notes"),
    Read::optional(Field::Hits, "no knowledge base in the notes"),
    Read::optional(Field::Context, "the documents' whole text in the notes"),
    Read::optional(Field::Candidates, "no ranked candidates in the notes"),
];

/// The fields [`State::final_request`] reads: the notes', and the drafts.
pub const FINAL_REQUEST_READS: [Read; 5] = [
    NOTES_READS[0],
    NOTES_READS[1],
    NOTES_READS[2],
    NOTES_READS[3],
    Read::optional(Field::Drafts, "no drafts to judge"),
];

/// What the components have found so far.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct State {
    /// `None` when no classifier ran; empty for the `unknown` route.
    pub intents: Option<Vec<String>>,
    /// (slot, value), in the order they were filled.
    pub slots: Vec<(String, String)>,
    pub query: String,
    pub hits: Vec<Hit>,
    /// Best first; empty when no catalogue ranked them.
    pub candidates: Vec<Candidate>,
    pub context: Option<String>,
    /// (agent, draft), for the agents that have one.
    pub drafts: Vec<(String, String)>,
    pub answer: Option<Answer>,
}

impl State {
    /// A state holding only `fields` of this one (the others empty).
    pub fn view(&self, fields: impl IntoIterator<Item = Field>) -> State {
        let mut out = State::default();
        for f in fields {
            out.copy(self, f);
        }
        out
    }

    /// Take `fields` from `from` (what a component wrote); the others stay as they are.
    pub fn keep(&mut self, from: &State, fields: &[Field]) {
        for &f in fields {
            self.copy(from, f);
        }
    }

    fn copy(&mut self, from: &State, field: Field) {
        match field {
            Field::Intents => self.intents.clone_from(&from.intents),
            Field::Slots => self.slots.clone_from(&from.slots),
            Field::Query => self.query.clone_from(&from.query),
            Field::Hits => self.hits.clone_from(&from.hits),
            Field::Candidates => self.candidates.clone_from(&from.candidates),
            Field::Context => self.context.clone_from(&from.context),
            Field::Drafts => self.drafts.clone_from(&from.drafts),
            Field::Answer => self.answer.clone_from(&from.answer),
        }
    }

    /// What the components found, for a prompt: the user's form answers, the catalogue's
    /// best candidates with their attributes, and the knowledge base's text (compressed
    /// where a compressor ran). Reads `slots`, `candidates`, `context` and `hits`.
    pub fn notes(&self) -> String {
        let mut out = String::new();
        if !self.slots.is_empty() {
            out.push_str("What the user told you:");
            for (slot, value) in &self.slots {
                out.push_str(&format!("\n- {slot}: {value}"));
            }
        }
        if !self.candidates.is_empty() {
            if !out.is_empty() {
                out.push_str("\n\n");
            }
            out.push_str(
                "The catalogue's best candidates for what the user told you, best first (recommend from these, and say what each does not fit):\n",
            );
            out.push_str(&candidates_text(&self.candidates));
        }
        let kb = match &self.context {
            Some(c) => c.clone(),
            None => hits_text(&self.hits),
        };
        if !kb.is_empty() {
            if !out.is_empty() {
                out.push_str("\n\n");
            }
            out.push_str("From the knowledge base:\n");
            out.push_str(&kb);
        }
        out
    }

    /// The final call: `direct`'s request with the notes (and drafts) added to its system
    /// prompt. With nothing found upstream it is exactly `direct`'s call. Reads what
    /// [`State::notes`] reads, and `drafts`.
    pub fn final_request(&self, task: &TaskView, max_tokens: u32) -> ChatRequest {
        let direct = Direct {
            max_tokens,
            picks: true,
            grounded: false,
        };
        let mut request = direct.request(task);
        let mut extra = self.notes();
        if !self.drafts.is_empty() {
            if !extra.is_empty() {
                extra.push_str("\n\n");
            }
            extra.push_str(prompts::JUDGE.trim());
            for (agent, text) in &self.drafts {
                extra.push_str(&format!("\n[{agent}] {}", text.trim()));
            }
        }
        if !extra.is_empty() {
            request.messages[0].content = format!("{}\n\n{extra}", request.messages[0].content);
        }
        request
    }
}

/// A hit's name in a prompt: its title, or its document's id when it has none.
pub(crate) fn label(h: &Hit) -> &str {
    if h.title.is_empty() {
        &h.document
    } else {
        &h.title
    }
}

/// Hits as a prompt shows them: one `[label] text` line each.
pub(crate) fn hits_text(hits: &[Hit]) -> String {
    hits.iter()
        .map(|h| format!("[{}] {}", label(h), h.text.trim()))
        .collect::<Vec<_>>()
        .join("\n")
}
