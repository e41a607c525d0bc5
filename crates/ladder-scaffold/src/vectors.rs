//! The embeddings of a form's fixed texts (its labelled examples and its slots'
//! questions), which the classifier and the form compare the user's words with.
//!
//! Invariants:
//! - A form's texts are embedded once per scaffold: [`form_vectors`] caches them by the
//!   form's content hash, so two tasks of one suite share them and a changed form gets
//!   its own.
//! - The examples keep the form's order (intents, then each intent's examples); a slot's
//!   question is embedded once even when several intents ask it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use ladder_core::{content_hash, FormSpec, RunContext, RunError};

/// Embeddings of a form's fixed texts, computed once per form.
pub(crate) struct FormVectors {
    /// (intent, example's vector), in the form's order.
    pub(crate) examples: Vec<(String, Vec<f32>)>,
    /// Slot name -> its question's vector.
    pub(crate) questions: HashMap<String, Vec<f32>>,
}

/// The scaffold's cache of [`FormVectors`], by the form's content hash.
pub(crate) type Cache = Mutex<HashMap<String, Arc<FormVectors>>>;

/// The vectors of `form`'s texts, from `cache` or embedded now (and cached).
pub(crate) async fn form_vectors(
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
