//! Which cached cells each prompt of a call starts from: a pure plan over the tokens a
//! session's sequences hold and the call's prompts, carried out by `parallel.rs` and
//! `prefix.rs`.
//!
//! Invariants:
//! - Every prompt gets its own sequence, and keeps at most all its tokens but one (the last
//!   is always evaluated: its logits start sampling).
//! - A prompt starts from the longest prefix any held sequence shares with it: in place
//!   when its own sequence holds it, else copied from the sequence that does (a copy shares
//!   the cells in one unified KV cache; nothing is evaluated).
//! - A sequence is copied from before it is overwritten; a copy that cannot be ordered so
//!   (two prompts each wanting the other's sequence) is dropped, and its prompt keeps only
//!   what its own sequence holds.
//! - When the prompts' common prefix is longer than anything the cache serves any of them,
//!   it is decoded once into every prompt's sequence (`shared`): the first prompt counts
//!   it as evaluated, the others as cached.
//! - Sequences the call does not use are left as they are.

/// Where each prompt of a call starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Plan {
    /// Each prompt's sequence.
    pub dests: Vec<usize>,
    /// Each prompt's tokens its sequence holds before its own rest is decoded (from the
    /// cache, or from `shared`).
    pub keeps: Vec<usize>,
    /// Cells to share before decoding, in order: (from sequence, to sequence, tokens). The
    /// `to` sequence is emptied first.
    pub copies: Vec<(usize, usize, usize)>,
    /// A prefix of every prompt decoded once into all their sequences (0: none).
    pub shared: usize,
    /// Each prompt's tokens served from the cache, not evaluated by this call.
    pub cached: Vec<usize>,
}

fn common<T: PartialEq>(a: &[T], b: &[T]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// Plan a call of `prompts` (each non-empty) on a cache whose sequences hold `held`
/// (`held.len()` sequences in all, at least `prompts.len()`).
pub(super) fn plan<T: PartialEq, P: AsRef<[T]>>(held: &[Vec<T>], prompts: &[P]) -> Plan {
    let prompts: Vec<&[T]> = prompts.iter().map(AsRef::as_ref).collect();
    let n = prompts.len();
    assert!(held.len() >= n, "a call needs a sequence per prompt");
    // What held sequence s can serve prompt r.
    let m: Vec<Vec<usize>> = prompts
        .iter()
        .map(|p| {
            held.iter()
                .map(|h| common(h, p).min(p.len().saturating_sub(1)))
                .collect()
        })
        .collect();
    // Destinations: greedily the pair that keeps most in place; among pairs that keep
    // nothing, an empty sequence first, then the shortest, so useful cells survive.
    // (tokens kept in place, the sequence is empty, fewer tokens held): the larger wins.
    type Key = (usize, bool, std::cmp::Reverse<usize>);
    let mut dests = vec![usize::MAX; n];
    let mut taken = vec![false; held.len()];
    for _ in 0..n {
        let mut best: Option<(Key, usize, usize)> = None;
        for (r, row) in m.iter().enumerate() {
            if dests[r] != usize::MAX {
                continue;
            }
            for (s, &k) in row.iter().enumerate() {
                if taken[s] {
                    continue;
                }
                let key = (k, held[s].is_empty(), std::cmp::Reverse(held[s].len()));
                if best.as_ref().is_none_or(|(b, _, _)| key > *b) {
                    best = Some((key, r, s));
                }
            }
        }
        let (_, r, s) = best.expect("a free sequence for every prompt");
        dests[r] = s;
        taken[s] = true;
    }
    let mut keeps: Vec<usize> = (0..n).map(|r| m[r][dests[r]]).collect();
    // The common prefix of all prompts, when it beats what the cache serves any of them.
    let shared = if n > 1 {
        let c = prompts
            .iter()
            .skip(1)
            .map(|p| common(prompts[0], p))
            .chain(prompts.iter().map(|p| p.len() - 1))
            .min()
            .unwrap_or(0);
        let served = (0..n).map(|r| *m[r].iter().max().unwrap_or(&0)).max();
        if served.is_some_and(|s| c > s) {
            c
        } else {
            0
        }
    } else {
        0
    };
    if shared > 0 {
        let mut cached = vec![shared; n];
        cached[0] = 0;
        return Plan {
            dests,
            keeps: vec![shared; n],
            copies: Vec::new(),
            shared,
            cached,
        };
    }
    // Copies: from the sequence that serves a prompt best, when it is not its own.
    let mut pending: Vec<(usize, usize, usize, usize)> = Vec::new(); // (prompt, from, to, len)
    for r in 0..n {
        let (from, &best) = m[r]
            .iter()
            .enumerate()
            .max_by_key(|(s, &k)| (k, std::cmp::Reverse(*s)))
            .expect("at least one sequence");
        if best > keeps[r] && from != dests[r] {
            pending.push((r, from, dests[r], best));
        }
    }
    let mut copies = Vec::new();
    while !pending.is_empty() {
        // A copy whose target no other pending copy still reads from.
        let ready = (0..pending.len())
            .find(|&i| !pending.iter().any(|&(_, from, _, _)| from == pending[i].2));
        match ready {
            Some(i) => {
                let (r, from, to, len) = pending.remove(i);
                keeps[r] = len;
                copies.push((from, to, len));
            }
            // A cycle: drop one copy; its prompt keeps what its own sequence holds.
            None => {
                pending.remove(0);
            }
        }
    }
    Plan {
        dests,
        cached: keeps.clone(),
        keeps,
        copies,
        shared: 0,
    }
}

/// Upper bound of the KV cells a call needs when its prompts (`lens`, each generating at
/// most `max_tokens`) go to `dests` and every other sequence keeps what it holds: the
/// cells shared between sequences are counted once per sequence.
pub(super) fn cells_needed<T>(
    held: &[Vec<T>],
    dests: &[usize],
    lens: &[usize],
    max_tokens: &[u32],
) -> usize {
    let others: usize = held
        .iter()
        .enumerate()
        .filter(|(s, _)| !dests.contains(s))
        .map(|(_, h)| h.len())
        .sum();
    let own: usize = lens
        .iter()
        .zip(max_tokens)
        .map(|(l, &g)| l + g as usize)
        .sum();
    others + own + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Vec<u8> {
        s.bytes().collect()
    }

    #[test]
    fn an_empty_cache_shares_the_common_prefix_once() {
        let p = plan(&[vec![], vec![], vec![]], &[v("sysA-1"), v("sysA-22")]);
        assert_eq!(p.shared, 5);
        assert_eq!(p.dests, vec![0, 1]);
        assert_eq!(p.keeps, vec![5, 5]);
        assert_eq!(p.cached, vec![0, 5]);
        assert!(p.copies.is_empty());
    }

    #[test]
    fn a_revision_round_starts_in_place_from_its_draft() {
        // The draft round left each agent's prompt and draft in its sequence; the revision
        // extends each, in whatever order the sequences were filled.
        let held = vec![v("B:draftB"), v("A:draftA"), vec![]];
        let p = plan(&held, &[v("A:draftA+revise"), v("B:draftB+revise")]);
        assert_eq!(p.dests, vec![1, 0]);
        assert_eq!(p.keeps, vec![8, 8]);
        assert_eq!(p.cached, vec![8, 8]);
        assert!(p.copies.is_empty() && p.shared == 0);
    }

    #[test]
    fn a_prompt_copies_from_the_sequence_that_serves_it_best() {
        // Two samples of one prompt after a single call: one in place, the other shares its
        // cells by a copy into an empty sequence.
        let held = vec![v("prompt:old answer"), vec![]];
        let p = plan(&held, &[v("prompt:x"), v("prompt:y")]);
        assert_eq!(p.dests, vec![0, 1]);
        assert_eq!(p.keeps, vec![7, 7]);
        assert_eq!(p.copies, vec![(0, 1, 7)]);
        assert_eq!(p.shared, 0);
    }

    #[test]
    fn a_single_call_goes_to_its_best_sequence_and_leaves_the_others() {
        let held = vec![v("classify me"), v("draft: one"), v("draft: two")];
        let p = plan(&held, &[v("draft: two, revised")]);
        assert_eq!(p.dests, vec![2]);
        assert_eq!(p.keeps, vec![10]);
        // Nothing shared: a new prompt goes to an empty sequence before a full one.
        let held = vec![v("classify me"), vec![], v("x")];
        assert_eq!(plan(&held, &[v("other")]).dests, vec![1]);
        assert_eq!(
            plan(&[v("xyz")], &[v("xyz")]).keeps,
            vec![2],
            "the last token is evaluated"
        );
    }

    #[test]
    fn a_copy_reads_its_source_before_the_source_is_overwritten() {
        // A prompt goes in place to the sequence that holds most of it; a prompt nothing
        // serves goes to an empty sequence, not over held cells.
        let held = vec![v("ab"), v("abcdef"), vec![]];
        let p = plan(&held, &[v("abcdeX"), v("zz")]);
        assert_eq!(p.dests[0], 1, "in place in the sequence that holds most");
        assert_eq!(p.keeps[0], 5);
        assert_eq!(p.dests[1], 2, "an empty sequence before one holding cells");
        // Three prompts of one prefix on two held sequences: the third copies from one of
        // them into the free sequence, and its source is still intact then.
        let held = vec![v("pre:1"), v("pre:2"), vec![]];
        let p = plan(&held, &[v("pre:1a"), v("pre:2a"), v("pre:3a")]);
        assert_eq!(p.dests, vec![0, 1, 2]);
        assert_eq!(p.keeps, vec![5, 5, 4]);
        assert_eq!(p.copies, vec![(0, 2, 4)]);
    }

    #[test]
    fn cells_needed_counts_other_sequences_and_each_prompts_room() {
        let held = vec![v("abc"), v("de"), vec![]];
        assert_eq!(cells_needed(&held, &[1], &[4], &[10]), 3 + 14 + 1);
    }
}
