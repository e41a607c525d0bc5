//! The users a strategy talks to: [`SimulatedUser`], which knows a task's hidden profile
//! and answers only what it is asked, by the pure matching rules of [`crate::rules`]
//! (re-exported here at their old paths); and [`ModelUser`], a language model playing the
//! user from the same profile.
//!
//! Invariants of the simulated user:
//! - Deterministic: the reply depends only on the task, the manifest, the questions so far
//!   and (when attached) the embedding model. A question matches a profile fact by its
//!   slot's keywords; failing that, by embedding similarity to the slot's form question
//!   above a threshold. The slots it matched are recorded in the trace
//!   ([`UserChannel::matched_slots`]) and scoring replays them with [`replay`], so the
//!   counts in a score always match what the user did.
//! - It never volunteers a hidden fact unasked; facts said in the opening (`stated`) are
//!   known to the strategy already, and asking for them again counts as a repeat.
//! - A question is answered part by part ([`parts`]), in the order asked: each part gets
//!   the facts it asks for, "As I said: ..." for a repeat, "No preference." for a slot the
//!   user has no fact for, "I don't know." otherwise. Each part costs patience by its kind
//!   ([`Patience::cost`]), so a catch-all question that lists every slot costs what it asks.
//! - Past its patience or its turn limit, it gives up.

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use ladder_core::{
    cosine, ChatRequest, Embedder, LanguageModel, Message, PartKind, ProfileFact, Task,
    UserChannel, UserError, UserPart, UserReply,
};

use crate::rules::stated;
use crate::suite::Manifest;

/// The matching rules, at their old paths (they live in [`crate::rules`]).
pub use crate::rules::{
    classify, keyword_matches, open_question, parts, pleasantry, relevance, replay, slots_asked,
    Relevance,
};

/// How cooperative the simulated user is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Persona {
    /// Answers every part of a question, and an open question ("Anything else I should
    /// know?") with everything it has not said yet.
    #[default]
    Cooperative,
    /// Answers only what is asked, one fact per turn (the first part that asks for one; the
    /// rest of the question goes unheard), meets an open question with "What do you need
    /// to know?", and loses patience sooner ([`Persona::patience`]). LLM-simulated users
    /// are found too cooperative ("Mind the Sim2Real Gap"); this one is not.
    Terse,
}

impl Persona {
    /// The patience this persona starts with.
    pub fn patience(self) -> Patience {
        match self {
            Persona::Cooperative => Patience::default(),
            Persona::Terse => Patience {
                wasted: 3.0,
                max_turns: 8,
                ..Patience::default()
            },
        }
    }
}

/// How patient the user is, and what each kind of question part costs it.
///
/// Every part of a question costs patience by what it was: a part the user answers costs
/// nothing, a part it has no preference on costs `no_preference`, an irrelevant or a
/// repeated part costs `irrelevant` or `repeated`. Past `wasted` in total, or past
/// `max_turns` questions, the user gives up. The defaults let a form that asks every slot
/// of a suite once each finish on every task (a test walks it): a form's cost shows in
/// turns and effort, not in give-ups.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Patience {
    /// Effort tolerated; more and the user gives up.
    pub wasted: f32,
    /// Questions answered at most; one more and the user gives up.
    pub max_turns: u32,
    pub no_preference: f32,
    pub irrelevant: f32,
    pub repeated: f32,
}

impl Default for Patience {
    fn default() -> Self {
        Patience {
            wasted: 6.0,
            max_turns: 12,
            no_preference: 0.5,
            irrelevant: 1.0,
            repeated: 1.0,
        }
    }
}

impl Patience {
    /// What a part of this kind costs.
    pub fn cost(&self, kind: PartKind) -> f32 {
        match kind {
            PartKind::Answered => 0.0,
            PartKind::NoPreference => self.no_preference,
            PartKind::Irrelevant => self.irrelevant,
            PartKind::Repeated => self.repeated,
        }
    }
}

pub const GIVE_UP: &str = "Never mind, this is taking too long.";

/// Default cosine similarity above which a question counts as asking for a slot. Measured
/// with all-MiniLM-L6-v2 on seaside paraphrases: questions that ask for a slot in other
/// words scored 0.46-0.58 against it; unrelated questions, and the wrong slots, at most 0.42.
pub const SIMILARITY_THRESHOLD: f32 = 0.45;

fn say(f: &ProfileFact) -> String {
    f.say.clone().unwrap_or_else(|| f.value.clone())
}

/// Counts of what happened in a conversation: turns, and question parts by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct UserStats {
    pub turns: u32,
    pub answered: u32,
    pub no_preference: u32,
    pub irrelevant: u32,
    pub repeated: u32,
    /// Patience spent so far ([`Patience::cost`] of every part).
    pub effort: f32,
}

/// Embedding matching: the embedder and a vector per profile slot (its form question and
/// keywords together).
struct Semantic {
    embedder: Arc<dyn Embedder>,
    slots: Vec<(String, Vec<f32>)>,
    threshold: f32,
}

impl Semantic {
    /// For each text, the profile slots whose form question is similar enough, best first.
    fn matches(&self, texts: &[String]) -> Result<Vec<Vec<String>>, UserError> {
        if texts.is_empty() {
            return Ok(vec![]);
        }
        let vectors = self.embedder.embed(texts).map_err(|e| {
            UserError::Failed(format!("the simulated user cannot embed the question: {e}"))
        })?;
        Ok(vectors
            .iter()
            .map(|q| {
                let mut scored: Vec<(f32, &String)> = self
                    .slots
                    .iter()
                    .map(|(s, v)| (cosine(q, v), s))
                    .filter(|(c, _)| *c >= self.threshold)
                    .collect();
                scored.sort_by(|a, b| b.0.total_cmp(&a.0));
                scored.into_iter().map(|(_, s)| s.clone()).collect()
            })
            .collect())
    }
}

/// The deterministic simulated user.
pub struct SimulatedUser {
    manifest: Arc<Manifest>,
    task: Task,
    patience: Patience,
    persona: Persona,
    given: BTreeSet<String>,
    semantic: Option<Arc<Semantic>>,
    last_matched: Option<Vec<String>>,
    last_parts: Vec<UserPart>,
    pub stats: UserStats,
}

impl SimulatedUser {
    /// A user that matches questions by keywords only.
    pub fn new(manifest: Arc<Manifest>, task: Task, patience: Patience) -> Self {
        let given = stated(&task);
        SimulatedUser {
            manifest,
            task,
            patience,
            persona: Persona::Cooperative,
            given,
            semantic: None,
            last_matched: None,
            last_parts: Vec::new(),
            stats: UserStats::default(),
        }
    }

    /// This persona, with its patience.
    pub fn persona(mut self, persona: Persona) -> Self {
        self.persona = persona;
        self.patience = persona.patience();
        self
    }

    /// Also match by embedding similarity (cosine at least `threshold`) between a question
    /// and each slot's form question with its keywords: every slot of the suite, so that a
    /// question about one this user has no fact for gets "No preference." Embeds the slots
    /// now (blocking).
    pub fn with_embedder(
        mut self,
        embedder: Arc<dyn Embedder>,
        threshold: f32,
    ) -> Result<Self, UserError> {
        let slots: Vec<(String, String)> = self
            .manifest
            .slots()
            .into_iter()
            .map(|s| {
                (
                    s.name.clone(),
                    format!("{} {}", s.question, s.keywords.join(" ")),
                )
            })
            .collect();
        let texts: Vec<String> = slots.iter().map(|(_, q)| q.clone()).collect();
        let vectors = embedder
            .embed(&texts)
            .map_err(|e| UserError::Failed(format!("cannot embed the slot questions: {e}")))?;
        let slots = slots.into_iter().map(|(s, _)| s).zip(vectors).collect();
        self.semantic = Some(Arc::new(Semantic {
            embedder,
            slots,
            threshold,
        }));
        Ok(self)
    }

    /// Who this user is and how patient, for the trace header.
    pub fn settings(&self) -> serde_json::Value {
        serde_json::json!({
            "kind": if self.semantic.is_some() { "simulated" } else { "keywords" },
            "persona": self.persona,
            "patience": self.patience,
            "similarity_threshold": self.semantic.as_ref().map(|s| s.threshold),
        })
    }

    /// The reply to one question. With an embedder attached this embeds the parts no
    /// keyword matches (blocking); [`UserChannel::ask`] does that off the async threads.
    pub fn reply(&mut self, question: &str) -> UserReply {
        let pending = self.needs_embedding(question);
        let semantic = self
            .semantic
            .clone()
            .and_then(|s| s.matches(&pending).ok())
            .unwrap_or_default();
        self.reply_with(question, &pending, semantic)
    }

    /// The parts of `question` that keywords do not match and an embedder could.
    fn needs_embedding(&self, question: &str) -> Vec<String> {
        if !self.manifest.interactive || self.semantic.is_none() {
            return vec![];
        }
        parts(question)
            .into_iter()
            .filter(|p| slots_asked(&self.manifest, p).is_empty() && !pleasantry(&self.manifest, p))
            .collect()
    }

    /// Answer each part in order; `embedded[i]` are the slots the embedder found for the
    /// part `pending[i]`.
    fn reply_with(
        &mut self,
        question: &str,
        pending: &[String],
        embedded: Vec<Vec<String>>,
    ) -> UserReply {
        self.last_parts.clear();
        if self.stats.turns >= self.patience.max_turns {
            self.last_matched = Some(vec![]);
            return UserReply::GaveUp(GIVE_UP.into());
        }
        self.stats.turns += 1;
        let mut replies: Vec<String> = Vec::new();
        let mut matched_all: Vec<String> = Vec::new();
        let interactive = self.manifest.interactive;
        for part in parts(question) {
            // "Thanks!" is heard, not answered, and costs nothing.
            if interactive && pleasantry(&self.manifest, &part) {
                continue;
            }
            let mut matched = keyword_matches(&self.manifest, &self.task, &part);
            if matched.is_empty() {
                // The single best slot above the threshold: one part, one fact.
                matched = pending
                    .iter()
                    .position(|p| *p == part)
                    .and_then(|i| embedded.get(i))
                    .and_then(|slots| slots.first().cloned())
                    .into_iter()
                    .collect();
            }
            // An open question: what the user has not said yet (the terse user asks back).
            let open = interactive && matched.is_empty() && open_question(&part);
            if open && self.persona == Persona::Cooperative {
                matched = self
                    .task
                    .profile
                    .iter()
                    .filter(|f| !f.stated && !self.given.contains(&f.slot))
                    .map(|f| f.slot.clone())
                    .collect();
            }
            if self.persona == Persona::Terse {
                matched.truncate(1);
            }
            let relevance = relevance(&self.manifest, &self.task, &part, &matched, &self.given);
            let facts = |slots: &[String]| -> String {
                self.task
                    .profile
                    .iter()
                    .filter(|f| slots.contains(&f.slot))
                    .map(say)
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            let text = match &relevance {
                Relevance::Answered(slots) => facts(slots),
                Relevance::Repeated(slots) => format!("As I said: {}", facts(slots)),
                Relevance::NoPreference(_) => "No preference.".into(),
                Relevance::Irrelevant if open && self.persona == Persona::Terse => {
                    "What do you need to know?".into()
                }
                Relevance::Irrelevant if open => "That's all I can think of.".into(),
                Relevance::Irrelevant if self.manifest.interactive => "I don't know.".into(),
                Relevance::Irrelevant => "I don't know, that's why I'm asking you.".into(),
            };
            let kind = relevance.kind();
            let slots = match &relevance {
                Relevance::Answered(s) | Relevance::Repeated(s) => {
                    self.given.extend(s.iter().cloned());
                    matched_all.extend(s.iter().cloned());
                    s.clone()
                }
                Relevance::NoPreference(s) => {
                    // Recorded, so that scoring's replay finds the same slot.
                    matched_all.push(s.clone());
                    vec![s.clone()]
                }
                Relevance::Irrelevant => vec![],
            };
            *match kind {
                PartKind::Answered => &mut self.stats.answered,
                PartKind::Repeated => &mut self.stats.repeated,
                PartKind::NoPreference => &mut self.stats.no_preference,
                PartKind::Irrelevant => &mut self.stats.irrelevant,
            } += 1;
            self.stats.effort += self.patience.cost(kind);
            if !replies.contains(&text) {
                replies.push(text);
            }
            self.last_parts.push(UserPart {
                text: part,
                kind,
                slots,
            });
            // The terse user gives one fact a turn: the rest of the question goes unheard.
            if self.persona == Persona::Terse && kind == PartKind::Answered {
                break;
            }
        }
        if replies.is_empty() {
            replies.push("Okay.".into());
        }
        matched_all.dedup();
        self.last_matched = Some(matched_all);
        if self.stats.effort > self.patience.wasted {
            return UserReply::GaveUp(GIVE_UP.into());
        }
        UserReply::Answer(replies.join(" "))
    }
}

#[async_trait]
impl UserChannel for SimulatedUser {
    async fn ask(&mut self, question: &str) -> Result<UserReply, UserError> {
        let pending = self.needs_embedding(question);
        let embedded = match (&self.semantic, pending.is_empty()) {
            (Some(s), false) => {
                let (s, texts) = (Arc::clone(s), pending.clone());
                tokio::task::spawn_blocking(move || s.matches(&texts))
                    .await
                    .map_err(|e| UserError::Failed(e.to_string()))??
            }
            _ => vec![],
        };
        Ok(self.reply_with(question, &pending, embedded))
    }

    fn matched_slots(&self) -> Option<Vec<String>> {
        self.last_matched.clone()
    }

    fn last_parts(&self) -> Vec<UserPart> {
        self.last_parts.clone()
    }
}

/// A user played by a language model from the task's profile, for a less literal partner.
///
/// Its model calls are not the strategy's: it hands them to the run context
/// ([`UserChannel::take_model_calls`]), which traces them as the user's, and it spends
/// its own token budget ([`ModelUser::MAX_TOKENS`]), never the strategy's.
pub struct ModelUser {
    model: Arc<dyn LanguageModel>,
    task: Task,
    patience: Patience,
    history: Vec<Message>,
    turns: u32,
    tokens_used: u64,
    calls: Vec<(ChatRequest, ladder_core::ChatResponse)>,
}

impl ModelUser {
    pub fn new(model: Arc<dyn LanguageModel>, task: Task, patience: Patience) -> Self {
        let facts: Vec<String> = task
            .profile
            .iter()
            .map(|f| format!("- {}", say(f)))
            .collect();
        let system = format!(
            "You are a customer talking to an assistant. You opened with: \"{}\"\n\
             What you know about yourself:\n{}\n\
             Answer the assistant's question in one short sentence, using only these facts. \
             Do not mention facts you were not asked about. If the question is about something \
             not listed, say \"No preference.\"",
            task.opening,
            if facts.is_empty() {
                "- nothing beyond your question".to_string()
            } else {
                facts.join("\n")
            },
        );
        ModelUser {
            model,
            task,
            patience,
            history: vec![Message::system(system)],
            turns: 0,
            tokens_used: 0,
            calls: Vec::new(),
        }
    }

    /// Tokens (prompt plus completion) the model playing the user may spend in one run.
    pub const MAX_TOKENS: u64 = 20_000;

    pub fn task(&self) -> &Task {
        &self.task
    }

    /// Who this user is, for the trace header.
    pub fn settings(&self) -> serde_json::Value {
        serde_json::json!({
            "kind": "model",
            "model": self.model.info().to_string(),
            "max_turns": self.patience.max_turns,
            "max_tokens": Self::MAX_TOKENS,
        })
    }
}

#[async_trait]
impl UserChannel for ModelUser {
    async fn ask(&mut self, question: &str) -> Result<UserReply, UserError> {
        if self.turns >= self.patience.max_turns {
            return Ok(UserReply::GaveUp(GIVE_UP.into()));
        }
        if self.tokens_used >= Self::MAX_TOKENS {
            return Err(UserError::Failed(format!(
                "the model playing the user has spent its budget of {} tokens",
                Self::MAX_TOKENS
            )));
        }
        self.turns += 1;
        self.history.push(Message::user(question));
        let mut request = ChatRequest::new(self.history.clone());
        request.sampling.max_tokens = 60;
        request.sampling.seed = self.turns;
        let response =
            self.model.chat(&request, None).await.map_err(|e| {
                UserError::Failed(format!("the model playing the user failed: {e}"))
            })?;
        self.tokens_used += response.usage.prompt_tokens + response.usage.completion_tokens;
        let text = response.text.trim().to_string();
        self.history.push(Message::assistant(text.clone()));
        self.calls.push((request, response));
        Ok(UserReply::Answer(text))
    }

    fn take_model_calls(&mut self) -> Vec<(ChatRequest, ladder_core::ChatResponse)> {
        std::mem::take(&mut self.calls)
    }
}
