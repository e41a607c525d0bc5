//! `ladder validate`, `ladder world generate` and `ladder schema`: the benchmark world.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};

/// `ladder validate`: every problem of every suite, with file and line.
pub fn validate(suites: &[String]) -> Result<()> {
    let root = ladder_world::default_suites_dir();
    let dirs: Vec<PathBuf> = if suites.is_empty() {
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
            .with_context(|| format!("cannot list the suites in {}", root.display()))?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_dir())
            .collect();
        dirs.sort();
        dirs
    } else {
        suites
            .iter()
            .map(|s| {
                let p = PathBuf::from(s);
                if p.is_dir() {
                    p
                } else {
                    root.join(s)
                }
            })
            .collect()
    };
    let mut total = 0;
    for dir in &dirs {
        let (suite, problems) = ladder_world::validate::read(dir);
        for p in &problems {
            println!("{p}");
        }
        match (&suite, problems.len()) {
            (Some(s), 0) => println!(
                "ok: {} ({} tasks, {} documents, {} intents)",
                dir.display(),
                s.tasks.len(),
                s.documents.len(),
                s.manifest.intents.len()
            ),
            (_, n) => println!("{}: {n} problem(s)", dir.display()),
        }
        total += problems.len();
    }
    if total > 0 {
        bail!("{total} problem(s) in {} suite(s)", dirs.len());
    }
    Ok(())
}

/// `ladder world generate`: write the suites from the fixed-seed generator.
pub fn generate(out: &std::path::Path, seed: u64, scale: usize, only: Vec<String>) -> Result<()> {
    let names: Vec<String> = if only.is_empty() {
        ladder_world::gen::SUITES
            .iter()
            .map(|s| s.to_string())
            .collect()
    } else {
        only
    };
    for name in &names {
        let generated =
            ladder_world::gen::generate(name, ladder_world::gen::GenOptions { seed, scale })
                .with_context(|| {
                    format!(
                        "unknown suite {name:?}; the generator knows {:?}",
                        ladder_world::gen::SUITES
                    )
                })?;
        generated
            .write(out)
            .with_context(|| format!("cannot write suite {name} into {}", out.display()))?;
        println!(
            "wrote {} ({} files) into {}",
            name,
            generated.files.len(),
            out.join(name).display()
        );
    }
    Ok(())
}

/// `ladder schema`: the JSON Schemas of the fixture files.
pub fn schema(out: &std::path::Path) -> Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    for (name, text) in ladder_world::schema::schemas() {
        let path = out.join(name);
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
