//! The pipeline file: which components run, with what settings, and what flows where.
//!
//! A pipeline is a petgraph `DiGraph` of components read from TOML (`[[node]]` entries with
//! an `id`, a `kind` and that kind's settings; `[[edge]]` entries `from` -> `to`). A suite
//! may have an override file that changes named nodes' settings.
//!
//! Invariants:
//! - A pipeline that [`Pipeline::plan`] accepts has known kinds and settings, no cycle, no
//!   edge to a missing node, exactly one `synthesis`, and every field of the state a
//!   component reads ([`Component::reads`]) written by an enabled component upstream of
//!   it; a read with a documented default may have no writer at all, but never one that
//!   runs beside or after the reader. Every refusal names the node (and the field, or the
//!   edge) and what was expected.
//! - The plan's order is topological with ties broken by the file's order, so a run's
//!   component events always come in the same order.
//! - A switched-off component is removed with its edges bridged (its predecessors feed its
//!   successors), so switching one off never disconnects the rest.

use std::collections::BTreeSet;

use petgraph::graph::{DiGraph, NodeIndex};
use serde::{Deserialize, Serialize};

pub use crate::catalogue::{Catalogue, Rule, RuleKind};
pub use crate::components::candidates::CandidatesSettings;
pub use crate::components::classifier::{ClassifierMethod, ClassifierSettings};
pub use crate::components::compress::{CompressMethod, CompressSettings};
pub use crate::components::debate::{Agent, DebateSettings};
pub use crate::components::form::{ExtractorMethod, FormSettings, SlotPattern};
pub use crate::components::retrieve::{FilterRule, RetrieveSettings, SlotFilter};
pub use crate::components::synthesis::SynthesisSettings;
pub use crate::components::vote::VoteSettings;
pub use crate::components::{Component, Kind, KINDS};
use crate::state::Field;

/// Why a pipeline file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("pipeline {origin}: {message}")]
pub struct PipelineError {
    /// The file (or "the built-in default").
    pub origin: String,
    pub message: String,
}

/// One node of the pipeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    pub id: String,
    pub enabled: bool,
    #[serde(flatten)]
    pub component: Kind,
}

/// An edge: `from`'s output flows to `to`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Edge {
    pub from: String,
    pub to: String,
}

/// A parsed pipeline file (not yet checked as a graph: see [`Pipeline::plan`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pipeline {
    /// Where it was read from, for messages.
    #[serde(skip)]
    pub origin: String,
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
    /// The team's catalogue wiring (`[catalogue]`), for the components that rank by it.
    pub catalogue: Catalogue,
}

/// The checked graph: the enabled components in the order they run.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub order: Vec<Node>,
    /// The enabled graph's edges (after bridging switched-off nodes), by node id.
    pub edges: Vec<(String, String)>,
    pub catalogue: Catalogue,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    node: Vec<toml::Table>,
    #[serde(default)]
    edge: Vec<Edge>,
    catalogue: Option<Catalogue>,
}

impl Pipeline {
    fn error(&self, message: impl Into<String>) -> PipelineError {
        PipelineError {
            origin: self.origin.clone(),
            message: message.into(),
        }
    }

    /// Read a pipeline file's text. `origin` names it in messages.
    pub fn parse(text: &str, origin: &str) -> Result<Pipeline, PipelineError> {
        let mut p = Pipeline {
            origin: origin.to_string(),
            nodes: Vec::new(),
            edges: Vec::new(),
            catalogue: Catalogue::default(),
        };
        let raw: RawFile = toml::from_str(text).map_err(|e| p.error(e.to_string()))?;
        for (i, table) in raw.node.into_iter().enumerate() {
            let node = parse_node(table, i).map_err(|m| p.error(m))?;
            if p.nodes.iter().any(|n| n.id == node.id) {
                return Err(p.error(format!("node `{}` is defined twice", node.id)));
            }
            p.nodes.push(node);
        }
        p.edges = raw.edge;
        p.catalogue = raw.catalogue.unwrap_or_default();
        Ok(p)
    }

    /// Apply an override file: each of its `[[node]]` entries names an existing node by
    /// `id` and replaces the settings it gives; its `[[edge]]` entries are added.
    pub fn with_override(mut self, text: &str, origin: &str) -> Result<Pipeline, PipelineError> {
        let err = |m: String| PipelineError {
            origin: origin.to_string(),
            message: m,
        };
        let raw: RawFile = toml::from_str(text).map_err(|e| err(e.to_string()))?;
        for (i, table) in raw.node.into_iter().enumerate() {
            let id = table
                .get("id")
                .and_then(|v| v.as_str())
                .ok_or_else(|| err(format!("node #{} has no `id` (a string)", i + 1)))?
                .to_string();
            let Some(pos) = self.nodes.iter().position(|n| n.id == id) else {
                return Err(err(format!(
                    "node `{id}` overrides no node of {}; its nodes are {}",
                    self.origin,
                    self.node_ids().join(", ")
                )));
            };
            let mut merged = toml::Table::try_from(&self.nodes[pos])
                .map_err(|e| err(format!("node `{id}`: {e}")))?;
            for (k, v) in table {
                merged.insert(k, v);
            }
            self.nodes[pos] = parse_node(merged, pos).map_err(err)?;
        }
        self.edges.extend(raw.edge);
        if let Some(c) = raw.catalogue {
            self.catalogue = c;
        }
        self.origin = format!("{} + {origin}", self.origin);
        Ok(self)
    }

    fn node_ids(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.id.clone()).collect()
    }

    /// Switch on the components named (by id or by kind) that the file switches off, as
    /// `--with vote` does.
    pub fn with_enabled(self, names: &[String]) -> Result<Pipeline, PipelineError> {
        self.switch(names, true, "--with")
    }

    /// Switch off the components named (by id or by kind). Synthesis cannot be switched
    /// off: it is what answers the user.
    pub fn without(self, names: &[String]) -> Result<Pipeline, PipelineError> {
        self.switch(names, false, "--without")
    }

    fn switch(mut self, names: &[String], on: bool, flag: &str) -> Result<Pipeline, PipelineError> {
        for name in names {
            let mut found = false;
            for node in &mut self.nodes {
                if node.id == *name || node.component.kind() == name {
                    if !on && matches!(node.component, Kind::Synthesis(_)) {
                        return Err(self_error(
                            &self.origin,
                            format!("`{name}` cannot be switched off: the synthesis component is what answers the user"),
                        ));
                    }
                    node.enabled = on;
                    found = true;
                }
            }
            if !found {
                return Err(self_error(
                    &self.origin,
                    format!(
                        "{flag} {name}: no node has that id or kind; the nodes are {}",
                        self.nodes
                            .iter()
                            .map(|n| format!("{} ({})", n.id, n.component.kind()))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
        }
        Ok(self)
    }

    /// The whole graph as petgraph sees it (every node, switched off or not).
    pub fn graph(&self) -> Result<DiGraph<String, ()>, PipelineError> {
        let mut g = DiGraph::new();
        let idx: Vec<NodeIndex> = self
            .nodes
            .iter()
            .map(|n| g.add_node(n.id.clone()))
            .collect();
        for e in &self.edges {
            let find = |id: &str| self.nodes.iter().position(|n| n.id == id);
            let (Some(a), Some(b)) = (find(&e.from), find(&e.to)) else {
                let missing = if find(&e.from).is_none() {
                    &e.from
                } else {
                    &e.to
                };
                return Err(self.error(format!(
                    "edge {} -> {}: there is no node `{missing}`; the nodes are {}",
                    e.from,
                    e.to,
                    self.node_ids().join(", ")
                )));
            };
            if a == b {
                return Err(self.error(format!(
                    "edge {} -> {}: a node cannot feed itself (a cycle)",
                    e.from, e.to
                )));
            }
            g.update_edge(idx[a], idx[b], ());
        }
        if let Err(cycle) = petgraph::algo::toposort(&g, None) {
            return Err(self.error(format!(
                "the edges make a cycle through node `{}`; a pipeline must flow one way",
                g[cycle.node_id()]
            )));
        }
        Ok(g)
    }

    /// Check the pipeline and order its enabled components.
    pub fn plan(&self) -> Result<Plan, PipelineError> {
        let g = self.graph()?;
        let n = self.nodes.len();
        // Reachability over every node, then edges between enabled nodes whose path runs
        // only through switched-off ones (bridging).
        let mut edges: BTreeSet<(usize, usize)> = BTreeSet::new();
        for a in 0..n {
            if !self.nodes[a].enabled {
                continue;
            }
            let mut stack: Vec<usize> = g.neighbors(NodeIndex::new(a)).map(|x| x.index()).collect();
            let mut seen = BTreeSet::new();
            while let Some(b) = stack.pop() {
                if !seen.insert(b) {
                    continue;
                }
                if self.nodes[b].enabled {
                    edges.insert((a, b));
                } else {
                    stack.extend(g.neighbors(NodeIndex::new(b)).map(|x| x.index()));
                }
            }
        }
        let enabled: Vec<usize> = (0..n).filter(|&i| self.nodes[i].enabled).collect();
        let synths: Vec<&Node> = enabled
            .iter()
            .map(|&i| &self.nodes[i])
            .filter(|x| matches!(x.component, Kind::Synthesis(_)))
            .collect();
        if synths.len() != 1 {
            return Err(self.error(format!(
                "a pipeline needs exactly one enabled `synthesis` node (it answers the user); found {}",
                if synths.is_empty() {
                    "none".to_string()
                } else {
                    synths.iter().map(|x| x.id.as_str()).collect::<Vec<_>>().join(", ")
                }
            )));
        }
        // Kahn's algorithm, ties broken by file order.
        let mut indegree = vec![0usize; n];
        for &(_, b) in &edges {
            indegree[b] += 1;
        }
        let mut ready: BTreeSet<usize> = enabled
            .iter()
            .copied()
            .filter(|&i| indegree[i] == 0)
            .collect();
        let mut order = Vec::new();
        while let Some(&i) = ready.iter().next() {
            ready.remove(&i);
            order.push(i);
            for &(a, b) in &edges {
                if a == i {
                    indegree[b] -= 1;
                    if indegree[b] == 0 {
                        ready.insert(b);
                    }
                }
            }
        }
        for &i in &order {
            if let Err(e) = self.nodes[i].component.check() {
                let node = &self.nodes[i];
                return Err(self.error(format!(
                    "node `{}` ({}): {e}",
                    node.id,
                    node.component.kind()
                )));
            }
        }
        self.check_reads(&order, &edges)?;
        self.catalogue.check().map_err(|e| self.error(e))?;
        Ok(Plan {
            order: order.iter().map(|&i| self.nodes[i].clone()).collect(),
            edges: edges
                .iter()
                .map(|&(a, b)| (self.nodes[a].id.clone(), self.nodes[b].id.clone()))
                .collect(),
            catalogue: self.catalogue.clone(),
        })
    }

    /// Every field a component reads is written by an enabled component upstream of it.
    /// A read with a documented default may have no writer at all; but a writer that runs
    /// beside or after the reader is refused, since what it reads would then depend on
    /// the file's order.
    fn check_reads(
        &self,
        order: &[usize],
        edges: &BTreeSet<(usize, usize)>,
    ) -> Result<(), PipelineError> {
        let writes = |j: usize, f: Field| self.nodes[j].component.writes().contains(&f);
        for &i in order {
            let node = &self.nodes[i];
            let id = &node.id;
            let upstream = ancestors(i, edges);
            for read in node.component.reads() {
                let field = read.field;
                if upstream.iter().any(|&u| writes(u, field)) {
                    continue;
                }
                let who = format!("node `{id}` ({})", node.component.kind());
                let what = format!("{} (the `{}` field)", field.what(), field.name());
                let beside = order.iter().copied().find(|&j| j != i && writes(j, field));
                match (read.otherwise, beside) {
                    (None, _) => {
                        let others: Vec<String> = (0..self.nodes.len())
                            .filter(|&j| j != i && writes(j, field))
                            .map(|j| {
                                let w = &self.nodes[j];
                                if w.enabled {
                                    format!("`{}`, which is not upstream of it", w.id)
                                } else {
                                    format!("`{}`, switched off", w.id)
                                }
                            })
                            .collect();
                        let written = if others.is_empty() {
                            String::new()
                        } else {
                            format!(" (written by {})", others.join("; "))
                        };
                        return Err(self.error(format!(
                            "{who} needs {what}, and no enabled component upstream of it writes that{written}; add an edge from one, or switch `{id}` off too"
                        )));
                    }
                    (Some(otherwise), Some(j)) => {
                        let w = &self.nodes[j].id;
                        return Err(self.error(format!(
                            "{who} reads {what}, which `{w}` writes, but `{w}` is not upstream of it, so what it reads would depend on the file's order; add an edge from `{w}` to `{id}` (or to a node before it), or switch `{w}` off (then `{id}` goes without: {otherwise})"
                        )));
                    }
                    (Some(_), None) => {}
                }
            }
        }
        Ok(())
    }

    /// The graph as text: each enabled component in order, with its settings and inputs;
    /// switched-off ones listed after.
    pub fn to_text(&self) -> Result<String, PipelineError> {
        let plan = self.plan()?;
        let mut out = format!("pipeline {}\n", self.origin);
        for (i, node) in plan.order.iter().enumerate() {
            let inputs: Vec<&str> = plan
                .edges
                .iter()
                .filter(|(_, b)| *b == node.id)
                .map(|(a, _)| a.as_str())
                .collect();
            out.push_str(&format!(
                "{:>2}. {} [{}] {}{}\n",
                i + 1,
                node.id,
                node.component.kind(),
                node.component.summary(),
                if inputs.is_empty() {
                    String::new()
                } else {
                    format!("  <- {}", inputs.join(", "))
                }
            ));
        }
        let off: Vec<String> = self
            .nodes
            .iter()
            .filter(|n| !n.enabled)
            .map(|n| format!("{} [{}]", n.id, n.component.kind()))
            .collect();
        if !off.is_empty() {
            out.push_str(&format!("switched off: {}\n", off.join(", ")));
        }
        if !plan.catalogue.is_empty() {
            let rules: Vec<String> = plan
                .catalogue
                .rules
                .iter()
                .map(|r| format!("{} -> {} ({:?})", r.slot, r.attribute, r.rule).to_lowercase())
                .collect();
            out.push_str(&format!(
                "catalogue: {} (a search of {} chunks)\n",
                rules.join("; "),
                plan.catalogue.pool
            ));
        }
        let calls: u32 = plan.order.iter().map(|n| n.component.max_calls()).sum();
        out.push_str(&format!(
            "model calls at most: {calls} (plus none for the form's questions, which go to the user)\n"
        ));
        Ok(out)
    }

    /// The graph in Graphviz DOT; switched-off components are dashed.
    pub fn to_dot(&self) -> Result<String, PipelineError> {
        let plan = self.plan()?;
        let mut out = String::from("digraph pipeline {\n  rankdir=LR;\n  node [shape=box];\n");
        let quote = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
        for n in &self.nodes {
            out.push_str(&format!(
                "  \"{}\" [label=\"{}\\n{}\\n{}\"{}];\n",
                quote(&n.id),
                quote(&n.id),
                n.component.kind(),
                quote(&n.component.summary()),
                if n.enabled { "" } else { ", style=dashed" }
            ));
        }
        for e in &self.edges {
            out.push_str(&format!(
                "  \"{}\" -> \"{}\";\n",
                quote(&e.from),
                quote(&e.to)
            ));
        }
        for (a, b) in &plan.edges {
            if !self.edges.iter().any(|e| e.from == *a && e.to == *b) {
                out.push_str(&format!(
                    "  \"{}\" -> \"{}\" [style=dotted, label=\"bridged\"];\n",
                    quote(a),
                    quote(b)
                ));
            }
        }
        out.push_str("}\n");
        Ok(out)
    }
}

fn self_error(origin: &str, message: String) -> PipelineError {
    PipelineError {
        origin: origin.to_string(),
        message,
    }
}

fn ancestors(i: usize, edges: &BTreeSet<(usize, usize)>) -> BTreeSet<usize> {
    let mut out = BTreeSet::new();
    let mut stack = vec![i];
    while let Some(x) = stack.pop() {
        for &(a, b) in edges {
            if b == x && out.insert(a) {
                stack.push(a);
            }
        }
    }
    out
}

fn parse_node(mut table: toml::Table, index: usize) -> Result<Node, String> {
    let id = match table.remove("id") {
        Some(toml::Value::String(s)) if !s.trim().is_empty() => s,
        Some(_) => {
            return Err(format!(
                "node #{}: `id` must be a non-empty string",
                index + 1
            ))
        }
        None => return Err(format!("node #{} has no `id`", index + 1)),
    };
    let enabled = match table.remove("enabled") {
        None => true,
        Some(toml::Value::Boolean(b)) => b,
        Some(_) => return Err(format!("node `{id}`: `enabled` must be true or false")),
    };
    let kind = match table.get("kind") {
        Some(toml::Value::String(k)) => k.clone(),
        _ => {
            return Err(format!(
                "node `{id}` has no `kind`; the kinds are {}",
                KINDS.join(", ")
            ))
        }
    };
    let unknown = || {
        format!(
            "node `{id}`: unknown component kind `{kind}`; the kinds are {}",
            KINDS.join(", ")
        )
    };
    if !KINDS.contains(&kind.as_str()) {
        return Err(unknown());
    }
    // Re-read the node as its own small document, so an error's span points at the
    // offending setting and the message can quote it.
    table.remove("kind");
    let text = toml::to_string(&table).map_err(|e| format!("node `{id}` ({kind}): {e}"))?;
    let component = Kind::parse(&kind, &text).ok_or_else(unknown)?;
    let component = component.map_err(|e: toml::de::Error| {
        let at = e
            .span()
            .and_then(|span| {
                let start = text[..span.start].rfind('\n').map_or(0, |i| i + 1);
                let end = text[span.start..]
                    .find('\n')
                    .map_or(text.len(), |i| span.start + i);
                let line = text[start..end].trim();
                (!line.is_empty()).then(|| format!(" (at `{line}`)"))
            })
            .unwrap_or_default();
        format!("node `{id}` ({kind}): {}{at}", e.message().trim())
    })?;
    Ok(Node {
        id,
        enabled,
        component,
    })
}
