//! How often the judge and the simulated user agree with a person: crafted tables
//! (`fixtures/agreement/judge.toml`, `fixtures/agreement/user.toml`), each case with the
//! verdict or reply class a person wrote down before the judge or the user was run on it.
//!
//! Invariants:
//! - Pure: an agreement is a function of the cases, the suites and (for the user) the
//!   users made for them; nothing here changes a case to fit what the judge says.
//! - Every case names a task of a loaded suite, or loading the table fails and names the
//!   case; a figure is never computed over the cases that happened to load.

use std::collections::BTreeMap;
use std::path::Path;

use ladder_core::{Outcome, PartKind, Task, UserChannel as _};
use serde::Deserialize;

use crate::suite::Suite;
use crate::user::SimulatedUser;

#[derive(Debug, thiserror::Error)]
pub enum AgreementError {
    #[error("cannot read {path}: {cause}")]
    Io { path: String, cause: std::io::Error },
    #[error("{path}: {message}")]
    Malformed { path: String, message: String },
}

/// One crafted answer and a person's verdict on it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JudgeCase {
    pub id: String,
    pub suite: String,
    pub task: String,
    /// What kind of reading it tests (contrast, negated-fact, ...).
    pub class: String,
    pub answer: String,
    #[serde(default)]
    pub picks: Vec<String>,
    /// Does the answer solve the task, as a person reads it?
    pub success: bool,
    pub why: String,
}

/// One question and the reply a person with the task's profile gives.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserCase {
    pub id: String,
    pub suite: String,
    pub task: String,
    /// Earlier questions of the same conversation, in order.
    #[serde(default)]
    pub asked: Vec<String>,
    pub question: String,
    /// The class of the reply's main part.
    pub expect: ReplyClass,
    /// The profile slots a person's reply gives (or, for a repeat, asks again).
    #[serde(default)]
    pub slots: Vec<String>,
    pub why: String,
}

/// A reply's class, as the table writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplyClass {
    Answer,
    NoPreference,
    Irrelevant,
    Repeated,
}

impl ReplyClass {
    fn of(kind: PartKind) -> Self {
        match kind {
            PartKind::Answered => ReplyClass::Answer,
            PartKind::NoPreference => ReplyClass::NoPreference,
            PartKind::Irrelevant => ReplyClass::Irrelevant,
            PartKind::Repeated => ReplyClass::Repeated,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Table<T> {
    case: Vec<T>,
}

/// How often a judge or user agrees with a person, overall and per class.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Agreement {
    pub cases: usize,
    pub agreed: usize,
    /// Per class: (agreed, cases).
    pub by_class: BTreeMap<String, (usize, usize)>,
    /// One line per case where they differ: its id, what a person says, what was said.
    pub disagreements: Vec<String>,
}

impl Agreement {
    fn add(&mut self, class: &str, agreed: bool, disagreement: impl FnOnce() -> String) {
        self.cases += 1;
        let c = self.by_class.entry(class.to_string()).or_default();
        c.1 += 1;
        if agreed {
            self.agreed += 1;
            c.0 += 1;
        } else {
            self.disagreements.push(disagreement());
        }
    }

    /// The share of cases agreed on (1 for no cases).
    pub fn rate(&self) -> f64 {
        if self.cases == 0 {
            1.0
        } else {
            self.agreed as f64 / self.cases as f64
        }
    }

    /// The figure, each class's, and every disagreement, as a person reads them.
    pub fn render(&self, what: &str) -> String {
        let (low, high) = wilson(self.agreed, self.cases);
        let mut s = format!(
            "{what}: agrees with a person on {}/{} cases ({:.1}%, Wilson 95% {:.1}-{:.1}%)\n",
            self.agreed,
            self.cases,
            100.0 * self.rate(),
            100.0 * low,
            100.0 * high
        );
        for (class, (agreed, n)) in &self.by_class {
            s.push_str(&format!("  {class}: {agreed}/{n}\n"));
        }
        for d in &self.disagreements {
            s.push_str(&format!("  differs: {d}\n"));
        }
        s
    }
}

/// The Wilson 95% interval of `k` of `n`.
fn wilson(k: usize, n: usize) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let (n, p, z) = (n as f64, k as f64 / n as f64, 1.96_f64);
    let centre = (p + z * z / (2.0 * n)) / (1.0 + z * z / n);
    let half = z * ((p * (1.0 - p) + z * z / (4.0 * n)) / n).sqrt() / (1.0 + z * z / n);
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

fn read_table<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Vec<T>, AgreementError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|cause| AgreementError::Io {
        path: shown.clone(),
        cause,
    })?;
    let table: Table<T> = toml::from_str(&text).map_err(|e| AgreementError::Malformed {
        path: shown,
        message: e.to_string(),
    })?;
    Ok(table.case)
}

/// The task a case names, or an error naming the case.
fn task<'a>(
    suites: &'a BTreeMap<String, Suite>,
    path: &Path,
    id: &str,
    suite: &str,
    task: &str,
) -> Result<(&'a Suite, &'a Task), AgreementError> {
    let s = suites.get(suite).ok_or_else(|| AgreementError::Malformed {
        path: path.display().to_string(),
        message: format!("case {id}: no suite {suite:?} is loaded"),
    })?;
    let t = s.task(task).ok_or_else(|| AgreementError::Malformed {
        path: path.display().to_string(),
        message: format!("case {id}: suite {suite} has no task {task:?}"),
    })?;
    Ok((s, t))
}

/// The judge's agreement with the table at `path`: each answer scored with an empty trace
/// (no user turns, no searches), its success compared with the person's verdict.
pub fn judge(path: &Path, suites: &BTreeMap<String, Suite>) -> Result<Agreement, AgreementError> {
    let cases: Vec<JudgeCase> = read_table(path)?;
    let mut agreement = Agreement::default();
    for c in &cases {
        let (s, t) = task(suites, path, &c.id, &c.suite, &c.task)?;
        let outcome = Outcome::answered(c.answer.clone()).with_picks(c.picks.clone());
        let score = crate::score(s, t, &outcome, &[]);
        agreement.add(&c.class, score.success == c.success, || {
            format!(
                "{} ({}): a person says {}, the judge {} (recommended {:?}, rejected {:?}; failed: {})",
                c.id,
                c.why,
                verdict(c.success),
                verdict(score.success),
                score.recommended,
                score.rejected,
                score
                    .verdicts
                    .iter()
                    .filter(|v| !v.ok)
                    .map(|v| format!("{}: {}", v.what, v.detail))
                    .collect::<Vec<_>>()
                    .join("; ")
            )
        });
    }
    Ok(agreement)
}

fn verdict(success: bool) -> &'static str {
    if success {
        "success"
    } else {
        "failure"
    }
}

/// The simulated user's agreement with the table at `path`: a fresh user per case (from
/// `user`), asked the case's earlier questions and then its question; the reply's first
/// part's class compared with the person's, and (for an answer or a repeat) the slots it
/// gave or repeated with the person's.
pub async fn user(
    path: &Path,
    suites: &BTreeMap<String, Suite>,
    user: impl Fn(&Suite, &Task) -> SimulatedUser,
) -> Result<Agreement, AgreementError> {
    let cases: Vec<UserCase> = read_table(path)?;
    let mut agreement = Agreement::default();
    for c in &cases {
        let (s, t) = task(suites, path, &c.id, &c.suite, &c.task)?;
        let mut u = user(s, t);
        for q in &c.asked {
            let _ = u.ask(q).await;
        }
        let reply = u.ask(&c.question).await;
        let parts = u.last_parts();
        let got = parts.first().map(|p| ReplyClass::of(p.kind));
        let mut slots: Vec<String> = parts
            .iter()
            .filter(|p| matches!(p.kind, PartKind::Answered | PartKind::Repeated))
            .flat_map(|p| p.slots.clone())
            .collect();
        slots.sort();
        slots.dedup();
        let mut expected = c.slots.clone();
        expected.sort();
        let agreed =
            got == Some(c.expect) && (!matches!(c.expect, ReplyClass::Answer) || slots == expected);
        let class = format!("{}/{:?}", c.suite, c.expect).to_lowercase();
        agreement.add(&class, agreed, || {
            format!(
                "{} {:?}: a person {:?} {:?}, the user {:?} {:?} ({:?})",
                c.id,
                c.question,
                c.expect,
                expected,
                got,
                slots,
                reply
                    .as_ref()
                    .map(|r| r.text().to_string())
                    .unwrap_or_default()
            )
        });
    }
    Ok(agreement)
}
