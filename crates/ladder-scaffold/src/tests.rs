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

#[test]
fn the_built_in_pipelines_are_valid_and_run_in_graph_order() {
    let s = Scaffold::default();
    let ids = |p: &Plan| p.order.iter().map(|n| n.id.clone()).collect::<Vec<_>>();
    assert_eq!(
        ids(s.plan_for("helpdesk")),
        ["classify", "form", "retrieve", "compress", "debate", "answer"]
    );
    let sea = s.plan_for("seaside");
    let Some(Component::Retrieve(r)) = sea
        .order
        .iter()
        .find(|n| n.id == "retrieve")
        .map(|n| &n.component)
    else {
        panic!("no retrieve node")
    };
    assert_eq!(r.filters.len(), 3, "seaside's override adds its filters");
    let Some(Component::Retrieve(r)) = s
        .plan_for("facts")
        .order
        .iter()
        .find(|n| n.id == "retrieve")
        .map(|n| &n.component)
    else {
        panic!("no retrieve node")
    };
    assert!(r.filters.is_empty(), "other suites keep the default");
    let text = Scaffold::pipeline(&PipelineSource::Default, "seaside", &Switches::default())
        .and_then(|p| p.to_text())
        .expect("text");
    assert!(text.contains("switched off: vote [vote]"), "{text}");
    let dot = Scaffold::pipeline(&PipelineSource::Default, "seaside", &Switches::default())
        .and_then(|p| p.to_dot())
        .expect("dot");
    assert!(dot.starts_with("digraph pipeline {") && dot.contains("\"classify\" -> \"form\";"));
}

#[test]
fn switching_components_off_bridges_their_edges() {
    let p = Scaffold::pipeline(
        &PipelineSource::Default,
        "helpdesk",
        &Switches::without(&["compress", "debate"]),
    )
    .expect("pipeline");
    let plan = p.plan().expect("plan");
    assert_eq!(
        plan.order.iter().map(|n| n.id.as_str()).collect::<Vec<_>>(),
        ["classify", "form", "retrieve", "answer"]
    );
    assert!(
        plan.edges.contains(&("retrieve".into(), "answer".into())),
        "{:?}",
        plan.edges
    );
    // Everything but synthesis off leaves one node.
    let all = Switches::without(&["classifier", "form", "retrieve", "compress", "debate"]);
    let plan = Scaffold::pipeline(&PipelineSource::Default, "seaside", &all)
        .and_then(|p| p.plan())
        .expect("plan");
    assert_eq!(plan.order.len(), 1);
}

#[test]
fn vote_can_take_debates_place() {
    let switches = Switches {
        with: vec!["vote".into()],
        without: vec!["debate".into()],
    };
    let p = Scaffold::pipeline(&PipelineSource::Default, "seaside", &switches)
        .and_then(|p| p.plan())
        .expect("plan");
    let ids: Vec<&str> = p.order.iter().map(|n| n.id.as_str()).collect();
    assert_eq!(
        ids,
        ["classify", "form", "retrieve", "compress", "vote", "answer"]
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
        Component::Synthesis(pipeline::SynthesisSettings { max_tokens: 9 })
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
