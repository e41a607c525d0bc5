//! Running a plan: each component in order, reading and writing one plain state.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use ladder_core::direct::read_picks;
use ladder_core::trace::{EventKind, IntentScore, SlotSource};
use ladder_core::{
    content_hash, cosine, Answer, AttrValue, Call, ChatRequest, Constraint, Direct, Filter,
    FormSlot, FormSpec, Hit, Message, RunContext, RunError, TaskView,
};

use crate::pipeline::{
    ClassifierMethod, ClassifierSettings, Component, CompressMethod, CompressSettings,
    DebateSettings, ExtractorMethod, FilterRule, FormSettings, Plan, RetrieveSettings,
    SynthesisSettings, VoteSettings,
};
use crate::prompts;
use crate::text::{
    clauses, first_number, named_option, negated, no_preference, number_with_unit, question_unit,
    sentences,
};

/// Embeddings of a form's fixed texts, computed once per form.
pub(crate) struct FormVectors {
    /// (intent, example's vector), in the form's order.
    examples: Vec<(String, Vec<f32>)>,
    /// Slot name -> its question's vector.
    questions: HashMap<String, Vec<f32>>,
}

/// A slot's value when the user does not mind.
const ANY: &str = "no preference";

/// What the components have found so far.
#[derive(Debug, Default)]
struct State {
    /// `None` when no classifier ran; empty for the `unknown` route.
    intents: Option<Vec<String>>,
    slots: Vec<(String, String)>,
    query: String,
    hits: Vec<Hit>,
    context: Option<String>,
    drafts: Vec<(String, String)>,
    answer: Option<Answer>,
}

type Cache = Mutex<HashMap<String, Arc<FormVectors>>>;

/// Run `plan`'s components in order; the synthesis's answer ends the run.
pub(crate) async fn execute(
    plan: &Plan,
    task: &TaskView,
    ctx: &mut RunContext,
    cache: &Cache,
) -> Result<Answer, RunError> {
    let mut state = State::default();
    for node in &plan.order {
        ctx.record(EventKind::ComponentStarted {
            component: node.id.clone(),
            kind: node.component.kind().to_string(),
        })?;
        let result = match &node.component {
            Component::Classifier(s) => classify(s, task, ctx, cache, &mut state).await,
            Component::Form(s) => form(s, task, ctx, cache, &mut state).await,
            Component::Retrieve(s) => retrieve(s, task, ctx, &mut state).await,
            Component::Compress(s) => compress(s, ctx, &mut state).await,
            Component::Debate(s) => debate(s, task, ctx, &mut state).await,
            Component::Vote(s) => vote(s, task, ctx, &mut state).await,
            Component::Synthesis(s) => synthesis(s, task, ctx, &mut state).await,
        };
        let (ok, detail) = match &result {
            Ok(d) => (true, d.clone()),
            Err(e) => (false, e.to_string()),
        };
        ctx.record(EventKind::ComponentFinished {
            component: node.id.clone(),
            ok,
            detail,
        })?;
        result?;
    }
    state
        .answer
        .ok_or_else(|| RunError::Contract("the pipeline ended without an answer".into()))
}

async fn form_vectors(
    ctx: &mut RunContext,
    form: &FormSpec,
    cache: &Cache,
) -> Result<Arc<FormVectors>, RunError> {
    let key = content_hash(form);
    if let Some(v) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return Ok(Arc::clone(v));
    }
    let mut texts = Vec::new();
    let mut labels = Vec::new();
    for intent in &form.intents {
        for e in &intent.examples {
            texts.push(e.clone());
            labels.push(intent.name.clone());
        }
    }
    let mut slot_names = Vec::new();
    for intent in &form.intents {
        for slot in &intent.slots {
            if !slot_names.contains(&slot.name) {
                slot_names.push(slot.name.clone());
                texts.push(slot.question.clone());
            }
        }
    }
    let vectors = ctx.embed(&texts).await?;
    let n = labels.len();
    let v = Arc::new(FormVectors {
        examples: labels
            .into_iter()
            .zip(vectors[..n].iter().cloned())
            .collect(),
        questions: slot_names
            .into_iter()
            .zip(vectors[n..].iter().cloned())
            .collect(),
    });
    cache
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(key, Arc::clone(&v));
    Ok(v)
}

/// Each intent's score for one vector: the mean similarity of its `neighbours` nearest
/// examples. In the form's order.
fn intent_scores(v: &FormVectors, x: &[f32], neighbours: usize) -> Vec<(String, f32)> {
    let mut by_intent: Vec<(String, Vec<f32>)> = Vec::new();
    for (intent, e) in &v.examples {
        let s = cosine(x, e);
        match by_intent.iter_mut().find(|(i, _)| i == intent) {
            Some((_, sims)) => sims.push(s),
            None => by_intent.push((intent.clone(), vec![s])),
        }
    }
    by_intent
        .into_iter()
        .map(|(intent, mut sims)| {
            sims.sort_by(|a, b| b.total_cmp(a));
            let n = neighbours.clamp(1, sims.len());
            (intent, sims[..n].iter().sum::<f32>() / n as f32)
        })
        .collect()
}

/// The item with the greatest key; the first of equal ones wins, so ties follow the
/// input's order (the form's, or the order votes were cast).
fn first_max<T, K: PartialOrd>(
    items: impl IntoIterator<Item = T>,
    key: impl Fn(&T) -> K,
) -> Option<T> {
    items.into_iter().fold(None, |acc, x| match acc {
        Some(a) if key(&a) >= key(&x) => Some(a),
        _ => Some(x),
    })
}

fn best(scores: &[(String, f32)]) -> Option<&(String, f32)> {
    first_max(scores, |s| s.1)
}

async fn classify(
    s: &ClassifierSettings,
    task: &TaskView,
    ctx: &mut RunContext,
    cache: &Cache,
    state: &mut State,
) -> Result<String, RunError> {
    let Some(form) = ctx.form().cloned() else {
        ctx.record(EventKind::IntentDecision {
            scores: vec![],
            chosen: vec![],
        })?;
        state.intents = Some(vec![]);
        return Ok("no form spec for this task: the unknown route".into());
    };
    let (scores, chosen, how) = match s.method {
        ClassifierMethod::Embedding => {
            let vectors = form_vectors(ctx, &form, cache).await?;
            let mut segments = vec![task.opening.clone()];
            let parts = clauses(&task.opening);
            if parts.len() > 1 {
                segments.extend(parts);
            }
            let embedded = ctx.embed(&segments).await?;
            let whole = intent_scores(&vectors, &embedded[0], s.neighbours);
            // Each segment (the whole message, then each clause) proposes its best intent
            // when it clears the threshold; a request that asks two things ("I want to
            // return my lamp, and I need an invoice") gets a label from each clause. The
            // strongest proposals win, up to `max_intents`.
            let mut proposals: Vec<(String, f32, String)> = Vec::new();
            for (i, (seg, x)) in segments.iter().zip(&embedded).enumerate() {
                let scores = if i == 0 {
                    whole.clone()
                } else {
                    intent_scores(&vectors, x, s.neighbours)
                };
                if let Some((top, score)) = best(&scores) {
                    if *score >= s.threshold {
                        let from = if i == 0 {
                            "the whole message".to_string()
                        } else {
                            format!("the clause {seg:?}")
                        };
                        proposals.push((top.clone(), *score, from));
                    }
                }
            }
            proposals.sort_by(|a, b| b.1.total_cmp(&a.1));
            let mut chosen: Vec<String> = Vec::new();
            let mut how = Vec::new();
            for (intent, score, from) in proposals {
                if chosen.len() < s.max_intents.max(1) && !chosen.contains(&intent) {
                    how.push(format!("{intent} ({score:.2}) from {from}"));
                    chosen.push(intent);
                }
            }
            (whole, chosen, how.join("; "))
        }
        ClassifierMethod::Llm => {
            let mut labels: Vec<String> = form.intents.iter().map(|i| i.name.clone()).collect();
            labels.push("unknown".into());
            let schema = serde_json::json!({
                "type": "object",
                "properties": {
                    "intents": {
                        "type": "array",
                        "items": {"type": "string", "enum": labels},
                        "minItems": 1,
                        "maxItems": s.max_intents.max(1)
                    }
                },
                "required": ["intents"],
                "additionalProperties": false
            });
            let mut system = format!("{}\n\n{}", task.brief, prompts::CLASSIFY.trim());
            for i in &form.intents {
                system.push_str(&format!("\n- {}: {}", i.name, i.description));
            }
            system.push_str("\n- unknown: anything else.");
            let mut request = ChatRequest::new(vec![
                Message::system(system.trim().to_string()),
                Message::user(task.opening.clone()),
            ]);
            request.sampling.max_tokens = 40;
            request.constraint = Some(Constraint::JsonSchema(schema));
            ctx.next_step()?;
            let response = ctx.call_model("classify", request).await?;
            #[derive(serde::Deserialize)]
            struct Reply {
                intents: Vec<String>,
            }
            let picked = serde_json::from_str::<Reply>(response.text.trim())
                .map(|r| r.intents)
                .unwrap_or_default();
            let mut chosen: Vec<String> = Vec::new();
            for p in picked {
                if p != "unknown" && form.intent(&p).is_some() && !chosen.contains(&p) {
                    chosen.push(p);
                }
            }
            let scores = form
                .intents
                .iter()
                .map(|i| {
                    (
                        i.name.clone(),
                        f32::from(u8::from(chosen.contains(&i.name))),
                    )
                })
                .collect();
            (scores, chosen, "the model's choice".to_string())
        }
    };
    ctx.record(EventKind::IntentDecision {
        scores: scores
            .iter()
            .map(|(intent, confidence)| IntentScore {
                intent: intent.clone(),
                confidence: *confidence,
            })
            .collect(),
        chosen: chosen.clone(),
    })?;
    let detail = if chosen.is_empty() {
        "below the threshold: the unknown route (no form)".to_string()
    } else {
        format!("chose {how}")
    };
    state.intents = Some(chosen);
    Ok(detail)
}

/// The option a text commits to: one clause names exactly one option and does not negate
/// it, and no clause commits to another.
fn option_in(text: &str, options: &[String]) -> Option<String> {
    if options.is_empty() {
        return None;
    }
    let mut parts = clauses(text);
    if parts.is_empty() {
        parts.push(text.to_string());
    }
    let mut found: Option<&String> = None;
    for c in &parts {
        if let Some(o) = named_option(c, options) {
            if negated(c) {
                continue;
            }
            match found {
                Some(f) if f != o => return None,
                _ => found = Some(o),
            }
        }
    }
    found.cloned()
}

async fn form(
    s: &FormSettings,
    task: &TaskView,
    ctx: &mut RunContext,
    cache: &Cache,
    state: &mut State,
) -> Result<String, RunError> {
    let intents = state.intents.clone().unwrap_or_default();
    let Some(spec) = ctx.form().cloned() else {
        return Ok("no form spec for this task".into());
    };
    if intents.is_empty() {
        return Ok("the unknown route: no form".into());
    }
    let mut slots: Vec<FormSlot> = Vec::new();
    for name in &intents {
        for slot in spec
            .intent(name)
            .map(|i| i.slots.clone())
            .unwrap_or_default()
        {
            if !slots.iter().any(|x| x.name == slot.name) {
                slots.push(slot);
            }
        }
    }
    if slots.is_empty() {
        return Ok(format!("{} has no slots to fill", intents.join(" and ")));
    }
    let patterns: Vec<(String, regex::Regex)> = s
        .patterns
        .iter()
        .filter_map(|p| {
            regex::Regex::new(&p.regex)
                .ok()
                .map(|r| (p.slot.clone(), r))
        })
        .collect();
    // What the opening already says.
    let mut from_opening: Vec<(String, String)> = Vec::new();
    match s.extractor {
        ExtractorMethod::Embedding => {
            let vectors = form_vectors(ctx, &spec, cache).await?;
            let mut parts = clauses(&task.opening);
            if parts.is_empty() {
                parts.push(task.opening.clone());
            }
            let embedded = ctx.embed(&parts).await?;
            // Each clause's most similar slot question, when similar enough.
            let mut by_similarity: Vec<(String, String)> = Vec::new();
            for (p, v) in parts.iter().zip(&embedded) {
                let best = first_max(
                    slots.iter().filter_map(|slot| {
                        vectors
                            .questions
                            .get(&slot.name)
                            .map(|q| (slot, cosine(q, v)))
                    }),
                    |x| x.1,
                );
                if let Some((slot, sim)) = best {
                    if sim >= s.threshold {
                        by_similarity.push((slot.name.clone(), p.clone()));
                    }
                }
            }
            for slot in &slots {
                // In order of trust: an option named (a gazetteer), the team's patterns,
                // a number in the unit the question asks for, then similarity.
                let value = option_in(&task.opening, &slot.options)
                    .or_else(|| {
                        patterns
                            .iter()
                            .filter(|(name, _)| *name == slot.name)
                            .find_map(|(_, re)| {
                                re.captures(&task.opening).and_then(|c| {
                                    c.get(1)
                                        .or_else(|| c.get(0))
                                        .map(|m| m.as_str().to_string())
                                })
                            })
                    })
                    .or_else(|| {
                        let unit = question_unit(&slot.question)?;
                        number_with_unit(&task.opening, &unit).map(|n| format!("{n} {unit}"))
                    })
                    .or_else(|| {
                        by_similarity
                            .iter()
                            .find(|(name, _)| *name == slot.name)
                            .map(|(_, clause)| clause.clone())
                    });
                if let Some(v) = value {
                    from_opening.push((slot.name.clone(), v));
                }
            }
        }
        ExtractorMethod::Llm => {
            let mut properties = serde_json::Map::new();
            let mut listing = String::new();
            for slot in &slots {
                let schema = if slot.options.is_empty() {
                    serde_json::json!({"type": "string", "maxLength": 60})
                } else {
                    let mut allowed = slot.options.clone();
                    allowed.push(String::new());
                    serde_json::json!({"type": "string", "enum": allowed})
                };
                properties.insert(slot.name.clone(), schema);
                listing.push_str(&format!("\n- {}: {}", slot.name, slot.question));
                if !slot.options.is_empty() {
                    listing.push_str(&format!(" (options: {})", slot.options.join(", ")));
                }
            }
            let names: Vec<&String> = slots.iter().map(|x| &x.name).collect();
            let schema = serde_json::json!({
                "type": "object",
                "properties": properties,
                "required": names,
                "additionalProperties": false
            });
            let mut request = ChatRequest::new(vec![
                Message::system(format!("{}\nThe form:{listing}", prompts::EXTRACT.trim())),
                Message::user(task.opening.clone()),
            ]);
            request.sampling.max_tokens = 40 * slots.len() as u32;
            request.constraint = Some(Constraint::JsonSchema(schema));
            ctx.next_step()?;
            let response = ctx.call_model("extract", request).await?;
            let values: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(response.text.trim()).unwrap_or_default();
            for slot in &slots {
                if let Some(v) = values.get(&slot.name).and_then(|v| v.as_str()) {
                    if !v.trim().is_empty() {
                        from_opening.push((slot.name.clone(), v.trim().to_string()));
                    }
                }
            }
        }
    }
    for (slot, value) in &from_opening {
        ctx.record(EventKind::SlotFilled {
            slot: slot.clone(),
            value: value.clone(),
            source: SlotSource::Opening,
        })?;
    }
    state.slots = from_opening;
    // Then the form's questions, one per turn, in order, for what is still missing.
    let mut asked = 0;
    for slot in &slots {
        if state.slots.iter().any(|(n, _)| *n == slot.name) {
            continue;
        }
        ctx.next_step()?;
        let reply = ctx.ask_user(&slot.question).await?;
        asked += 1;
        let value = if no_preference(&reply) {
            ANY.to_string()
        } else {
            option_in(&reply, &slot.options).unwrap_or_else(|| reply.trim().to_string())
        };
        ctx.record(EventKind::SlotFilled {
            slot: slot.name.clone(),
            value: value.clone(),
            source: SlotSource::Reply,
        })?;
        state.slots.push((slot.name.clone(), value));
    }
    Ok(format!(
        "{} of {} slots from the opening, {asked} asked",
        state.slots.len() - asked,
        slots.len()
    ))
}

async fn retrieve(
    s: &RetrieveSettings,
    task: &TaskView,
    ctx: &mut RunContext,
    state: &mut State,
) -> Result<String, RunError> {
    // The opening and what the form added to it (values it read from the opening are
    // already in it; "no preference" adds nothing to search for).
    let mut query = task.opening.clone();
    for (_, value) in &state.slots {
        if no_preference(value) || task.opening.contains(value.as_str()) {
            continue;
        }
        query.push(' ');
        query.push_str(value);
    }
    let all_slots: Vec<FormSlot> = ctx
        .form()
        .map(|f| f.intents.iter().flat_map(|i| i.slots.clone()).collect())
        .unwrap_or_default();
    let options = |slot: &str| -> Vec<String> {
        all_slots
            .iter()
            .filter(|x| x.name == slot)
            .flat_map(|x| x.options.clone())
            .collect()
    };
    let mut filter = Filter::default();
    for f in &s.filters {
        let Some((_, value)) = state.slots.iter().find(|(n, _)| *n == f.slot) else {
            continue;
        };
        filter = match f.rule {
            FilterRule::Equals if options(&f.slot).contains(value) => {
                filter.and_equals(&f.attribute, AttrValue::Text(value.clone()))
            }
            FilterRule::AtMost => match first_number(value) {
                Some(n) => filter.and_range(&f.attribute, None, Some(n)),
                None => filter,
            },
            FilterRule::AtLeast => match first_number(value) {
                Some(n) => filter.and_range(&f.attribute, Some(n), None),
                None => filter,
            },
            FilterRule::Equals => filter,
        };
    }
    let filtered = !filter.is_empty();
    let mut hits = ctx
        .retrieve_filtered(&query, s.k, filtered.then_some(&filter))
        .await?;
    let mut detail = format!(
        "{} hits{}",
        hits.len(),
        if filtered {
            format!(" with {} filter conditions", filter.all.len())
        } else {
            String::new()
        }
    );
    if filtered && hits.is_empty() {
        hits = ctx.retrieve(&query, s.k).await?;
        detail = format!(
            "no document passed the filter; {} hits without it",
            hits.len()
        );
    }
    state.query = query;
    state.hits = hits;
    Ok(detail)
}

fn label(h: &Hit) -> &str {
    if h.title.is_empty() {
        &h.document
    } else {
        &h.title
    }
}

fn hits_text(hits: &[Hit]) -> String {
    hits.iter()
        .map(|h| format!("[{}] {}", label(h), h.text.trim()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A text's tokens in the model's tokenizer, without the chat template's `overhead` (the
/// tokens of an empty message, counted once per compression).
fn tokens_of(ctx: &RunContext, overhead: u64, text: &str) -> Result<u64, RunError> {
    let with = ctx.count_tokens(&[Message::user(text.to_string())])?;
    Ok(with.saturating_sub(overhead))
}

async fn compress(
    s: &CompressSettings,
    ctx: &mut RunContext,
    state: &mut State,
) -> Result<String, RunError> {
    let overhead = ctx.count_tokens(&[Message::user(String::new())])?;
    let full = hits_text(&state.hits);
    let before = tokens_of(ctx, overhead, &full)?;
    let text = if before <= s.budget_tokens {
        full
    } else {
        match s.method {
            CompressMethod::DropChunks => {
                let mut order: Vec<usize> = (0..state.hits.len()).collect();
                order.sort_by(|&a, &b| state.hits[b].score.total_cmp(&state.hits[a].score));
                let mut keep: Vec<usize> = Vec::new();
                for i in order {
                    let mut trial = keep.clone();
                    trial.push(i);
                    trial.sort_unstable();
                    let picked: Vec<Hit> = trial.iter().map(|&j| state.hits[j].clone()).collect();
                    if tokens_of(ctx, overhead, &hits_text(&picked))? <= s.budget_tokens {
                        keep = trial;
                    }
                }
                let picked: Vec<Hit> = keep.iter().map(|&j| state.hits[j].clone()).collect();
                hits_text(&picked)
            }
            CompressMethod::Sentences => {
                let mut items: Vec<(usize, String)> = Vec::new();
                for (i, h) in state.hits.iter().enumerate() {
                    for sentence in sentences(&h.text) {
                        items.push((i, sentence));
                    }
                }
                let mut texts = vec![state.query.clone()];
                texts.extend(items.iter().map(|(_, t)| t.clone()));
                let vectors = ctx.embed(&texts).await?;
                let mut rank: Vec<usize> = (0..items.len()).collect();
                rank.sort_by(|&a, &b| {
                    cosine(&vectors[0], &vectors[b + 1])
                        .total_cmp(&cosine(&vectors[0], &vectors[a + 1]))
                });
                let mut keep = vec![false; items.len()];
                let mut used = 0u64;
                for i in rank {
                    let cost = tokens_of(ctx, overhead, &items[i].1)? + 1;
                    if used + cost <= s.budget_tokens {
                        keep[i] = true;
                        used += cost;
                    }
                }
                let mut out: Vec<String> = Vec::new();
                for (hi, h) in state.hits.iter().enumerate() {
                    let kept: Vec<&str> = items
                        .iter()
                        .zip(&keep)
                        .filter(|((i, _), k)| *i == hi && **k)
                        .map(|((_, t), _)| t.as_str())
                        .collect();
                    if !kept.is_empty() {
                        out.push(format!("[{}] {}", label(h), kept.join(" ")));
                    }
                }
                out.join("\n")
            }
        }
    };
    let after = tokens_of(ctx, overhead, &text)?;
    ctx.record(EventKind::ContextCompression {
        tokens_before: before,
        tokens_after: after,
        forced: false,
    })?;
    state.context = Some(text);
    Ok(format!("{before} -> {after} tokens"))
}

/// What the components found, for a prompt: the user's form answers and the knowledge
/// base's text (compressed where a compressor ran).
fn notes(state: &State) -> String {
    let mut out = String::new();
    if !state.slots.is_empty() {
        out.push_str("What the user told you:");
        for (slot, value) in &state.slots {
            out.push_str(&format!("\n- {slot}: {value}"));
        }
    }
    let kb = match &state.context {
        Some(c) => c.clone(),
        None => hits_text(&state.hits),
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
/// prompt. With nothing found upstream it is exactly `direct`'s call.
fn final_request(task: &TaskView, state: &State, max_tokens: u32) -> ChatRequest {
    let direct = Direct {
        max_tokens,
        picks: true,
    };
    let mut request = direct.request(task);
    let mut extra = notes(state);
    if !state.drafts.is_empty() {
        if !extra.is_empty() {
            extra.push_str("\n\n");
        }
        extra.push_str(prompts::JUDGE.trim());
        for (agent, text) in &state.drafts {
            extra.push_str(&format!("\n[{agent}] {}", text.trim()));
        }
    }
    if !extra.is_empty() {
        request.messages[0].content = format!("{}\n\n{extra}", request.messages[0].content);
    }
    request
}

async fn debate(
    s: &DebateSettings,
    task: &TaskView,
    ctx: &mut RunContext,
    state: &mut State,
) -> Result<String, RunError> {
    let found = notes(state);
    let system = |role: &str| -> String {
        let mut text = String::new();
        if !task.brief.is_empty() {
            text.push_str(&task.brief);
            text.push_str("\n\n");
        }
        text.push_str(prompts::DRAFT.trim().replace("{role}", role).as_str());
        if !found.is_empty() {
            text.push_str("\n\n");
            text.push_str(&found);
        }
        text
    };
    let mut drafts: Vec<String> = vec![String::new(); s.agents.len()];
    for round in 0..=s.rounds {
        let calls: Vec<Call> = s
            .agents
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let mut messages = vec![
                    Message::system(system(&a.role)),
                    Message::user(task.opening.clone()),
                ];
                if round > 0 {
                    let others: Vec<String> = s
                        .agents
                        .iter()
                        .zip(&drafts)
                        .enumerate()
                        .filter(|(j, _)| *j != i)
                        .map(|(_, (b, d))| format!("[{}] {}", b.name, d.trim()))
                        .collect();
                    messages.push(Message::assistant(drafts[i].clone()));
                    messages.push(Message::user(format!(
                        "{}\n{}",
                        prompts::REVISE.trim(),
                        others.join("\n")
                    )));
                }
                let mut request = ChatRequest::new(messages);
                request.sampling.max_tokens = s.max_tokens;
                Call::new(if round == 0 { "draft" } else { "revise" }, request).by(&a.name)
            })
            .collect();
        ctx.next_step()?;
        let results = ctx.call_models(calls).await?;
        for (i, r) in results.into_iter().enumerate() {
            // A failed agent keeps its last draft; the others go on.
            if let Ok(response) = r {
                drafts[i] = response.text.trim().to_string();
            }
            ctx.record(EventKind::DebateMessage {
                agent: s.agents[i].name.clone(),
                round,
                text: drafts[i].clone(),
            })?;
        }
    }
    state.drafts = s
        .agents
        .iter()
        .map(|a| a.name.clone())
        .zip(drafts)
        .filter(|(_, d)| !d.is_empty())
        .collect();
    Ok(format!(
        "{} agents x {} rounds: {} drafts",
        s.agents.len(),
        s.rounds + 1,
        state.drafts.len()
    ))
}

async fn vote(
    s: &VoteSettings,
    task: &TaskView,
    ctx: &mut RunContext,
    state: &mut State,
) -> Result<String, RunError> {
    let request = final_request(task, state, s.max_tokens);
    let calls: Vec<Call> = (1..=s.samples)
        .map(|i| Call::new("vote", request.clone()).by(format!("sample-{i}")))
        .collect();
    ctx.next_step()?;
    let results = ctx.call_models(calls).await?;
    let answers: Vec<Option<Answer>> = results
        .into_iter()
        .map(|r| r.ok().map(|resp| read_picks(&resp.text)))
        .collect();
    let key = |a: &Answer| -> String {
        a.picks
            .first()
            .map(|p| p.trim().to_lowercase())
            .unwrap_or_else(|| "(no pick)".into())
    };
    let mut counts: Vec<(String, usize, usize)> = Vec::new(); // (choice, votes, first sample)
    for (i, a) in answers.iter().enumerate() {
        let Some(a) = a else { continue };
        let k = key(a);
        ctx.record(EventKind::Vote {
            agent: format!("sample-{}", i + 1),
            round: 0,
            choice: k.clone(),
        })?;
        match counts.iter_mut().find(|(c, _, _)| *c == k) {
            Some(c) => c.1 += 1,
            None => counts.push((k, 1, i)),
        }
    }
    // Most votes; ties go to the choice seen first.
    let winner = first_max(&counts, |c| c.1)
        .ok_or_else(|| RunError::Contract("every vote sample failed".into()))?;
    state.answer = answers[winner.2].clone();
    Ok(format!(
        "{} of {} samples chose {}",
        winner.1,
        answers.len(),
        winner.0
    ))
}

async fn synthesis(
    s: &SynthesisSettings,
    task: &TaskView,
    ctx: &mut RunContext,
    state: &mut State,
) -> Result<String, RunError> {
    if state.answer.is_some() && state.drafts.is_empty() {
        return Ok("the vote's majority answer, passed through".into());
    }
    let request = final_request(task, state, s.max_tokens);
    ctx.next_step()?;
    let response = ctx.call_model("answer", request).await?;
    let answer = read_picks(&response.text);
    let detail = format!("{} picks", answer.picks.len());
    state.answer = Some(answer);
    Ok(detail)
}
