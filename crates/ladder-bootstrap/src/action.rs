//! Actions: what the model writes at each step, the JSON Schema it is generated under, and
//! the two readers (strict JSON for constrained mode, a tolerant one for free mode). Pure
//! functions; the loop is in `lib.rs`.

use serde::Deserialize;

/// How free mode asks for an action.
pub const FREE_FORMAT: &str = "Write your action as one JSON object as above, or as one line \
    `ACTION: argument` (for example `ASK: Where are you travelling from?`); for an answer, add \
    a line `PICKS: name, name`.";

/// One action as the model wrote it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Action {
    pub action: String,
    #[serde(default)]
    pub text: String,
    #[serde(default)]
    pub picks: Vec<String>,
}

/// The JSON Schema of an action, with its text capped at `text_chars` characters and
/// `action` limited to `allowed`. With `names` (grounded picks), every pick is one of them
/// (none at all when the list is empty).
pub fn action_schema(
    allowed: &[&str],
    text_chars: u32,
    names: Option<&[String]>,
) -> serde_json::Value {
    let picks = match names {
        Some([]) => serde_json::json!({"type": "array", "maxItems": 0}),
        Some(names) => serde_json::json!({
            "type": "array",
            "items": {"type": "string", "enum": names},
            "maxItems": 3
        }),
        None => serde_json::json!({
            "type": "array",
            "items": {"type": "string", "maxLength": 40},
            "maxItems": 3
        }),
    };
    serde_json::json!({
        "type": "object",
        "properties": {
            "action": {"type": "string", "enum": allowed},
            "text": {"type": "string", "maxLength": text_chars},
            "picks": picks
        },
        "required": ["action", "text", "picks"],
        "additionalProperties": false
    })
}

/// Read an action; the error says what was wrong, for the model to see.
pub fn parse_action(text: &str) -> Result<Action, String> {
    let a: Action = serde_json::from_str(text.trim())
        .map_err(|e| format!("your last reply was not a valid action ({e})"))?;
    match a.action.as_str() {
        "ask" | "search" | "note" | "answer" => Ok(a),
        other => Err(format!("{other:?} is not an action")),
    }
}

/// Every action, in the order the prompt describes them.
pub const ALL: [&str; 4] = ["ask", "search", "note", "answer"];

/// Read an action from free text: a fenced block's content if there is one, then a JSON
/// object, then an `ACTION: argument` line (the argument runs to the end of the text, up to
/// a `PICKS:` line). Never panics; the error says what to write instead.
pub fn parse_free(text: &str) -> Result<Action, String> {
    let mut body = text;
    if let Some(start) = text.find("```") {
        let after = &text[start + 3..];
        // Skip a language tag on the fence's line.
        let after = after.split_once('\n').map_or(after, |(_, rest)| rest);
        body = after.find("```").map_or(after, |end| &after[..end]);
    }
    if let (Some(open), Some(close)) = (body.find('{'), body.rfind('}')) {
        if open < close {
            if let Ok(a) = parse_action(&body[open..=close]) {
                return Ok(a);
            }
        }
    }
    let lines: Vec<&str> = body.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim().trim_start_matches(['*', '-', '#', ' ']);
        let Some((head, rest)) = trimmed.split_once([':', '-']) else {
            continue;
        };
        let kind = head
            .trim()
            .trim_matches(['*', '_', '#', '`', ' '])
            .to_ascii_lowercase();
        if !ALL.contains(&kind.as_str()) {
            continue;
        }
        let mut text = rest
            .trim()
            .trim_start_matches(['*', '_'])
            .trim()
            .to_string();
        let mut picks = Vec::new();
        for more in &lines[i + 1..] {
            let m = more.trim();
            if let Some(p) = m
                .strip_prefix("PICKS:")
                .or_else(|| m.strip_prefix("Picks:"))
                .or_else(|| m.strip_prefix("picks:"))
            {
                picks = p
                    .split(',')
                    .map(|x| x.trim().to_string())
                    .filter(|x| !x.is_empty())
                    .collect();
                break;
            }
            if !m.is_empty() {
                text.push('\n');
                text.push_str(m);
            }
        }
        return Ok(Action {
            action: kind,
            text: text.trim().to_string(),
            picks,
        });
    }
    Err("no action found: write one JSON object, or one line `ACTION: argument` with ACTION one of ASK, SEARCH, NOTE, ANSWER".into())
}
