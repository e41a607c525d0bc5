//! The pipeline loader: the built-in files, and one message per kind of bad file.

use super::*;

fn plan_of(text: &str) -> Result<Plan, PipelineError> {
    Pipeline::parse(text, "test.toml")?.plan()
}

fn err_of(text: &str) -> String {
    match plan_of(text) {
        Ok(p) => panic!("accepted a bad pipeline: {p:?}"),
        Err(e) => e.to_string(),
    }
}

const SMALL: &str = r#"
[[node]]
id = "classify"
kind = "classifier"
method = "embedding"
[[node]]
id = "form"
kind = "form"
extractor = "embedding"
[[node]]
id = "answer"
kind = "synthesis"
max_tokens = 64
[[edge]]
from = "classify"
to = "form"
[[edge]]
from = "form"
to = "answer"
"#;

/// The committed suites' overrides, as a test reads them (the crate itself never reads a
/// suite folder: whoever runs a task hands its suite's override over).
const SUITE_OVERRIDES: &[(&str, &str)] = &[
    (
        "seaside",
        include_str!("../../../fixtures/suites/seaside/pipeline.toml"),
    ),
    (
        "helpdesk",
        include_str!("../../../fixtures/suites/helpdesk/pipeline.toml"),
    ),
    (
        "facts",
        include_str!("../../../fixtures/suites/facts/pipeline.toml"),
    ),
];

fn suite_source(suite: &str) -> PipelineSource {
    let (_, text) = SUITE_OVERRIDES
        .iter()
        .find(|(s, _)| *s == suite)
        .expect("a committed suite");
    PipelineSource::Suite {
        path: format!("fixtures/suites/{suite}/pipeline.toml"),
        text: text.to_string(),
    }
}

fn scaffold_for(suite: &str) -> Scaffold {
    Scaffold::new(suite_source(suite), Switches::default()).expect("a valid override")
}

/// The default pipeline's components in the order they run.
const DEFAULT_ORDER: [&str; 7] = [
    "classify",
    "form",
    "retrieve",
    "candidates",
    "compress",
    "debate",
    "answer",
];

#[test]
fn the_built_in_pipelines_are_valid_and_run_in_graph_order() {
    let ids = |p: &Plan| p.order.iter().map(|n| n.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(scaffold_for("helpdesk").plan()), DEFAULT_ORDER);
    assert_eq!(ids(Scaffold::default().plan()), DEFAULT_ORDER);
    let seaside = scaffold_for("seaside");
    let sea = seaside.plan();
    let Some(Kind::Retrieve(r)) = sea
        .order
        .iter()
        .find(|n| n.id == "retrieve")
        .map(|n| &n.component)
    else {
        panic!("no retrieve node")
    };
    assert_eq!(r.filters.len(), 3, "seaside's override adds its filters");
    let facts = scaffold_for("facts");
    let Some(Kind::Retrieve(r)) = facts
        .plan()
        .order
        .iter()
        .find(|n| n.id == "retrieve")
        .map(|n| &n.component)
    else {
        panic!("no retrieve node")
    };
    assert!(r.filters.is_empty(), "other suites keep the default");
    let text = Scaffold::pipeline(&suite_source("seaside"), &Switches::default())
        .and_then(|p| p.to_text())
        .expect("text");
    assert!(text.contains("switched off: vote [vote]"), "{text}");
    let dot = Scaffold::pipeline(&suite_source("seaside"), &Switches::default())
        .and_then(|p| p.to_dot())
        .expect("dot");
    assert!(dot.starts_with("digraph pipeline {") && dot.contains("\"classify\" -> \"form\";"));
}

#[test]
fn switching_components_off_bridges_their_edges() {
    let p = Scaffold::pipeline(
        &suite_source("helpdesk"),
        &Switches::without(&["compress", "debate"]),
    )
    .expect("pipeline");
    let plan = p.plan().expect("plan");
    assert_eq!(
        plan.order.iter().map(|n| n.id.as_str()).collect::<Vec<_>>(),
        ["classify", "form", "retrieve", "candidates", "answer"]
    );
    assert!(
        plan.edges.contains(&("candidates".into(), "answer".into())),
        "{:?}",
        plan.edges
    );
    // Everything but synthesis off leaves one node.
    let all = Switches::without(&[
        "classifier",
        "form",
        "retrieve",
        "candidates",
        "compress",
        "debate",
    ]);
    let plan = Scaffold::pipeline(&suite_source("seaside"), &all)
        .and_then(|p| p.plan())
        .expect("plan");
    assert_eq!(plan.order.len(), 1);
}

#[test]
fn vote_can_take_debates_place() {
    let switches = Switches {
        with: vec!["vote".into()],
        without: vec!["debate".into()],
        ..Switches::default()
    };
    let p = Scaffold::pipeline(&suite_source("seaside"), &switches)
        .and_then(|p| p.plan())
        .expect("plan");
    let ids: Vec<&str> = p.order.iter().map(|n| n.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "classify",
            "form",
            "retrieve",
            "candidates",
            "compress",
            "vote",
            "answer"
        ]
    );
    let calls = |id: &str| {
        Pipeline::parse(DEFAULT_PIPELINE, "x")
            .map(|p| {
                p.nodes
                    .iter()
                    .find(|n| n.id == id)
                    .map(|n| n.component.max_calls())
            })
            .expect("parse")
    };
    assert_eq!(
        calls("vote"),
        calls("debate"),
        "vote matches debate's calls by default"
    );
}

#[test]
fn an_unknown_component_kind_is_named_with_the_known_ones() {
    let e = err_of(&SMALL.replace("kind = \"form\"", "kind = \"slots\""));
    assert!(
        e.contains("node `form`: unknown component kind `slots`"),
        "{e}"
    );
    assert!(e.contains("classifier, form, retrieve"), "{e}");
}

#[test]
fn an_unknown_setting_names_the_node_and_the_field() {
    let e = err_of(&SMALL.replace("max_tokens = 64", "max_tokens = 64\ntemperature = 0.3"));
    assert!(e.contains("node `answer` (synthesis)"), "{e}");
    assert!(e.contains("temperature"), "{e}");
    let e = err_of(&SMALL.replace("method = \"embedding\"", "method = \"bayes\""));
    assert!(
        e.contains("node `classify` (classifier)") && e.contains("bayes"),
        "{e}"
    );
    let e = err_of(&SMALL.replace("max_tokens = 64", "max_tokens = \"many\""));
    assert!(
        e.contains("node `answer`") && e.contains("max_tokens"),
        "{e}"
    );
}

#[test]
fn a_missing_setting_names_the_node() {
    let e = err_of(&SMALL.replace("max_tokens = 64", ""));
    assert!(
        e.contains("node `answer` (synthesis)") && e.contains("max_tokens"),
        "{e}"
    );
}

#[test]
fn a_cycle_is_refused_naming_a_node_on_it() {
    let e = err_of(&format!(
        "{SMALL}\n[[edge]]\nfrom = \"answer\"\nto = \"classify\"\n"
    ));
    assert!(e.contains("cycle through node `"), "{e}");
    let e = err_of(&format!(
        "{SMALL}\n[[edge]]\nfrom = \"form\"\nto = \"form\"\n"
    ));
    assert!(
        e.contains("edge form -> form") && e.contains("cycle"),
        "{e}"
    );
}

#[test]
fn an_edge_to_a_missing_node_names_the_edge_and_the_nodes() {
    let e = err_of(&SMALL.replace("to = \"answer\"", "to = \"anwser\""));
    assert!(
        e.contains("edge form -> anwser: there is no node `anwser`"),
        "{e}"
    );
    assert!(e.contains("the nodes are classify, form, answer"), "{e}");
}

#[test]
fn a_missing_required_input_names_the_node_and_what_it_needs() {
    let e = err_of(&SMALL.replace(
        "from = \"classify\"\nto = \"form\"",
        "from = \"form\"\nto = \"answer\"",
    ));
    assert!(e.contains("node `form` (form) needs an intent"), "{e}");
    let e = Pipeline::parse(SMALL, "t")
        .and_then(|p| p.without(&["classify".into()]))
        .and_then(|p| p.plan())
        .expect_err("form without a classifier");
    assert!(e.to_string().contains("switch `form` off too"), "{e}");
}

#[test]
fn synthesis_is_required_once_and_cannot_be_switched_off() {
    let e = err_of(&format!(
        "{SMALL}\n[[node]]\nid = \"answer2\"\nkind = \"synthesis\"\nmax_tokens = 8\n"
    ));
    assert!(
        e.contains("exactly one enabled `synthesis`") && e.contains("answer, answer2"),
        "{e}"
    );
    let e = Pipeline::parse(SMALL, "t")
        .and_then(|p| p.without(&["answer".into()]))
        .expect_err("no synthesis");
    assert!(e.to_string().contains("cannot be switched off"), "{e}");
    let e = Pipeline::parse(SMALL, "t")
        .and_then(|p| p.without(&["debat".into()]))
        .expect_err("unknown");
    assert!(
        e.to_string()
            .contains("--without debat: no node has that id or kind"),
        "{e}"
    );
}

#[test]
fn duplicate_ids_and_missing_ids_are_refused() {
    let e = err_of(&SMALL.replace("id = \"form\"", "id = \"classify\""));
    assert!(e.contains("node `classify` is defined twice"), "{e}");
    let e = err_of(&SMALL.replace("id = \"form\"\n", ""));
    assert!(e.contains("node #2 has no `id`"), "{e}");
    let e = err_of("[[nodes]]\nid = \"x\"\n");
    assert!(e.contains("nodes"), "a misspelt table is named: {e}");
}

#[test]
fn an_override_changes_named_nodes_and_refuses_unknown_ones() {
    let p = Pipeline::parse(SMALL, "base")
        .and_then(|p| p.with_override("[[node]]\nid = \"answer\"\nmax_tokens = 9\n", "o.toml"))
        .expect("override");
    assert_eq!(
        p.nodes[2].component,
        Kind::Synthesis(pipeline::SynthesisSettings { max_tokens: 9 })
    );
    let e = Pipeline::parse(SMALL, "base")
        .and_then(|p| p.with_override("[[node]]\nid = \"debate\"\nrounds = 2\n", "o.toml"))
        .expect_err("unknown node");
    assert!(
        e.to_string()
            .contains("node `debate` overrides no node of base"),
        "{e}"
    );
}

#[test]
fn a_file_scaffold_is_checked_when_it_is_made() {
    let e = Scaffold::new(
        PipelineSource::File {
            path: "mine.toml".into(),
            text: SMALL.replace("kind = \"form\"", "kind = \"slots\""),
        },
        Switches::default(),
    )
    .expect_err("bad file");
    assert!(
        e.to_string().starts_with("pipeline mine.toml: node `form`"),
        "{e}"
    );
}

#[test]
fn a_component_that_reads_what_nothing_upstream_writes_is_refused_naming_node_and_field() {
    // The form fills slots, but nothing joins it to the synthesis that reads them: it
    // would see them only because the file lists the form first.
    let e = err_of(&SMALL.replace("[[edge]]\nfrom = \"form\"\nto = \"answer\"\n", ""));
    assert!(
        e.contains("node `answer` (synthesis) reads filled slots (the `slots` field), which `form` writes, but `form` is not upstream of it"),
        "{e}"
    );
    assert!(e.contains("add an edge from `form` to `answer`"), "{e}");
    // Retrieval that runs before the form it reads the slots of.
    let retrieve_first = format!(
        "{SMALL}\n[[node]]\nid = \"retrieve\"\nkind = \"retrieve\"\nk = 2\n[[edge]]\nfrom = \"retrieve\"\nto = \"form\"\n"
    );
    let e = err_of(&retrieve_first);
    assert!(
        e.contains("node `retrieve` (retrieve) reads filled slots (the `slots` field), which `form` writes"),
        "{e}"
    );
    // A required field written only downstream is named with its writer.
    let compress_first = format!(
        "{SMALL}\n[[node]]\nid = \"retrieve\"\nkind = \"retrieve\"\nk = 2\n[[node]]\nid = \"compress\"\nkind = \"compress\"\nmethod = \"drop_chunks\"\nbudget_tokens = 9\n[[edge]]\nfrom = \"compress\"\nto = \"retrieve\"\n[[edge]]\nfrom = \"retrieve\"\nto = \"form\"\n"
    );
    let e = err_of(&compress_first);
    assert!(
        e.contains("node `compress` (compress) needs documents (the `hits` field)")
            && e.contains("written by `retrieve`, which is not upstream of it"),
        "{e}"
    );
    // An optional read whose writer is switched off takes its documented default.
    let p = Pipeline::parse(SMALL, "t")
        .and_then(|p| p.without(&["form".into()]))
        .and_then(|p| p.plan())
        .expect("the synthesis goes without the slots");
    assert_eq!(p.order.len(), 2);
    // Two writers beside each other: the vote would read the debate's drafts or not
    // depending on the file's order.
    let both = Switches {
        with: vec!["vote".into()],
        ..Switches::default()
    };
    let e = Scaffold::new(PipelineSource::Default, both).expect_err("vote beside debate");
    assert!(
        e.to_string().contains(
            "node `vote` (vote) reads drafts (the `drafts` field), which `debate` writes"
        ),
        "{e}"
    );
}

/// The registry's ablation variants, read from its source (the harness is above this
/// crate): the components each switches off and on.
fn registry_ablations() -> Vec<(Vec<String>, Vec<String>)> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../ladder-harness/src/registry.rs"
    );
    let text = std::fs::read_to_string(path).expect("the harness's registry");
    let call = regex::Regex::new(r"scaffold_variant\(\s*o,\s*&\[([^\]]*)\],\s*&\[([^\]]*)\]\s*\)")
        .expect("regex");
    let names = |list: &str| -> Vec<String> {
        list.split(',')
            .map(|s| s.trim().trim_matches('"').to_string())
            .filter(|s| !s.is_empty())
            .collect()
    };
    let found: Vec<(Vec<String>, Vec<String>)> = call
        .captures_iter(&text)
        .map(|c| (names(&c[1]), names(&c[2])))
        .collect();
    // The others change settings, not switches (`scaffold_with`): their plans are
    // checked by the harness's registry test.
    assert_eq!(
        found.len() + text.matches("build: |o| scaffold_with(").count(),
        text.matches("name: \"scaffold-").count(),
        "every scaffold-<variant> of the registry is read"
    );
    found
}

#[test]
fn every_shipped_pipeline_and_ablation_plans() {
    // fixtures/pipelines holds the default alone: a suite's override is in its folder.
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/pipelines");
    for entry in std::fs::read_dir(dir).expect("fixtures/pipelines") {
        let name = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        assert_eq!(
            name, "default.toml",
            "a suite's override belongs in fixtures/suites/<suite>/pipeline.toml"
        );
    }
    let ablations = registry_ablations();
    assert!(ablations.len() >= 6, "{ablations:?}");
    let mut variants = vec![(vec![], vec![])];
    variants.extend(ablations);
    for (without, with) in variants {
        let switches = Switches {
            with,
            without,
            ..Switches::default()
        };
        // `new` plans the pipeline it is given: the default and each suite's.
        let sources = std::iter::once(("default", PipelineSource::Default))
            .chain(SUITE_OVERRIDES.iter().map(|(s, _)| (*s, suite_source(s))));
        for (suite, source) in sources {
            let s = Scaffold::new(source, switches.clone())
                .unwrap_or_else(|e| panic!("{suite} {switches:?}: {e}"));
            let plan = s.plan();
            assert_eq!(
                plan.order.last().map(|n| n.component.kind()),
                Some("synthesis"),
                "{suite} {switches:?}"
            );
        }
    }
}

#[test]
fn every_kind_is_registered_once_and_named_as_files_name_it() {
    let p = Pipeline::parse(DEFAULT_PIPELINE, "default").expect("parse");
    let mut kinds: Vec<&str> = p.nodes.iter().map(|n| n.component.kind()).collect();
    kinds.sort_unstable();
    let mut registered = KINDS.to_vec();
    registered.sort_unstable();
    assert_eq!(
        kinds, registered,
        "the default pipeline has one node of each kind"
    );
    for node in &p.nodes {
        let table = toml::Table::try_from(node).expect("a node serializes");
        assert_eq!(
            table.get("kind").and_then(|k| k.as_str()),
            Some(node.component.kind()),
            "the serialized tag is the kind's name"
        );
        // Every field a kind needs is written by some kind.
        for read in node.component.reads() {
            assert!(
                p.nodes
                    .iter()
                    .any(|w| w.id != node.id && w.component.writes().contains(&read.field)),
                "{}: nothing writes {}",
                node.id,
                read.field.name()
            );
        }
    }
}

#[test]
fn a_component_sees_only_what_it_reads_and_keeps_only_what_it_writes() {
    let full = State {
        intents: Some(vec!["plan_trip".into()]),
        slots: vec![("days".into(), "3 days".into())],
        query: "q".into(),
        context: Some("c".into()),
        ..State::default()
    };
    let seen = full.view([Field::Slots]);
    assert_eq!(seen.slots, full.slots);
    assert_eq!(seen.intents, None);
    assert!(seen.query.is_empty() && seen.context.is_none());
    let mut out = seen.clone();
    out.slots.clear();
    out.query = "changed".into();
    let mut kept = full.clone();
    kept.keep(&out, &[Field::Slots]);
    assert!(kept.slots.is_empty(), "a written field is kept");
    assert_eq!(kept.query, "q", "an unwritten change is dropped");
    assert_eq!(Field::ALL.len(), 8);
}

#[test]
fn a_suite_override_is_the_text_handed_over_and_its_hash_is_in_the_settings() {
    let text = "[[node]]\nid = \"retrieve\"\nk = 2\n\n[[node]]\nid = \"debate\"\nenabled = false\n";
    let source = PipelineSource::Suite {
        path: "/elsewhere/seaside/pipeline.toml".into(),
        text: text.into(),
    };
    let s = Scaffold::new(source, Switches::default()).expect("a valid override");
    let ids: Vec<&str> = s.plan().order.iter().map(|n| n.id.as_str()).collect();
    assert!(!ids.contains(&"debate"), "{ids:?}");
    let Some(Kind::Retrieve(r)) = s
        .plan()
        .order
        .iter()
        .find(|n| n.id == "retrieve")
        .map(|n| &n.component)
    else {
        panic!("no retrieve node")
    };
    assert_eq!(r.k, 2);
    let settings = s.settings();
    assert_eq!(
        settings["suite_override"],
        "/elsewhere/seaside/pipeline.toml"
    );
    assert_eq!(
        settings["hashes"]["pipelines"]["suite"],
        content_hash(&text),
        "the hash is of the text used"
    );
    assert_eq!(
        settings["hashes"]["pipelines"]["default"],
        content_hash(&DEFAULT_PIPELINE)
    );
    // No settings by a suite's name: the default is the default, whatever the suite.
    let d = Scaffold::default().settings();
    assert!(d["suite_override"].is_null(), "{d}");
    assert!(d["hashes"]["pipelines"].get("suite").is_none(), "{d}");
    // A bad override is refused naming its file.
    let e = Scaffold::new(
        PipelineSource::Suite {
            path: "/elsewhere/x/pipeline.toml".into(),
            text: "[[node]]\nid = \"nope\"\n".into(),
        },
        Switches::default(),
    )
    .expect_err("an override of no node");
    assert!(e.to_string().contains("/elsewhere/x/pipeline.toml"), "{e}");
}
