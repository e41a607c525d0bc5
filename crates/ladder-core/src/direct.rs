//! `direct`: the baseline. One model call answers the opening message; no questions, no
//! look-ups. Every other strategy is measured against it.
//!
//! With `picks` on (the default) the call is constrained to a JSON object holding the
//! answer and the entities it commits to, so that `direct` is judged on picks as the other
//! strategies are: a paired comparison never uses two different judges.

use async_trait::async_trait;

use crate::message::Message;
use crate::model::{ChatRequest, Constraint};
use crate::outcome::Outcome;
use crate::run::{Answer, RunContext, Strategy};
use crate::task::TaskView;

pub const DIRECT_SYSTEM_PROMPT: &str =
    "You are a helpful assistant. Answer the user's request directly and concisely.";

/// What the model is told about the JSON it writes when picks are on.
pub const DIRECT_PICKS_PROMPT: &str = "Reply with a JSON object: \"answer\" is your answer to \
    the user, \"picks\" lists the names of the places, products or people your answer \
    recommends (an empty list when it recommends none).";

/// The single-call baseline strategy.
#[derive(Debug, Clone)]
pub struct Direct {
    pub max_tokens: u32,
    /// Answer as JSON with the entities the answer commits to.
    pub picks: bool,
    /// Picks constrained to the knowledge base's document titles ([`RunContext::names`]).
    pub grounded: bool,
}

impl Default for Direct {
    fn default() -> Self {
        Direct {
            max_tokens: 256,
            picks: true,
            grounded: false,
        }
    }
}

/// The JSON Schema of a reply with picks. Lengths are capped inside the grammar, so a small
/// model cannot run on forever.
pub fn picks_schema() -> serde_json::Value {
    picks_schema_within(None)
}

/// [`picks_schema`] with every pick one of `names` (grounded picks), when given and not
/// empty.
pub fn picks_schema_within(names: Option<&[String]>) -> serde_json::Value {
    let items = match names {
        Some(names) if !names.is_empty() => serde_json::json!({"type": "string", "enum": names}),
        _ => serde_json::json!({"type": "string", "maxLength": 60}),
    };
    serde_json::json!({
        "type": "object",
        "properties": {
            "answer": {"type": "string", "maxLength": 600},
            "picks": {
                "type": "array",
                "items": items,
                "maxItems": 3
            }
        },
        "required": ["answer", "picks"],
        "additionalProperties": false
    })
}

/// Constrain `request`'s picks to `names` (grounded picks); a request without a picks
/// schema is left as it is.
pub fn ground(request: &mut ChatRequest, names: &[String]) {
    if matches!(request.constraint, Some(Constraint::JsonSchema(_))) && !names.is_empty() {
        request.constraint = Some(Constraint::JsonSchema(picks_schema_within(Some(names))));
    }
}

/// Read a reply with picks; anything that is not such an object is the answer's text.
pub fn read_picks(text: &str) -> Answer {
    #[derive(serde::Deserialize)]
    struct Reply {
        answer: String,
        #[serde(default)]
        picks: Vec<String>,
    }
    match serde_json::from_str::<Reply>(text.trim()) {
        Ok(r) => Answer {
            text: r.answer.trim().to_string(),
            picks: r
                .picks
                .into_iter()
                .map(|p| p.trim().to_string())
                .filter(|p| !p.is_empty())
                .collect(),
        },
        Err(_) => Answer::from(text.trim()),
    }
}

impl Direct {
    /// The system prompt: the suite's brief, the instruction, and (with picks) the JSON
    /// the reply must be.
    pub fn system_prompt(&self, brief: &str) -> String {
        let mut system = DIRECT_SYSTEM_PROMPT.to_string();
        if !brief.is_empty() {
            system = format!("{brief}\n\n{system}");
        }
        if self.picks {
            system = format!("{system} {DIRECT_PICKS_PROMPT}");
        }
        system
    }

    /// The one call `direct` makes for `task`. Other strategies build their final call
    /// from it, so that with nothing to add they make exactly this call.
    pub fn request(&self, task: &TaskView) -> ChatRequest {
        let mut request = ChatRequest::new(vec![
            Message::system(self.system_prompt(&task.brief)),
            Message::user(task.opening.clone()),
        ]);
        request.sampling.max_tokens = self.max_tokens;
        if self.picks {
            request.constraint = Some(Constraint::JsonSchema(picks_schema()));
        }
        request
    }

    /// Read the reply to [`Direct::request`].
    pub fn read(&self, text: &str) -> Answer {
        if self.picks {
            read_picks(text)
        } else {
            Answer::from(text.trim())
        }
    }
}

#[async_trait]
impl Strategy for Direct {
    fn name(&self) -> &str {
        if self.grounded {
            "direct-grounded"
        } else {
            "direct"
        }
    }

    fn settings(&self) -> serde_json::Value {
        let mut s = serde_json::json!({
            "max_tokens": self.max_tokens,
            "system": DIRECT_SYSTEM_PROMPT,
            "picks": self.picks,
        });
        // Only when on, so the settings (and the hashes of earlier traces) stay as they were.
        if self.grounded {
            s["grounded"] = true.into();
        }
        s
    }

    fn constraints(&self) -> Vec<Constraint> {
        if self.picks {
            vec![Constraint::JsonSchema(picks_schema())]
        } else {
            vec![]
        }
    }

    async fn run(&self, task: &TaskView, ctx: &mut RunContext) -> Outcome {
        let result = async {
            ctx.next_step()?;
            let mut request = self.request(task);
            if self.grounded {
                ground(&mut request, ctx.names());
            }
            let response = ctx.call_model("answer", request).await?;
            Ok(self.read(&response.text))
        }
        .await;
        ctx.finish(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_with_picks_is_read_and_anything_else_is_text() {
        let a = read_picks(r#" {"answer": "Go to Gullby Cove.", "picks": ["Gullby Cove", " "]} "#);
        assert_eq!(a.text, "Go to Gullby Cove.");
        assert_eq!(a.picks, vec!["Gullby Cove".to_string()]);
        let b = read_picks("Paris.");
        assert_eq!((b.text.as_str(), b.picks.len()), ("Paris.", 0));
        let c = read_picks(r#"{"answer": "cut off"#);
        assert_eq!(c.text, r#"{"answer": "cut off"#);
    }
}
