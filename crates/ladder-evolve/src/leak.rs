//! The split never leaks: what of the held-out tasks (the test split, the transfer suite)
//! a playbook may not contain.
//!
//! A secret is a held-out task's id, its opening, a value or sentence of its hidden profile,
//! or a name its judge expects (`recommend_any`, `must_mention`, `must_not_recommend`),
//! unless the same text is public: one of the dev tasks' (which the reflector reads), or a
//! text every assistant of the suite is given (the form's options and questions, the
//! brief), or a number of one or two digits. A month or "quiet" that dev tasks or the form
//! share with test tasks is not information from the test split; a test task's home city
//! or expected destination that no dev task has is.
//!
//! Invariants: pure; matching is on whole words after the world's one normaliser with
//! hyphens read as spaces, so "Gullby Cove" is found in "try gullby-cove." but "May" is not
//! found in "mayor".

use std::collections::BTreeSet;

use ladder_core::Task;
use ladder_world::text::{normalise, Keep};

/// The held-out texts a playbook may not contain, each with what it is.
#[derive(Debug, Clone, Default)]
pub struct Secrets {
    items: Vec<(String, String)>,
}

/// Words only, lowercased, one space between them, hyphens as spaces (no padding:
/// [`Secrets::find`] pads).
fn norm(s: &str) -> String {
    normalise(&s.replace('-', " "), Keep::Hyphens)
        .trim()
        .to_string()
}

/// Every text of a task a leak could carry, with its description.
fn texts(task: &Task) -> Vec<(String, String)> {
    let mut out = vec![
        (task.id.clone(), format!("the id of task {}", task.id)),
        (
            task.opening.clone(),
            format!("the opening of task {}", task.id),
        ),
    ];
    for f in &task.profile {
        out.push((
            f.value.clone(),
            format!("task {}'s {} ({:?})", task.id, f.slot, f.value),
        ));
        if let Some(say) = &f.say {
            out.push((
                say.clone(),
                format!("task {}'s hidden sentence {say:?}", task.id),
            ));
        }
    }
    let e = &task.expect;
    for name in e
        .recommend_any
        .iter()
        .chain(&e.must_mention)
        .chain(&e.must_not_recommend)
    {
        out.push((
            name.clone(),
            format!("task {}'s expected answer {name:?}", task.id),
        ));
    }
    out
}

impl Secrets {
    /// The secrets of `held_out`, less every text the `seen` tasks have too and every
    /// `public` text.
    pub fn new<'a>(
        held_out: impl IntoIterator<Item = &'a Task>,
        seen: impl IntoIterator<Item = &'a Task>,
        public: &[String],
    ) -> Secrets {
        let public: BTreeSet<String> = seen
            .into_iter()
            .flat_map(texts)
            .map(|(t, _)| norm(&t))
            .chain(public.iter().map(|t| norm(t)))
            .collect();
        let small_number = |t: &str| t.len() <= 2 && t.chars().all(|c| c.is_ascii_digit());
        let mut items: Vec<(String, String)> = held_out
            .into_iter()
            .flat_map(texts)
            .map(|(t, what)| (norm(&t), what))
            .filter(|(t, _)| !t.is_empty() && !small_number(t) && !public.contains(t))
            .collect();
        items.sort();
        items.dedup_by(|a, b| a.0 == b.0);
        Secrets { items }
    }

    /// What of the held-out tasks `text` contains, if anything.
    pub fn find(&self, text: &str) -> Option<String> {
        let hay = format!(" {} ", norm(text));
        self.items
            .iter()
            .find(|(t, _)| hay.contains(&format!(" {t} ")))
            .map(|(_, what)| format!("it contains {what}, which is held out"))
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(id: &str, opening: &str, values: &[(&str, &str)], expect: &[&str]) -> Task {
        let mut t: Task = serde_json::from_value(serde_json::json!({"id": id, "opening": opening}))
            .expect("a task");
        t.profile = values
            .iter()
            .map(|(slot, v)| {
                serde_json::from_value(serde_json::json!({"slot": slot, "value": v}))
                    .expect("a fact")
            })
            .collect();
        t.expect.recommend_any = expect.iter().map(|s| s.to_string()).collect();
        t
    }

    #[test]
    fn held_out_texts_are_found_and_shared_ones_are_not() {
        let dev = task(
            "sea-001",
            "I want to see the sea.",
            &[("scope", "domestic"), ("month", "May")],
            &["Gullton Bay"],
        );
        let test = task(
            "sea-006",
            "Find me a quiet beach for my holiday.",
            &[
                ("scope", "domestic"),
                ("home_city", "Tarnfield"),
                ("month", "May"),
                ("mood", "quiet"),
                ("days", "7"),
            ],
            &["Gullby Cove", "Gullton Bay"],
        );
        let s = Secrets::new(
            [&test],
            [&dev],
            &["Lively or quiet?".into(), "quiet".into()],
        );
        for leak in [
            "Recommend Gullby Cove to divers.",
            "Users from tarnfield want short trips.",
            "Tarnfield-based users want short trips.",
            "Like sea-006, ask first.",
            "When told 'find me a quiet beach for my holiday', ask.",
        ] {
            assert!(s.find(leak).is_some(), "{leak:?} leaks");
        }
        for fine in [
            "Ask whether the trip is domestic.",
            "Gullton Bay is often right.",
            "The mayor said so.",
            "Ask which month, e.g. May.",
            "Ask whether they want it quiet.",
            "Ask at most 7 questions.",
        ] {
            assert_eq!(s.find(fine), None, "{fine:?} does not leak");
        }
    }
}
