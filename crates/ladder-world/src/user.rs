//! The simulated user: knows a task's hidden profile and answers only what it is asked.
//!
//! Invariants:
//! - Deterministic: the reply depends only on the task, the manifest and the questions so
//!   far. [`classify`] is a pure function, and scoring calls it again on a trace's
//!   questions, so the counts in a score always match what the user did.
//! - It never volunteers a hidden fact unasked; facts said in the opening (`stated`) are
//!   known to the strategy already, and asking for them again counts as a repeat.
//! - Past its patience (irrelevant plus repeated questions) or its turn limit, it gives up.

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use ladder_core::{
    ChatRequest, LanguageModel, Message, ProfileFact, Task, UserChannel, UserError, UserReply,
};

use crate::suite::Manifest;

/// How patient the user is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

/// Which of the user's facts a question asks for, given the slots already given.
pub fn classify(
    manifest: &Manifest,
    task: &Task,
    question: &str,
    given: &BTreeSet<String>,
) -> Relevance {
    let q = words(question);
    if !manifest.interactive {
        return Relevance::Irrelevant;
    }
    let matched: Vec<String> = task
        .profile
        .iter()
        .filter(|f| {
            manifest
                .slot(&f.slot)
                .is_some_and(|s| hits(&s.keywords, &q) > 0)
        })
        .map(|f| f.slot.clone())
        .collect();
    if matched.is_empty() {
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
        Relevance::Repeated(matched)
    } else {
        Relevance::Answered(matched)
    }
}

/// Slots whose facts the user has given (stated in the opening or answered) by the end
/// of these questions, and the relevance of each question.
pub fn replay(
    manifest: &Manifest,
    task: &Task,
    questions: &[&str],
) -> (BTreeSet<String>, Vec<Relevance>) {
    let mut given: BTreeSet<String> = task
        .profile
        .iter()
        .filter(|f| f.stated)
        .map(|f| f.slot.clone())
        .collect();
    let mut out = Vec::new();
    for q in questions {
        let r = classify(manifest, task, q, &given);
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

/// The deterministic simulated user.
pub struct SimulatedUser {
    manifest: Arc<Manifest>,
    task: Task,
    patience: Patience,
    given: BTreeSet<String>,
    pub stats: UserStats,
}

impl SimulatedUser {
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
            stats: UserStats::default(),
        }
    }

    /// The reply to one question (synchronous; [`UserChannel::ask`] wraps it).
    pub fn reply(&mut self, question: &str) -> UserReply {
        if self.stats.turns >= self.patience.max_turns {
            return UserReply::GaveUp(GIVE_UP.into());
        }
        self.stats.turns += 1;
        let relevance = classify(&self.manifest, &self.task, question, &self.given);
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
        Ok(self.reply(question))
    }
}

/// A user played by a language model from the task's profile, for a less literal partner.
pub struct ModelUser {
    model: Arc<dyn LanguageModel>,
    task: Task,
    patience: Patience,
    history: Vec<Message>,
    turns: u32,
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
        }
    }

    pub fn task(&self) -> &Task {
        &self.task
    }
}

#[async_trait]
impl UserChannel for ModelUser {
    async fn ask(&mut self, question: &str) -> Result<UserReply, UserError> {
        if self.turns >= self.patience.max_turns {
            return Ok(UserReply::GaveUp(GIVE_UP.into()));
        }
        self.turns += 1;
        self.history.push(Message::user(question));
        let mut request = ChatRequest::new(self.history.clone());
        request.sampling.max_tokens = 60;
        let response =
            self.model.chat(&request, None).await.map_err(|e| {
                UserError::Failed(format!("the model playing the user failed: {e}"))
            })?;
        let text = response.text.trim().to_string();
        self.history.push(Message::assistant(text.clone()));
        Ok(UserReply::Answer(text))
    }
}
