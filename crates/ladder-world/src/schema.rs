//! JSON Schemas for the fixture files, generated from the Rust types so they cannot drift.
//! `ladder schema` writes them to `fixtures/schema/`; a test checks the committed copies.

use ladder_core::TaskFile;
use schemars::schema_for;

use crate::suite::{FrontMatter, Manifest};

/// (file name, schema JSON) for each fixture file kind.
pub fn schemas() -> Vec<(&'static str, String)> {
    // Sorted keys: the bytes must not depend on which serde_json features the build has.
    let pretty =
        |v: schemars::schema::RootSchema| ladder_core::model::canonical_json_pretty(&v) + "\n";
    vec![
        ("suite.schema.json", pretty(schema_for!(Manifest))),
        ("tasks.schema.json", pretty(schema_for!(TaskFile))),
        ("document.schema.json", pretty(schema_for!(FrontMatter))),
    ]
}
