//! Heading-aware chunking of markdown and text documents.
//!
//! A chunk never crosses a heading: each section is split on its own, into pieces of at
//! most `size` characters that overlap by `overlap` characters, cut at paragraph, then
//! sentence, then word boundaries. Front matter (`+++` TOML or `---` YAML) is not text; its
//! `id` and `title` name the document when present.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkOptions {
    /// Most characters in a chunk.
    pub size: usize,
    /// Characters shared by consecutive chunks of one section.
    pub overlap: usize,
}

impl Default for ChunkOptions {
    fn default() -> Self {
        ChunkOptions {
            size: 800,
            overlap: 100,
        }
    }
}

/// One chunk of a document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chunk {
    pub document: String,
    pub title: String,
    /// Headings above the chunk, outermost first, joined with " > ".
    pub heading: String,
    pub index: usize,
    pub text: String,
    /// The document's `attributes` table from TOML front matter, for filters (empty when
    /// it has none).
    #[serde(default)]
    pub attributes: serde_json::Map<String, serde_json::Value>,
    /// SHA-256 (hex) of what is embedded and of the attributes; unchanged chunks are
    /// skipped on re-ingestion.
    pub hash: String,
}

impl Chunk {
    /// What gets embedded: the title and heading path give a chunk its context.
    pub fn embed_text(&self) -> String {
        if self.heading.is_empty() || self.heading == self.title {
            format!("{}: {}", self.title, self.text)
        } else {
            format!("{} > {}: {}", self.title, self.heading, self.text)
        }
    }

    /// A stable point id from the document id and chunk index.
    pub fn point_id(&self) -> u64 {
        point_id(&self.document, self.index)
    }
}

pub fn point_id(document: &str, index: usize) -> u64 {
    let d = Sha256::digest(format!("{document}#{index}").as_bytes());
    u64::from_le_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]]) >> 1
}

use ladder_core::numbers::hex;

/// The `id` and `title` of front matter, and the text after it.
fn front_matter(text: &str) -> (Option<String>, Option<String>, &str) {
    for fence in ["+++", "---"] {
        let open = format!("{fence}\n");
        if let Some(rest) = text.strip_prefix(&open) {
            if let Some(end) = rest.find(&format!("\n{fence}")) {
                let front = &rest[..end];
                let body = rest[end + 1 + fence.len()..].trim_start_matches(['\r', '\n']);
                let field = |name: &str| {
                    front.lines().find_map(|l| {
                        let (k, v) = l.split_once(['=', ':'])?;
                        (k.trim() == name)
                            .then(|| v.trim().trim_matches('"').trim_matches('\'').to_string())
                    })
                };
                return (field("id"), field("title"), body);
            }
        }
    }
    (None, None, text)
}

/// Split `text` into pieces of at most `size` characters overlapping by `overlap`.
fn split(text: &str, opts: ChunkOptions) -> Vec<String> {
    let size = opts.size.max(50);
    let overlap = opts.overlap.min(size / 2);
    let chars: Vec<char> = text.chars().collect();
    if chars.len() <= size {
        return vec![text.trim().to_string()];
    }
    let mut out = Vec::new();
    let mut start = 0;
    while start < chars.len() {
        let hard_end = (start + size).min(chars.len());
        let mut end = hard_end;
        if hard_end < chars.len() {
            let window: String = chars[start..hard_end].iter().collect();
            // Prefer a paragraph break, then a sentence end, then a space, in the back half.
            let half = window.chars().count() / 2;
            let cut = ["\n\n", ". ", "\n", " "].iter().find_map(|sep| {
                window
                    .rfind(sep)
                    .map(|b| window[..b].chars().count() + sep.chars().count())
                    .filter(|&c| c > half)
            });
            if let Some(c) = cut {
                end = start + c;
            }
        }
        let piece: String = chars[start..end].iter().collect();
        let piece = piece.trim().to_string();
        if !piece.is_empty() {
            out.push(piece);
        }
        if end >= chars.len() {
            break;
        }
        let next = end.saturating_sub(overlap);
        // Start the overlap at a word boundary.
        let mut s = next.max(start + 1);
        while s < end && !chars[s - 1].is_whitespace() {
            s += 1;
        }
        start = if s >= end { next.max(start + 1) } else { s };
    }
    out
}

/// The `attributes` table of `+++` TOML front matter, as JSON (empty when there is none or
/// the front matter is not valid TOML: ingestion is for any folder of markdown, and a
/// suite's front matter is checked by `ladder validate`).
fn attributes(text: &str) -> serde_json::Map<String, serde_json::Value> {
    let Some(rest) = text.strip_prefix("+++\n") else {
        return Default::default();
    };
    let Some(end) = rest.find("\n+++") else {
        return Default::default();
    };
    let Ok(front) = rest[..end].parse::<toml::Table>() else {
        return Default::default();
    };
    match front
        .get("attributes")
        .and_then(|a| serde_json::to_value(a).ok())
    {
        Some(serde_json::Value::Object(map)) => map,
        _ => Default::default(),
    }
}

/// Chunk one document. `fallback_id` names it when it has no front-matter id.
pub fn chunk_document(text: &str, fallback_id: &str, opts: ChunkOptions) -> Vec<Chunk> {
    let attributes = attributes(text);
    let (id, title, body) = front_matter(text);
    let document = id.unwrap_or_else(|| fallback_id.to_string());
    let first_h1 = body
        .lines()
        .find_map(|l| l.strip_prefix("# ").map(|t| t.trim().to_string()));
    let title = title.or(first_h1).unwrap_or_else(|| document.clone());

    let mut sections: Vec<(String, String)> = Vec::new();
    let mut stack: Vec<(usize, String)> = Vec::new();
    let mut current = String::new();
    let heading_path = |stack: &Vec<(usize, String)>| {
        stack
            .iter()
            .map(|(_, t)| t.as_str())
            .collect::<Vec<_>>()
            .join(" > ")
    };
    let mut in_code = false;
    for line in body.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
        }
        let level = line.chars().take_while(|c| *c == '#').count();
        if !in_code && (1..=6).contains(&level) && line[level..].starts_with(' ') {
            if !current.trim().is_empty() {
                sections.push((heading_path(&stack), std::mem::take(&mut current)));
            }
            current.clear();
            while stack.last().is_some_and(|(l, _)| *l >= level) {
                stack.pop();
            }
            stack.push((level, line[level..].trim().to_string()));
            continue;
        }
        current.push_str(line);
        current.push('\n');
    }
    if !current.trim().is_empty() {
        sections.push((heading_path(&stack), current));
    }

    let mut chunks = Vec::new();
    for (heading, text) in sections {
        for piece in split(text.trim(), opts) {
            let mut c = Chunk {
                document: document.clone(),
                title: title.clone(),
                heading: heading.clone(),
                index: chunks.len(),
                text: piece,
                attributes: attributes.clone(),
                hash: String::new(),
            };
            let mut hashed = c.embed_text();
            if !c.attributes.is_empty() {
                hashed.push_str(&serde_json::Value::Object(c.attributes.clone()).to_string());
            }
            c.hash = hex(&Sha256::digest(hashed.as_bytes()));
            chunks.push(c);
        }
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "+++\nid = \"saltwick-bay\"\ntitle = \"Saltwick Bay\"\n+++\n# Saltwick Bay\n\nA quiet bay.\n\n## Getting there\n\nBy train, 3 hours.\n\n### From Ostby\n\nChange at Kelmarsh.\n\n## Costs\n\nBudget.\n";

    #[test]
    fn sections_follow_headings_and_front_matter_names_the_document() {
        let c = chunk_document(DOC, "fallback", ChunkOptions::default());
        let got: Vec<(&str, &str)> = c
            .iter()
            .map(|c| (c.heading.as_str(), c.text.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("Saltwick Bay", "A quiet bay."),
                ("Saltwick Bay > Getting there", "By train, 3 hours."),
                (
                    "Saltwick Bay > Getting there > From Ostby",
                    "Change at Kelmarsh."
                ),
                ("Saltwick Bay > Costs", "Budget."),
            ]
        );
        assert!(c
            .iter()
            .all(|c| c.document == "saltwick-bay" && c.title == "Saltwick Bay"));
        assert_eq!(
            c.iter().map(|c| c.index).collect::<Vec<_>>(),
            vec![0, 1, 2, 3]
        );
        assert!(!c[0].text.contains("+++") && !c[0].text.contains("id ="));
    }

    #[test]
    fn long_sections_split_with_overlap_within_the_size() {
        let sentence = "The harbour wall is long and the boats come home at dusk. ";
        let text = format!("# T\n\n{}", sentence.repeat(40));
        let opts = ChunkOptions {
            size: 300,
            overlap: 60,
        };
        let c = chunk_document(&text, "t", opts);
        assert!(c.len() > 5);
        assert!(
            c.iter().all(|c| c.text.chars().count() <= 300),
            "{:?}",
            c.iter().map(|c| c.text.len()).collect::<Vec<_>>()
        );
        for w in c.windows(2) {
            let tail: String = w[0]
                .text
                .chars()
                .rev()
                .take(20)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            assert!(
                w[1].text.contains(tail.trim()),
                "consecutive chunks overlap: {:?} / {:?}",
                w[0].text,
                w[1].text
            );
        }
    }

    #[test]
    fn front_matter_attributes_are_kept_for_filters() {
        let doc = "+++\nid = \"a\"\ntitle = \"A\"\n[attributes]\nscope = \"abroad\"\nmax_days = 7\nactivities = [\"diving\"]\n[attributes.hours_from]\nOstby = 2\n+++\nText.\n";
        let c = &chunk_document(doc, "x", ChunkOptions::default())[0];
        assert_eq!(c.attributes["scope"], "abroad");
        assert_eq!(c.attributes["max_days"], 7);
        assert_eq!(c.attributes["activities"][0], "diving");
        assert_eq!(c.attributes["hours_from"]["Ostby"], 2);
        let plain = &chunk_document("# T\n\nText.\n", "x", ChunkOptions::default())[0];
        assert!(plain.attributes.is_empty());
        // A changed attribute changes the hash, so re-ingestion updates the point.
        let changed = doc.replace("max_days = 7", "max_days = 8");
        assert_ne!(
            c.hash,
            chunk_document(&changed, "x", ChunkOptions::default())[0].hash
        );
    }

    #[test]
    fn ids_and_hashes_are_stable_and_change_with_content() {
        let a = chunk_document(DOC, "x", ChunkOptions::default());
        let b = chunk_document(DOC, "x", ChunkOptions::default());
        assert_eq!(a, b);
        assert_ne!(a[0].point_id(), a[1].point_id());
        let changed = chunk_document(
            &DOC.replace("3 hours", "4 hours"),
            "x",
            ChunkOptions::default(),
        );
        assert_eq!(a[0].hash, changed[0].hash);
        assert_ne!(a[1].hash, changed[1].hash);
    }

    #[test]
    fn plain_text_without_headings_is_one_section_titled_by_its_id() {
        let c = chunk_document(
            "just some words\nand more",
            "notes/readme",
            ChunkOptions::default(),
        );
        assert_eq!(c.len(), 1);
        assert_eq!(
            (c[0].title.as_str(), c[0].heading.as_str()),
            ("notes/readme", "")
        );
    }
}
