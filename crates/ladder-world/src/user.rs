//! The simulated user: knows a task's hidden profile and answers only what it is asked.
//!
//! Invariants:
//! - Deterministic: the reply depends only on the task, the manifest, the questions so far
//!   and (when attached) the embedding model. A question matches a profile fact by its
//!   slot's keywords; failing that, by embedding similarity to the slot's form question
//!   above a threshold. The slots it matched are recorded in the trace
//!   ([`UserChannel::matched_slots`]) and scoring replays them with [`replay`], so the
//!   counts in a score always match what the user did.
//! - It never volunteers a hidden fact unasked; facts said in the opening (`stated`) are
//!   known to the strategy already, and asking for them again counts as a repeat.
//! - Past its patience (irrelevant plus repeated questions) or its turn limit, it gives up.

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use ladder_core::{
    cosine, ChatRequest, Embedder, LanguageModel, Message, ProfileFact, Task, UserChannel,
    UserError, UserReply,
};

use crate::suite::Manifest;

/// How patient the user is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Patience {
    /// Irrelevant plus repeated questions tolerated; one more and the user gives up.
    pub wasted: u32,
    /// Questions answered at most; one more and the user gives up.
    pub max_turns: u32,
}

impl Default for Patience {
    fn default() -> Self {
        Patience {
            wasted: 3,
            max_turns: 8,
        }
    }
}

/// What a question was, for this user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Relevance {
    /// Asked for these profile slots, at least one of them new.
    Answered(Vec<String>),
    /// Asked only for slots already given or stated in the opening.
    Repeated(Vec<String>),
    /// About a slot the suite knows but this user has no preference on.
    NoPreference(String),
    /// About nothing this user knows.
    Irrelevant,
}

impl Relevance {
    pub fn is_wasted(&self) -> bool {
        !matches!(self, Relevance::Answered(_))
    }
}

pub const GIVE_UP: &str = "Never mind, this is taking too long.";

/// Default cosine similarity above which a question counts as asking for a slot. Measured
/// with all-MiniLM-L6-v2 on seaside paraphrases: questions that ask for a slot in other
/// words scored 0.46-0.58 against it; unrelated questions, and the wrong slots, at most 0.42.
pub const SIMILARITY_THRESHOLD: f32 = 0.45;

fn words(text: &str) -> String {
    let lowered: String = text
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' {
                c
            } else {
                ' '
            }
        })
        .collect();
    format!(
        " {} ",
        lowered.split_whitespace().collect::<Vec<_>>().join(" ")
    )
}

fn hits(keywords: &[String], question: &str) -> usize {
    keywords
        .iter()
        .filter(|k| question.contains(&format!(" {} ", k.to_lowercase())))
        .count()
}

/// The profile slots whose keywords appear in the question.
pub fn keyword_matches(manifest: &Manifest, task: &Task, question: &str) -> Vec<String> {
    if !manifest.interactive {
        return vec![];
    }
    let q = words(question);
    task.profile
        .iter()
        .filter(|f| {
            manifest
                .slot(&f.slot)
                .is_some_and(|s| hits(&s.keywords, &q) > 0)
        })
        .map(|f| f.slot.clone())
        .collect()
}

/// Which of the user's facts a question asks for (by keywords), given the slots already given.
pub fn classify(
    manifest: &Manifest,
    task: &Task,
    question: &str,
    given: &BTreeSet<String>,
) -> Relevance {
    relevance(
        manifest,
        task,
        question,
        &keyword_matches(manifest, task, question),
        given,
    )
}

/// The relevance of a question that matched the profile slots `matched`.
pub fn relevance(
    manifest: &Manifest,
    task: &Task,
    question: &str,
    matched: &[String],
    given: &BTreeSet<String>,
) -> Relevance {
    if !manifest.interactive {
        return Relevance::Irrelevant;
    }
    if matched.is_empty() {
        let q = words(question);
        return match manifest
            .slots()
            .into_iter()
            .find(|s| hits(&s.keywords, &q) > 0)
        {
            Some(s) => Relevance::NoPreference(s.name.clone()),
            None => Relevance::Irrelevant,
        };
    }
    let already = |slot: &String| {
        given.contains(slot) || task.profile.iter().any(|f| &f.slot == slot && f.stated)
    };
    if matched.iter().all(already) {
        Relevance::Repeated(matched.to_vec())
    } else {
        Relevance::Answered(matched.to_vec())
    }
}

/// Slots whose facts the user has given (stated in the opening or answered) by the end of
/// these questions, and the relevance of each. Each question comes with the slots the user
/// recorded as matched, when it recorded them; otherwise its keywords decide.
pub fn replay(
    manifest: &Manifest,
    task: &Task,
    questions: &[(&str, Option<&[String]>)],
) -> (BTreeSet<String>, Vec<Relevance>) {
    let mut given: BTreeSet<String> = task
        .profile
        .iter()
        .filter(|f| f.stated)
        .map(|f| f.slot.clone())
        .collect();
    let mut out = Vec::new();
    for (q, recorded) in questions {
        let r = match recorded {
            Some(slots) => relevance(manifest, task, q, slots, &given),
            None => classify(manifest, task, q, &given),
        };
        if let Relevance::Answered(slots) | Relevance::Repeated(slots) = &r {
            given.extend(slots.iter().cloned());
        }
        out.push(r);
    }
    (given, out)
}

fn say(f: &ProfileFact) -> String {
    f.say.clone().unwrap_or_else(|| f.value.clone())
}

/// Counts of what happened in a conversation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UserStats {
    pub turns: u32,
    pub irrelevant: u32,
    pub repeated: u32,
}

/// Embedding matching: the embedder and a vector per profile slot (its form question and
/// keywords together).
struct Semantic {
    embedder: Arc<dyn Embedder>,
    slots: Vec<(String, Vec<f32>)>,
    threshold: f32,
}

impl Semantic {
    /// Profile slots whose form question is similar enough to `question`, best first.
    fn matches(&self, question: &str) -> Result<Vec<String>, UserError> {
        let v = self.embedder.embed(&[question.to_string()]).map_err(|e| {
            UserError::Failed(format!("the simulated user cannot embed the question: {e}"))
        })?;
        let Some(q) = v.first() else {
            return Ok(vec![]);
        };
        let mut scored: Vec<(f32, &String)> = self
            .slots
            .iter()
            .map(|(s, v)| (cosine(q, v), s))
            .filter(|(c, _)| *c >= self.threshold)
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0));
        Ok(scored.into_iter().map(|(_, s)| s.clone()).collect())
    }
}

/// The deterministic simulated user.
pub struct SimulatedUser {
    manifest: Arc<Manifest>,
    task: Task,
    patience: Patience,
    given: BTreeSet<String>,
    semantic: Option<Arc<Semantic>>,
    last_matched: Option<Vec<String>>,
    pub stats: UserStats,
}

impl SimulatedUser {
    /// A user that matches questions by keywords only.
    pub fn new(manifest: Arc<Manifest>, task: Task, patience: Patience) -> Self {
        let given = task
            .profile
            .iter()
            .filter(|f| f.stated)
            .map(|f| f.slot.clone())
            .collect();
        SimulatedUser {
            manifest,
            task,
            patience,
            given,
            semantic: None,
            last_matched: None,
            stats: UserStats::default(),
        }
    }

    /// Also match by embedding similarity (cosine at least `threshold`) between a question
    /// and each profile slot's form question with its keywords. Embeds the slots now
    /// (blocking).
    pub fn with_embedder(
        mut self,
        embedder: Arc<dyn Embedder>,
        threshold: f32,
    ) -> Result<Self, UserError> {
        let slots: Vec<(String, String)> = self
            .task
            .profile
            .iter()
            .filter_map(|f| {
                self.manifest.slot(&f.slot).map(|s| {
                    (
                        f.slot.clone(),
                        format!("{} {}", s.question, s.keywords.join(" ")),
                    )
                })
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
            "patience": self.patience,
            "similarity_threshold": self.semantic.as_ref().map(|s| s.threshold),
        })
    }

    /// The reply to one question. With an embedder attached this embeds the question when
    /// no keyword matches (blocking); [`UserChannel::ask`] does that off the async threads.
    pub fn reply(&mut self, question: &str) -> UserReply {
        let semantic = self
            .semantic_for(question)
            .and_then(|s| s.matches(question).ok());
        self.reply_with(question, semantic)
    }

    /// The embedding matcher, when one is attached and keywords found nothing.
    fn semantic_for(&self, question: &str) -> Option<Arc<Semantic>> {
        if !self.manifest.interactive
            || !keyword_matches(&self.manifest, &self.task, question).is_empty()
        {
            None
        } else {
            self.semantic.clone()
        }
    }

    fn reply_with(&mut self, question: &str, semantic: Option<Vec<String>>) -> UserReply {
        if self.stats.turns >= self.patience.max_turns {
            self.last_matched = Some(vec![]);
            return UserReply::GaveUp(GIVE_UP.into());
        }
        self.stats.turns += 1;
        let mut matched = keyword_matches(&self.manifest, &self.task, question);
        if matched.is_empty() {
            // The single best slot above the threshold: one question, one fact.
            matched = semantic.unwrap_or_default().into_iter().take(1).collect();
        }
        self.last_matched = Some(matched.clone());
        let relevance = relevance(&self.manifest, &self.task, question, &matched, &self.given);
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
            Relevance::Repeated(slots) => {
                self.stats.repeated += 1;
                format!("As I said: {}", facts(slots))
            }
            Relevance::NoPreference(_) => {
                self.stats.irrelevant += 1;
                "No preference.".into()
            }
            Relevance::Irrelevant => {
                self.stats.irrelevant += 1;
                if self.manifest.interactive {
                    "I don't know.".into()
                } else {
                    "I don't know, that's why I'm asking you.".into()
                }
            }
        };
        if let Relevance::Answered(slots) | Relevance::Repeated(slots) = &relevance {
            self.given.extend(slots.iter().cloned());
        }
        if self.stats.irrelevant + self.stats.repeated > self.patience.wasted {
            return UserReply::GaveUp(GIVE_UP.into());
        }
        UserReply::Answer(text)
    }
}

#[async_trait]
impl UserChannel for SimulatedUser {
    async fn ask(&mut self, question: &str) -> Result<UserReply, UserError> {
        let semantic = match self.semantic_for(question) {
            Some(s) => {
                let q = question.to_string();
                let found = tokio::task::spawn_blocking(move || s.matches(&q))
                    .await
                    .map_err(|e| UserError::Failed(e.to_string()))??;
                Some(found)
            }
            None => None,
        };
        Ok(self.reply_with(question, semantic))
    }

    fn matched_slots(&self) -> Option<Vec<String>> {
        self.last_matched.clone()
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
