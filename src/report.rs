//! `ladder report`, `ladder compare`, `ladder merge` and `ladder rescore`: a bench folder's
//! report files (and its table in a document), two bench folders side by side, folders of
//! several models made one, and a folder judged again by this build's judge. The figures are the harness's
//! (`ladder_harness::report`); this module only parses the arguments and prints.

use std::path::PathBuf;

use anyhow::Result;

#[derive(clap::Args)]
pub struct ReportArgs {
    /// The bench folder (`ladder bench --out DIR`).
    pub dir: PathBuf,
    /// Also put the bench's table (with what produced it) into this document, between
    /// `<!-- ladder report: NAME -->` and `<!-- end: NAME -->` (see --section).
    #[arg(long, value_name = "FILE", requires = "section")]
    pub into: Option<PathBuf>,
    /// The section's NAME in the --into document.
    #[arg(long, value_name = "NAME")]
    pub section: Option<String>,
}

#[derive(clap::Args)]
pub struct CompareArgs {
    /// The first bench folder (A).
    pub a: PathBuf,
    /// The second bench folder (B).
    pub b: PathBuf,
}

#[derive(clap::Args)]
pub struct MergeArgs {
    /// The bench folders, one or more models each (at least two folders).
    #[arg(required = true, num_args = 2..)]
    pub dirs: Vec<PathBuf>,
    /// The new folder to write the merged bench to; `ladder report DIR` then reports it.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

#[derive(clap::Args)]
pub struct RescoreArgs {
    /// The bench folder to judge again (it is not changed).
    pub dir: PathBuf,
    /// The new folder for the rescored runs (manifest, results, traces); `ladder report
    /// DIR` then reports it.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

/// Judge a bench folder's runs again into a new folder, say what changed, and report it.
pub fn rescore(args: &RescoreArgs) -> Result<()> {
    let (_, records, done) = ladder_harness::bench::rescore(&args.dir, &args.out)?;
    println!(
        "judged {} of {} runs again with judge {} (they were judged by {}); {} changed success:",
        done.judged,
        done.runs,
        ladder_world::score::JUDGE_VERSION,
        match done.from_judges.as_slice() {
            [] => "none".to_string(),
            v => format!(
                "judge {}",
                v.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")
            ),
        },
        done.flipped.len()
    );
    for (suite, task, label, trial, was, now) in &done.flipped {
        let word = |s: bool| if s { "success" } else { "failure" };
        println!(
            "  {suite} {task} {label} trial {trial}: {} -> {}",
            word(*was),
            word(*now)
        );
    }
    for k in &done.kept {
        println!("  kept its old score: {k}");
    }
    let won = records.iter().filter(|r| r.success()).count();
    println!(
        "{won}/{} successes now; in {}",
        records.len(),
        args.out.display()
    );
    for path in ladder_harness::report::write(&args.out)? {
        println!("wrote {}", path.display());
    }
    Ok(())
}

/// Merge bench folders into a new one and write its report.
pub fn merge(args: &MergeArgs) -> Result<()> {
    let (manifest, records) = ladder_harness::bench::merge(&args.dirs, &args.out)?;
    println!(
        "merged {} runs of {} models from {} folders into {}",
        records.len(),
        manifest.plan.models.len(),
        args.dirs.len(),
        args.out.display()
    );
    for path in ladder_harness::report::write(&args.out)? {
        println!("wrote {}", path.display());
    }
    Ok(())
}

/// Write the report files of a bench folder, and its section of a document.
pub fn report(args: &ReportArgs) -> Result<()> {
    let ReportArgs { dir, into, section } = args;
    for path in ladder_harness::report::write(dir)? {
        println!("wrote {}", path.display());
    }
    if let (Some(doc), Some(name)) = (into, section) {
        ladder_harness::report::into_document(dir, doc, name)?;
        println!("updated section {name} of {}", doc.display());
    }
    Ok(())
}

/// Print two bench folders' comparison.
pub fn compare(args: &CompareArgs) -> Result<()> {
    let CompareArgs { a, b } = args;
    print!("{}", ladder_harness::report::compare_dirs(a, b)?);
    Ok(())
}
