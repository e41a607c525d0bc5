//! Constraints as llama.cpp grammars: a constraint's GBNF (a JSON Schema converted by
//! llama.cpp), its sampler, and the model-wide cache of grammars already parsed.
//!
//! Invariants:
//! - A constraint is converted and parsed with stderr captured once per distinct grammar
//!   (keyed by the constraint's canonical JSON); later calls reuse the GBNF and never touch
//!   the process's stderr again.
//! - Only grammars that parsed are cached; a failure says why in llama.cpp's own words
//!   (the parse error line from stderr, and its log).

use ladder_core::{Constraint, ModelError};
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::sampling::LlamaSampler;

use super::Inner;
use crate::native;

impl Inner {
    /// A grammar sampler for a constraint. The first time a constraint is seen it is
    /// converted and parsed with stderr captured (llama.cpp prints parse errors there);
    /// after that the cached GBNF is used directly.
    pub(super) fn grammar_sampler(
        &self,
        constraint: &Constraint,
    ) -> Result<LlamaSampler, ModelError> {
        let key = ladder_core::model::canonical_json(constraint);
        let known = self
            .grammars
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
            .cloned();
        if let Some(gbnf) = known {
            return LlamaSampler::grammar(&self.model, &gbnf, "root").map_err(|e| {
                ModelError::InvalidGrammar {
                    message: e.to_string(),
                }
            });
        }
        let (sampler, gbnf) = grammar_sampler(&self.model, constraint)?;
        self.grammars
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, gbnf);
        Ok(sampler)
    }
}

/// A grammar sampler for a constraint and its GBNF, with llama.cpp's own error message
/// on failure (stderr is captured around the conversion and the parse).
fn grammar_sampler(
    model: &LlamaModel,
    constraint: &Constraint,
) -> Result<(LlamaSampler, String), ModelError> {
    let gbnf = match constraint {
        Constraint::Gbnf(g) => g.clone(),
        Constraint::JsonSchema(schema) => {
            let (result, stderr) =
                native::capture_stderr(|| llama_cpp_2::json_schema_to_grammar(&schema.to_string()));
            result.map_err(|e| ModelError::InvalidGrammar {
                message: format!(
                    "the JSON Schema cannot be turned into a grammar: {e}{}",
                    detail(&stderr)
                ),
            })?
        }
    };
    native::clear_log();
    let (result, stderr) = native::capture_stderr(|| LlamaSampler::grammar(model, &gbnf, "root"));
    let sampler = result.map_err(|e| {
        let mut message = parse_error_line(&stderr).unwrap_or_else(|| e.to_string());
        let log = native::take_log();
        if !log.is_empty() {
            message.push_str(&format!(" ({log})"));
        }
        ModelError::InvalidGrammar { message }
    })?;
    Ok((sampler, gbnf))
}

fn detail(stderr: &str) -> String {
    match stderr.lines().find(|l| !l.trim().is_empty()) {
        Some(l) => format!(" ({})", l.trim()),
        None => String::new(),
    }
}

/// llama.cpp prints "parse: error parsing grammar: <why>" followed by the grammar text.
fn parse_error_line(stderr: &str) -> Option<String> {
    stderr
        .lines()
        .find_map(|l| l.split_once("error parsing grammar: "))
        .map(|(_, why)| format!("llama.cpp could not parse the grammar: {}", why.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grammar_parse_error_line_is_extracted() {
        let stderr = "parse: error parsing grammar: expecting name at )\n\nroot ::= )\n";
        assert_eq!(
            parse_error_line(stderr).unwrap(),
            "llama.cpp could not parse the grammar: expecting name at )"
        );
    }
}
