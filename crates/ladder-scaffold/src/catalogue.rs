//! The team's catalogue: how the form's slots map onto the knowledge base's typed
//! attributes (a pipeline file's `[catalogue]` table), and the ranking of the knowledge
//! base's documents by what the user said.
//!
//! A team that puts a slot-filling form in front of a typed catalogue wires each slot to
//! an attribute ("days" -> `min_days`, at most) and filters and ranks the catalogue with
//! the answers. This is that wiring, written by the team (the suite's pipeline.toml), never
//! read from the judge's checks.
//!
//! Invariants:
//! - Pure: hits, slots and rules in, candidates out; no I/O, no model, no state.
//! - A rule gives a verdict only when its slot holds a value (not "no preference") and the
//!   document has the attribute; otherwise it says nothing, and the document neither fits
//!   nor breaks it. An `equals` value breaks only when it names another value the
//!   catalogue's documents have ("lively" against "quiet"); a reply that names none ("I'd
//!   rather stay in Norland" for `scope`) says nothing.
//! - An attribute path may name another slot in braces (`hours_from.{home_city}`): the
//!   key is the table's key that the slot's value mentions.
//! - Candidates are ranked by the wishes they break (fewest first), then by those they
//!   fit (most first), then by their best hit's score; ties keep the hits' order.

use std::collections::BTreeMap;

use ladder_core::Hit;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::text::{first_number, negated, no_preference};

/// How a slot's value is compared with an attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleKind {
    /// The attribute (a text) is what the value names.
    Equals,
    /// The attribute (a list) holds an item the value names.
    Contains,
    /// The attribute (a number) is at most the value's number.
    AtMost,
    /// The attribute (a number) is at least the value's number.
    AtLeast,
    /// The attribute's level on `scale` is at most the level the value names.
    ScaleAtMost,
}

/// One slot wired to one attribute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub slot: String,
    /// The attribute's name; a dotted path for a table (`hours_from.{home_city}`).
    pub attribute: String,
    pub rule: RuleKind,
    /// The levels, lowest first, for `scale_at_most`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scale: Vec<String>,
}

/// The catalogue's wiring: empty when the team has no typed catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalogue {
    /// How many chunks a catalogue search reads (enough to see every document).
    #[serde(default = "default_pool")]
    pub pool: usize,
    #[serde(default)]
    pub rules: Vec<Rule>,
}

fn default_pool() -> usize {
    256
}

impl Catalogue {
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Refuse rules that cannot work (the message names the rule).
    pub fn check(&self) -> Result<(), String> {
        for r in &self.rules {
            if r.rule == RuleKind::ScaleAtMost && r.scale.is_empty() {
                return Err(format!(
                    "catalogue rule for slot `{}`: `scale_at_most` needs a `scale` (its levels, lowest first)",
                    r.slot
                ));
            }
            if r.rule != RuleKind::ScaleAtMost && !r.scale.is_empty() {
                return Err(format!(
                    "catalogue rule for slot `{}`: `scale` is only for `scale_at_most`",
                    r.slot
                ));
            }
        }
        Ok(())
    }
}

/// A document of the knowledge base as the user's wishes rank it.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub document: String,
    pub title: String,
    /// Its best hit's score.
    pub score: f32,
    /// The slots whose values it fits, and those it breaks, in the rules' order.
    pub fits: Vec<String>,
    pub breaks: Vec<String>,
    /// Its attributes as a prompt shows them (`name: value`), tables resolved by the
    /// slots where a rule names them.
    pub shown: Vec<(String, String)>,
}

/// The value of `slot` among `slots`, unless the user does not mind.
fn value<'a>(slots: &'a [(String, String)], slot: &str) -> Option<&'a str> {
    slots
        .iter()
        .find(|(n, _)| n == slot)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.trim().is_empty() && !no_preference(v))
}

/// Whether `text` mentions `item` as whole words (case-insensitive).
fn mentions(text: &str, item: &str) -> bool {
    let words = |s: &str| -> Vec<String> {
        s.to_lowercase()
            .split(|c: char| !c.is_alphanumeric() && c != '-')
            .filter(|w| !w.is_empty())
            .map(str::to_string)
            .collect()
    };
    let t = words(text);
    let i = words(item);
    !i.is_empty() && t.windows(i.len()).any(|w| w == i.as_slice())
}

/// The attribute at `path` (dots into tables; `{slot}` resolved by the slot's value naming
/// one of the table's keys).
fn lookup<'a>(
    attributes: &'a BTreeMap<String, Value>,
    path: &str,
    slots: &[(String, String)],
) -> Option<(String, &'a Value)> {
    let mut parts = path.split('.');
    let first = parts.next()?;
    let mut at = attributes.get(first)?;
    let mut name = first.to_string();
    for part in parts {
        let table = at.as_object()?;
        let key = match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            Some(slot) => {
                let said = value(slots, slot)?;
                table.keys().find(|k| mentions(said, k))?.clone()
            }
            None => part.to_string(),
        };
        at = table.get(&key)?;
        name = format!("{name} {key}");
    }
    Some((name.replace('_', " "), at))
}

/// A rule's verdict on one document's attributes: `Some(true)` fits, `Some(false)`
/// breaks, `None` when the rule cannot tell (no value, no attribute).
///
/// `known` are the values the attribute takes among the documents ranked (for `equals`).
pub fn verdict(
    rule: &Rule,
    attributes: &BTreeMap<String, Value>,
    slots: &[(String, String)],
    known: &[String],
) -> Option<bool> {
    let said = value(slots, &rule.slot)?;
    let (_, attr) = lookup(attributes, &rule.attribute, slots)?;
    match rule.rule {
        RuleKind::Equals => {
            let a = attr.as_str()?;
            if negated(said) {
                return None;
            }
            if mentions(said, a) {
                Some(true)
            } else if known.iter().any(|k| k != a && mentions(said, k)) {
                Some(false)
            } else {
                None
            }
        }
        RuleKind::Contains => {
            let items = attr.as_array()?;
            Some(
                items
                    .iter()
                    .filter_map(Value::as_str)
                    .any(|i| mentions(said, i)),
            )
        }
        RuleKind::AtMost => Some(attr.as_f64()? <= first_number(said)?),
        RuleKind::AtLeast => Some(attr.as_f64()? >= first_number(said)?),
        RuleKind::ScaleAtMost => {
            let level = |s: &str| rule.scale.iter().position(|l| l.eq_ignore_ascii_case(s));
            let wanted = rule.scale.iter().rposition(|l| mentions(said, l))?;
            Some(level(attr.as_str()?)? <= wanted)
        }
    }
}

/// A value as a prompt shows it.
fn show(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Array(items) => Some(items.iter().filter_map(show).collect::<Vec<_>>().join(", ")),
        // Tables are shown only where a rule resolves them.
        Value::Object(_) | Value::Null => None,
    }
}

/// The documents of `hits` ranked by `slots` under `catalogue`'s rules, best first.
pub fn rank(hits: &[Hit], slots: &[(String, String)], catalogue: &Catalogue) -> Vec<Candidate> {
    // The values each `equals` attribute takes among the documents.
    let known: Vec<Vec<String>> = catalogue
        .rules
        .iter()
        .map(|r| {
            let mut values: Vec<String> = Vec::new();
            if r.rule == RuleKind::Equals {
                for h in hits {
                    if let Some((_, Value::String(s))) = lookup(&h.attributes, &r.attribute, slots)
                    {
                        if !values.contains(s) {
                            values.push(s.clone());
                        }
                    }
                }
            }
            values
        })
        .collect();
    let mut out: Vec<Candidate> = Vec::new();
    for h in hits {
        if out.iter().any(|c| c.document == h.document) {
            continue;
        }
        let mut fits = Vec::new();
        let mut breaks = Vec::new();
        for (r, known) in catalogue.rules.iter().zip(&known) {
            let list = match verdict(r, &h.attributes, slots, known) {
                Some(true) => &mut fits,
                Some(false) => &mut breaks,
                None => continue,
            };
            if !list.contains(&r.slot) {
                list.push(r.slot.clone());
            }
        }
        // A slot with two rules (a stay between `min_days` and `max_days`) fits only when
        // it breaks neither.
        fits.retain(|s| !breaks.contains(s));
        let mut shown: Vec<(String, String)> = h
            .attributes
            .iter()
            .filter_map(|(k, v)| show(v).map(|s| (k.replace('_', " "), s)))
            .collect();
        for r in &catalogue.rules {
            if r.attribute.contains('.') {
                if let Some((name, v)) = lookup(&h.attributes, &r.attribute, slots) {
                    if let Some(s) = show(v) {
                        shown.push((name, s));
                    }
                }
            }
        }
        out.push(Candidate {
            document: h.document.clone(),
            title: if h.title.is_empty() {
                h.document.clone()
            } else {
                h.title.clone()
            },
            score: h.score,
            fits,
            breaks,
            shown,
        });
    }
    // Stable: equal candidates keep the hits' (score) order.
    out.sort_by(|a, b| {
        a.breaks
            .len()
            .cmp(&b.breaks.len())
            .then(b.fits.len().cmp(&a.fits.len()))
    });
    out
}

/// How many candidates break none of the user's wishes.
pub fn fitting(candidates: &[Candidate]) -> usize {
    candidates.iter().filter(|c| c.breaks.is_empty()).count()
}

/// Candidates as a prompt shows them: one line each, with the wishes each fits and breaks.
pub fn candidates_text(candidates: &[Candidate]) -> String {
    candidates
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let attrs: Vec<String> = c.shown.iter().map(|(k, v)| format!("{k}: {v}")).collect();
            let mut line = format!("{}. {} ({})", i + 1, c.title, attrs.join("; "));
            if !c.fits.is_empty() {
                line.push_str(&format!(" Fits the user's {}.", c.fits.join(", ")));
            }
            if !c.breaks.is_empty() {
                line.push_str(&format!(
                    " Does NOT fit the user's {}.",
                    c.breaks.join(", ")
                ));
            }
            line
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(doc: &str, score: f32, attributes: Value) -> Hit {
        Hit {
            id: format!("{doc}#0"),
            score,
            document: doc.into(),
            title: doc.to_uppercase(),
            heading: String::new(),
            text: String::new(),
            attributes: attributes
                .as_object()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .collect(),
        }
    }

    fn rules() -> Catalogue {
        let text = r#"
            rules = [
                { slot = "mood", attribute = "mood", rule = "equals" },
                { slot = "days", attribute = "min_days", rule = "at_most" },
                { slot = "activity", attribute = "activities", rule = "contains" },
                { slot = "budget", attribute = "price", rule = "scale_at_most", scale = ["budget", "moderate", "expensive"] },
                { slot = "hours", attribute = "hours_from.{home}", rule = "at_most" },
            ]
        "#;
        toml::from_str(text).expect("the test's catalogue parses")
    }

    fn slots(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn each_rule_fits_breaks_or_says_nothing() {
        let c = rules();
        let attrs = hit(
            "a",
            1.0,
            serde_json::json!({"mood": "quiet", "min_days": 3, "activities": ["surfing", "wine tasting"],
                "price": "moderate", "hours_from": {"Ostby": 5, "Wenlow": 9}}),
        )
        .attributes;
        let v = |slot: &str, said: &str, extra: &[(&str, &str)]| {
            let mut s = slots(&[(slot, said)]);
            s.extend(slots(extra));
            let rule = c.rules.iter().find(|r| r.slot == slot).expect("rule");
            verdict(
                rule,
                &attrs,
                &s,
                &["quiet".to_string(), "lively".to_string()],
            )
        };
        assert_eq!(v("mood", "quiet", &[]), Some(true));
        assert_eq!(v("mood", "Somewhere lively, please.", &[]), Some(false));
        // A reply that names no value of the catalogue says nothing, and a negated one
        // cannot be read by words alone.
        assert_eq!(v("mood", "Somewhere with a nice feel to it.", &[]), None);
        assert_eq!(v("mood", "Not too quiet.", &[]), None);
        assert_eq!(v("mood", "no preference", &[]), None);
        assert_eq!(v("days", "I have 4 days.", &[]), Some(true));
        assert_eq!(v("days", "2", &[]), Some(false));
        assert_eq!(
            v("activity", "I must be able to go wine tasting.", &[]),
            Some(true)
        );
        assert_eq!(v("activity", "snorkelling", &[]), Some(false));
        assert_eq!(v("budget", "expensive is fine", &[]), Some(true));
        assert_eq!(v("budget", "budget", &[]), Some(false));
        assert_eq!(
            v(
                "hours",
                "No more than 6 hours.",
                &[("home", "I live in Ostby.")]
            ),
            Some(true)
        );
        assert_eq!(
            v("hours", "No more than 6 hours.", &[("home", "Wenlow")]),
            Some(false)
        );
        // The table's key is unknown until the other slot is filled.
        assert_eq!(v("hours", "No more than 6 hours.", &[]), None);
    }

    #[test]
    fn candidates_rank_by_wishes_broken_then_fitted_then_score() {
        let c = rules();
        let hits = vec![
            hit(
                "lively",
                0.9,
                serde_json::json!({"mood": "lively", "min_days": 2}),
            ),
            hit(
                "quiet-long",
                0.8,
                serde_json::json!({"mood": "quiet", "min_days": 6}),
            ),
            hit(
                "quiet",
                0.7,
                serde_json::json!({"mood": "quiet", "min_days": 2}),
            ),
            hit(
                "quiet",
                0.6,
                serde_json::json!({"mood": "quiet", "min_days": 2}),
            ),
            hit("bare", 0.5, serde_json::json!({})),
        ];
        let ranked = rank(&hits, &slots(&[("mood", "quiet"), ("days", "3")]), &c);
        let order: Vec<&str> = ranked.iter().map(|c| c.document.as_str()).collect();
        assert_eq!(order, ["quiet", "bare", "lively", "quiet-long"]);
        assert_eq!(ranked[0].fits, ["mood", "days"]);
        assert_eq!(fitting(&ranked), 2);
        let text = candidates_text(&ranked[..1]);
        assert!(
            text.starts_with("1. QUIET (min days: 2; mood: quiet)"),
            "{text}"
        );
        assert!(text.contains("Fits the user's mood, days."), "{text}");
    }

    #[test]
    fn a_scale_rule_without_its_scale_is_refused() {
        let c: Catalogue = toml::from_str(
            r#"rules = [{ slot = "budget", attribute = "price", rule = "scale_at_most" }]"#,
        )
        .expect("parses");
        assert!(c.check().unwrap_err().contains("needs a `scale`"));
    }
}
