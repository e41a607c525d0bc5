//! The experiment: generations of the loop with an evolving playbook, each scored on the
//! dev split it learns from, the test split it never reads and a suite it never saw.
//!
//! The folder (`--out`):
//! - `evolve.json`: the settings ([`Settings`]); a resume must match them, but for more
//!   generations or another mode, which only add parts (the file then keeps the most
//!   generations and every mode run in the folder, for the report and a replay).
//! - `gen-0/` (shared by the modes: the loop with no playbook), then `deltas/gen-G/` and
//!   `rewrite/gen-G/`, each with `candidate.json` (the playbook its dev runs used),
//!   `playbook.json` (the one kept: the candidate, or with `--rollback` the parent's bytes
//!   when the candidate did worse on dev), `curation.json` (how the candidate was made from
//!   the parent: the reflections shown, the curator's reply, the deltas, what was refused),
//!   `reflections.json` (the model's reading of this generation's dev runs), the bench
//!   folders `dev/`, `test/`, `transfer/`, `generation.json` (its figures) and
//!   `cassette.jsonl` (every model call that made it).
//! - `baselines/{direct,hand,scaffold}/{test,transfer}/`: the fixed comparisons.
//!
//! Invariants:
//! - The reflector reads only dev runs; the test and transfer runs are only scored.
//! - A lesson is kept only if it has none of the held-out tasks' texts ([`Secrets`]: every
//!   task of both test splits), checked as it is applied and again on every playbook read
//!   or written (the report checks every saved one once more).
//! - A run that ended in an error (no model, a failed setup) is never reflected on.
//! - A reflection or curation saved before a stop is read again, never asked again, so a
//!   cassette holds one reply per request and a replay serves the ones that were used.
//! - Every step is saved before the next starts and is skipped when found saved, so a
//!   stopped experiment resumes where it stopped (the benches resume run by run).
//! - A generation's model calls are in its own cassette; a replay serves each generation
//!   from its cassette with no model, and must give the same playbooks and results.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ladder_core::{Embedder, LanguageModel, Session, Split, Task};
use ladder_harness::bench::{self, BenchSpec, Plan, Record, SplitChoice, Tasks};
use ladder_harness::registry::StrategyOptions;
use serde::{Deserialize, Serialize};

use crate::leak::Secrets;
use crate::playbook::{self, Cap, Delta, Playbook, Refused};
use crate::reflect::{self, Reflection};
use crate::EvolveError;

/// How the curator changes the playbook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpdateMode {
    /// Add, edit and remove lessons (ACE's way).
    Deltas,
    /// Write the whole playbook anew each generation (what collapses, per ACE).
    Rewrite,
}

impl UpdateMode {
    pub fn name(self) -> &'static str {
        match self {
            UpdateMode::Deltas => "deltas",
            UpdateMode::Rewrite => "rewrite",
        }
    }
}

impl std::str::FromStr for UpdateMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "deltas" => Ok(UpdateMode::Deltas),
            "rewrite" => Ok(UpdateMode::Rewrite),
            other => Err(format!("--mode takes deltas or rewrite, not {other:?}")),
        }
    }
}

/// The experiment's settings, saved as `evolve.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    pub suite: String,
    /// The suite it never sees, scored on its test split.
    pub transfer: Option<String>,
    pub generations: u32,
    pub modes: Vec<UpdateMode>,
    /// The tasks of each part, chosen once.
    pub dev: Vec<String>,
    pub test: Vec<String>,
    pub transfer_tasks: Vec<String>,
    pub cap: Cap,
    pub rollback: bool,
    pub baselines: bool,
    /// The hand-written playbook of the `hand` baseline (its rendered text).
    pub hand_playbook: Option<String>,
    pub seed: u64,
    pub max_steps: Option<u32>,
    pub max_model_calls: Option<u32>,
    pub max_tokens: Option<u64>,
    pub max_wall_ms: Option<u64>,
    /// The model, as it names itself.
    pub model: String,
    pub prompts_hash: String,
}

/// Where the model calls come from.
pub enum Source {
    /// A model, each generation's calls recorded in its cassette.
    Live(Arc<dyn LanguageModel>),
    /// The cassettes of the experiment in this folder: no model runs.
    Replay(PathBuf),
}

/// Everything an experiment runs with.
pub struct EvolveSpec {
    pub settings: Settings,
    pub source: Source,
    pub out: PathBuf,
    pub resume: bool,
    pub data: PathBuf,
    pub embedder: Arc<dyn Embedder>,
    pub concurrency: usize,
}

/// What a running experiment reports.
#[derive(Debug)]
pub enum Progress<'a> {
    /// A part starts: its label ("deltas gen 1 dev") and its runs.
    Part { label: String, runs: usize },
    /// A run of the part finished.
    Run {
        done: usize,
        total: usize,
        record: &'a Record,
    },
    /// The model reads traces or curates the playbook.
    Step(String),
    /// A generation ended: a line of figures.
    Generation(String),
}

/// The figures of one generation, saved as `generation.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Generation {
    pub mode: UpdateMode,
    pub generation: u32,
    pub candidate_hash: String,
    pub playbook_hash: String,
    /// The hash of the kept playbook's text as the loop's prompt holds it: the
    /// `playbook_hash` of its test and transfer runs' headers (none for an empty playbook).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_hash: Option<String>,
    pub lessons: usize,
    pub chars: usize,
    pub rolled_back: bool,
    /// Successes and runs.
    pub dev: (u64, u64),
    pub test: (u64, u64),
    pub transfer: (u64, u64),
}

/// How a generation's candidate was made from its parent, saved as `curation.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Curation {
    pub mode: UpdateMode,
    pub generation: u32,
    pub parent_hash: String,
    pub shown: Vec<Reflection>,
    pub response: String,
    pub deltas: Vec<Delta>,
    pub refused: Vec<Refused>,
    pub candidate_hash: String,
    /// The reply could not be read as the schema's JSON: the parent is kept.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unreadable: bool,
}

/// A part's folder inside a generation.
pub fn gen_dir(out: &Path, mode: UpdateMode, generation: u32) -> PathBuf {
    if generation == 0 {
        out.join("gen-0")
    } else {
        out.join(mode.name()).join(format!("gen-{generation}"))
    }
}

pub const SETTINGS: &str = "evolve.json";

/// `n` of `ids` spread evenly over the list (all of them when `n` is none or larger).
pub fn spread(ids: &[String], n: Option<usize>) -> Vec<String> {
    match n {
        Some(n) if n < ids.len() => (0..n).map(|i| ids[i * ids.len() / n].clone()).collect(),
        _ => ids.to_vec(),
    }
}

/// The ids of `suite`'s tasks in `split`, in file order.
pub fn split_ids(suite: &ladder_world::Suite, split: Split) -> Vec<String> {
    suite
        .tasks
        .iter()
        .filter(|t| t.split == Some(split))
        .map(|t| t.id.clone())
        .collect()
}

fn io(what: &str, path: &Path) -> impl FnOnce(std::io::Error) -> EvolveError {
    let (what, path) = (what.to_string(), path.display().to_string());
    move |cause| EvolveError::Io { what, path, cause }
}

fn write(path: &Path, text: &str) -> Result<(), EvolveError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io("cannot create the folder of", path))?;
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).map_err(io("cannot write", &tmp))?;
    std::fs::rename(&tmp, path).map_err(io("cannot write", path))
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), EvolveError> {
    let mut s = serde_json::to_string_pretty(value).expect("plain data serialises");
    s.push('\n');
    write(path, &s)
}

/// A saved file read back, `None` when it is not there.
pub fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Option<T>, EvolveError> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| EvolveError::Bad {
                path: path.display().to_string(),
                reason: e.to_string(),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(cause) => Err(EvolveError::Io {
            what: "cannot read".into(),
            path: path.display().to_string(),
            cause,
        }),
    }
}

fn successes(records: &[Record]) -> (u64, u64) {
    (
        records.iter().filter(|r| r.success()).count() as u64,
        records.len() as u64,
    )
}

struct Runner<'a, P: FnMut(Progress<'_>)> {
    spec: &'a EvolveSpec,
    progress: P,
    suite: ladder_world::Suite,
    secrets: Secrets,
}

/// Run (or resume, or replay) the experiment. Returns the generations' figures.
pub async fn evolve(
    spec: &EvolveSpec,
    progress: impl FnMut(Progress<'_>),
) -> Result<Vec<Generation>, EvolveError> {
    let s = &spec.settings;
    let settings_path = spec.out.join(SETTINGS);
    match read_json::<Settings>(&settings_path)? {
        Some(_) if !spec.resume => {
            return Err(EvolveError::Choose(format!(
            "{} already holds an experiment: add --resume to carry it on, or choose another --out",
            spec.out.display()
        )))
        }
        // More generations or another mode only add parts (each part's bench refuses other
        // settings itself), so a resume may add them.
        Some(old)
            if Settings {
                generations: s.generations,
                modes: s.modes.clone(),
                ..old.clone()
            } != *s =>
        {
            let (a, b) = (
                serde_json::to_value(&old).unwrap_or_default(),
                serde_json::to_value(s).unwrap_or_default(),
            );
            let changed: Vec<String> = a
                .as_object()
                .into_iter()
                .flatten()
                .filter(|(k, v)| b.get(k.as_str()) != Some(v))
                .map(|(k, v)| {
                    format!(
                        "{k}: {v} then, {} now",
                        b.get(k.as_str()).cloned().unwrap_or_default()
                    )
                })
                .collect();
            return Err(EvolveError::Choose(format!(
                "{} was made with other settings; resume it with the same ones or use another --out:\n  {}",
                spec.out.display(),
                changed.join("\n  ")
            )));
        }
        // What the folder holds after this run: the most generations and every mode ever
        // run in it, so the report and a replay see every part on disk.
        Some(old) => {
            let mut modes = old.modes.clone();
            modes.extend(s.modes.iter().filter(|m| !old.modes.contains(m)));
            let merged = Settings {
                generations: old.generations.max(s.generations),
                modes,
                ..s.clone()
            };
            write_json(&settings_path, &merged)?
        }
        None => write_json(&settings_path, s)?,
    }
    let suite = ladder_harness::run::load_suite(&s.suite)?;
    let secrets = secrets(s)?;
    let mut runner = Runner {
        spec,
        progress,
        suite,
        secrets,
    };
    let mut out = Vec::new();
    for &mode in &s.modes {
        out.extend(runner.mode(mode).await?);
    }
    if s.baselines {
        runner.baselines().await?;
    }
    Ok(out)
}

impl<P: FnMut(Progress<'_>)> Runner<'_, P> {
    /// The model for the calls saved in `dir` (its cassette).
    fn model(&self, dir: &Path) -> Result<Arc<dyn LanguageModel>, EvolveError> {
        let rel = dir.strip_prefix(&self.spec.out).unwrap_or(dir);
        let cassette = |root: &Path| root.join(rel).join("cassette.jsonl");
        Ok(match &self.spec.source {
            Source::Live(m) => Arc::new(ladder_model::Recorder::create(
                Arc::clone(m),
                &cassette(&self.spec.out),
            )?),
            Source::Replay(original) => {
                Arc::new(ladder_model::Replayer::open(&cassette(original))?)
            }
        })
    }

    /// One bench part: `strategy` on `ids` of `suite`, into `out`, resumed run by run.
    async fn bench(
        &mut self,
        label: String,
        model: &Arc<dyn LanguageModel>,
        out: PathBuf,
        (suite, ids): (&str, &[String]),
        strategy: &str,
        playbook: Option<String>,
    ) -> Result<Vec<Record>, EvolveError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let s = &self.spec.settings;
        let spec = BenchSpec {
            plan: Plan {
                suites: vec![suite.to_string()],
                strategies: vec![strategy.to_string()],
                tasks: Tasks::Ids(ids.to_vec()),
                split: SplitChoice::All,
                trials: 1,
                seed: s.seed,
                model: String::new(),
                model_settings: Default::default(),
                models: Vec::new(),
                strategy_settings: Default::default(),
                suite_hashes: Default::default(),
                pipelines: Default::default(),
                max_steps: s.max_steps,
                max_model_calls: s.max_model_calls,
                max_tokens: s.max_tokens,
                max_wall_ms: s.max_wall_ms,
                user: Default::default(),
            },
            models: vec![Arc::clone(model)],
            out,
            resume: true,
            data: self.spec.data.clone(),
            embedder: Some(Arc::clone(&self.spec.embedder)),
            options: StrategyOptions {
                playbook,
                ..Default::default()
            },
            pipelines: Default::default(),
            concurrency: match self.spec.source {
                Source::Live(_) => self.spec.concurrency.max(1),
                Source::Replay(_) => 1,
            },
        };
        (self.progress)(Progress::Part {
            label,
            runs: ids.len(),
        });
        let progress = &mut self.progress;
        let mut records = bench::run(spec, |p| {
            if let bench::Progress::Finished {
                done,
                total,
                record,
            } = p
            {
                progress(Progress::Run {
                    done,
                    total,
                    record,
                });
            }
        })
        .await?;
        records.sort_by(|a, b| a.task.cmp(&b.task));
        Ok(records)
    }

    async fn mode(&mut self, mode: UpdateMode) -> Result<Vec<Generation>, EvolveError> {
        let s = self.spec.settings.clone();
        let out = &self.spec.out;
        let mut figures: Vec<Generation> = Vec::new();
        // The kept playbook and its dev successes.
        let mut kept = Playbook::default();
        let mut kept_dev: Option<u64> = None;
        for g in 0..=s.generations {
            let dir = gen_dir(out, mode, g);
            let candidate: Playbook = if g == 0 {
                let p = Playbook::default();
                write(&dir.join("candidate.json"), &p.to_json())?;
                p
            } else {
                read_json(&dir.join("candidate.json"))?.ok_or_else(|| EvolveError::Bad {
                    path: dir.join("candidate.json").display().to_string(),
                    reason: "missing: the curation of the generation before did not finish".into(),
                })?
            };
            self.check_leaks(&candidate, &dir.join("candidate.json"))?;
            let model = self.model(&dir)?;
            let name = if g == 0 {
                "gen 0".to_string()
            } else {
                format!("{} gen {g}", mode.name())
            };
            let render = |p: &Playbook| Some(p.render()).filter(|r| !r.is_empty());
            let dev_records = self
                .bench(
                    format!("{name} dev"),
                    &model,
                    dir.join("dev"),
                    (&s.suite, &s.dev),
                    "bootstrap",
                    render(&candidate),
                )
                .await?;
            let dev = successes(&dev_records);
            let rolled_back = s.rollback && g > 0 && kept_dev.is_some_and(|k| dev.0 < k);
            if !rolled_back {
                kept = candidate.clone();
                kept_dev = Some(dev.0);
            }
            write(&dir.join("playbook.json"), &kept.to_json())?;
            let test = self
                .bench(
                    format!("{name} test"),
                    &model,
                    dir.join("test"),
                    (&s.suite, &s.test),
                    "bootstrap",
                    render(&kept),
                )
                .await?;
            let transfer = match &s.transfer {
                Some(t) => {
                    self.bench(
                        format!("{name} transfer"),
                        &model,
                        dir.join("transfer"),
                        (t, &s.transfer_tasks),
                        "bootstrap",
                        render(&kept),
                    )
                    .await?
                }
                None => Vec::new(),
            };
            let figure = Generation {
                mode,
                generation: g,
                candidate_hash: candidate.hash(),
                playbook_hash: kept.hash(),
                prompt_hash: render(&kept).map(|r| ladder_core::content_hash(&r)),
                lessons: kept.lessons.len(),
                chars: kept.chars(),
                rolled_back,
                dev,
                test: successes(&test),
                transfer: successes(&transfer),
            };
            write_json(&dir.join("generation.json"), &figure)?;
            (self.progress)(Progress::Generation(format!(
                "{name}: {} lessons, dev {}/{}, test {}/{}, transfer {}/{}{}",
                figure.lessons,
                dev.0,
                dev.1,
                figure.test.0,
                figure.test.1,
                figure.transfer.0,
                figure.transfer.1,
                if rolled_back {
                    " (candidate rolled back: its dev score fell)"
                } else {
                    ""
                }
            )));
            figures.push(figure);
            if g == s.generations {
                break;
            }
            let reflections = self
                .reflections(&dir, &model, &candidate, &dev_records, g)
                .await?;
            drop(model);
            let next = gen_dir(out, mode, g + 1);
            if read_json::<Playbook>(&next.join("candidate.json"))?.is_none() {
                // Ids stay unique across a rollback: none of the rolled-back candidate's is
                // given again.
                let mut parent = kept.clone();
                parent.next_id = parent.next_id.max(candidate.next_id);
                let model = self.model(&next)?;
                self.curate(mode, g + 1, &next, &model, &parent, &reflections)
                    .await?;
            }
        }
        Ok(figures)
    }

    fn check_leaks(&self, p: &Playbook, path: &Path) -> Result<(), EvolveError> {
        match p
            .lessons
            .iter()
            .find_map(|l| self.secrets.find(&l.text).map(|why| (l, why)))
        {
            Some((l, why)) => Err(EvolveError::Bad {
                path: path.display().to_string(),
                reason: format!("lesson {} leaks the held-out tasks: {why}", l.id),
            }),
            None => Ok(()),
        }
    }

    /// The model's reading of a generation's dev runs (saved, so read once).
    async fn reflections(
        &mut self,
        dir: &Path,
        model: &Arc<dyn LanguageModel>,
        used: &Playbook,
        dev: &[Record],
        g: u32,
    ) -> Result<Vec<Reflection>, EvolveError> {
        let path = dir.join("reflections.json");
        if let Some(r) = read_json(&path)? {
            return Ok(r);
        }
        let s = &self.spec.settings;
        (self.progress)(Progress::Step(format!(
            "reading the {} dev runs of generation {g}",
            dev.len()
        )));
        // A run that failed for want of a model or a setup (an error, not a verdict) teaches
        // nothing about the task: it is not reflected on.
        let failed = |r: &Record| {
            r.error.is_some()
                || r.outcome
                    .as_ref()
                    .is_some_and(|o| matches!(o.stop, ladder_core::StopReason::Error { .. }))
        };
        let errored = dev.iter().filter(|r| failed(r)).count();
        if errored > 0 {
            (self.progress)(Progress::Step(format!(
                "{errored} dev runs of generation {g} ended in an error; they are not reflected on"
            )));
        }
        let dev: Vec<Record> = dev.iter().filter(|r| !failed(r)).cloned().collect();
        let dev = dev.as_slice();
        let mut requests = Vec::new();
        for (i, r) in dev.iter().enumerate() {
            let trace = dir.join("dev").join(&r.trace);
            let events = if r.trace.is_empty() {
                Vec::new()
            } else {
                ladder_core::trace::read_jsonl(&trace).unwrap_or_default()
            };
            let opening = self
                .suite
                .task(&r.task)
                .map(|t| t.opening.clone())
                .unwrap_or_default();
            let digest = reflect::digest(&opening, &events, r.score.as_ref());
            requests.push(reflect::reflect_request(
                used,
                &digest,
                &s.cap,
                seed(s.seed, g, i),
            ));
        }
        let partial = dir.join("reflections.partial.json");
        let mut out: Vec<Reflection> = read_json(&partial)?.unwrap_or_default();
        let done = out.len() - out.len() % 4;
        out.truncate(done);
        for (chunk, records) in requests[done..].chunks(4).zip(dev[done..].chunks(4)) {
            let session = Session::new();
            let replies = model
                .chat_batch(&session, chunk, chunk.iter().map(|_| None).collect())
                .await;
            for (reply, r) in replies.into_iter().zip(records) {
                let reply = reply.map_err(|cause| EvolveError::Model {
                    what: format!("the reflection on {}", r.task),
                    cause,
                })?;
                out.push(reflect::read_reflection(&r.task, r.success(), &reply.text));
            }
            write_json(&partial, &out)?;
        }
        write_json(&path, &out)?;
        let _ = std::fs::remove_file(&partial);
        Ok(out)
    }

    /// The next generation's candidate, from the kept playbook and the reflections.
    async fn curate(
        &mut self,
        mode: UpdateMode,
        g: u32,
        next: &Path,
        model: &Arc<dyn LanguageModel>,
        kept: &Playbook,
        reflections: &[Reflection],
    ) -> Result<(), EvolveError> {
        let s = &self.spec.settings;
        (self.progress)(Progress::Step(format!(
            "curating the playbook for {} generation {g}",
            mode.name()
        )));
        let mut parent = kept.clone();
        for r in reflections {
            parent.tally(&r.helpful, &r.harmful);
        }
        let shown = reflect::with_lessons(reflections);
        let seed = seed(s.seed, g, 999);
        let request = match mode {
            UpdateMode::Deltas => reflect::curate_request(&parent, &shown, &s.cap, seed),
            UpdateMode::Rewrite => reflect::rewrite_request(&parent, &shown, &s.cap, seed),
        };
        // A curation saved before a stop is read again, not asked again (a cassette holds
        // one reply per request).
        let saved: Option<Curation> = read_json(&next.join("curation.json"))?;
        let reply = if let Some(c) = saved.filter(|c| c.parent_hash == kept.hash()) {
            c.response
        } else if shown.is_empty() {
            String::new()
        } else {
            model
                .chat(&request, None)
                .await
                .map_err(|cause| EvolveError::Model {
                    what: "the curator".into(),
                    cause,
                })?
                .text
        };
        let secrets = &self.secrets;
        let refuse = |t: &str| secrets.find(t);
        let unreadable =
            !shown.is_empty() && reflect::unreadable(mode == UpdateMode::Rewrite, &reply);
        let (deltas, (candidate, refused)) = match mode {
            _ if shown.is_empty() || unreadable => (Vec::new(), (parent.clone(), Vec::new())),
            UpdateMode::Deltas => {
                let deltas = reflect::read_curation(&reply, &shown);
                let applied = playbook::apply(&parent, &deltas, g, &s.cap, &refuse);
                (deltas, applied)
            }
            UpdateMode::Rewrite => {
                let texts = reflect::read_rewrite(&reply);
                let sources: Vec<String> = shown.iter().map(|r| r.task.clone()).collect();
                let deltas = texts
                    .iter()
                    .map(|t| Delta::Add {
                        text: t.clone(),
                        sources: sources.clone(),
                    })
                    .collect();
                let applied = playbook::rewrite(&parent, &texts, &sources, g, &s.cap, &refuse);
                (deltas, applied)
            }
        };
        self.check_leaks(&candidate, &next.join("candidate.json"))?;
        let curation = Curation {
            mode,
            generation: g,
            parent_hash: kept.hash(),
            shown,
            response: reply,
            deltas,
            refused,
            candidate_hash: candidate.hash(),
            unreadable,
        };
        write_json(&next.join("curation.json"), &curation)?;
        write(&next.join("candidate.json"), &candidate.to_json())
    }

    /// The fixed comparisons on the test split and the transfer suite.
    async fn baselines(&mut self) -> Result<(), EvolveError> {
        let s = self.spec.settings.clone();
        let dir = self.spec.out.join("baselines");
        let model = self.model(&dir)?;
        let mut arms = vec![("direct", "direct", None), ("scaffold", "scaffold", None)];
        if let Some(hand) = &s.hand_playbook {
            arms.insert(1, ("hand", "bootstrap", Some(hand.clone())));
        }
        for (name, strategy, playbook) in arms {
            self.bench(
                format!("baseline {name} test"),
                &model,
                dir.join(name).join("test"),
                (&s.suite, &s.test),
                strategy,
                playbook.clone(),
            )
            .await?;
            if let Some(t) = &s.transfer {
                self.bench(
                    format!("baseline {name} transfer"),
                    &model,
                    dir.join(name).join("transfer"),
                    (t, &s.transfer_tasks),
                    strategy,
                    playbook,
                )
                .await?;
            }
        }
        Ok(())
    }
}

/// The seed of a reflection or curation call: fixed by the experiment's seed, the
/// generation and the call's place.
fn seed(base: u64, generation: u32, i: usize) -> u32 {
    (base as u32)
        .wrapping_mul(31)
        .wrapping_add(generation * 1000)
        .wrapping_add(i as u32)
}

/// Where a replay differs from the original: every saved playbook's bytes and every
/// bench's results (timings aside). Empty when identical.
pub fn differences(original: &Path, replay: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut dirs = vec![PathBuf::new()];
    while let Some(rel) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(original.join(&rel)) else {
            continue;
        };
        let mut entries: Vec<_> = entries.flatten().collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let name = e.file_name().to_string_lossy().to_string();
            let rel = rel.join(&name);
            if e.path().is_dir() {
                if e.path().join("results.jsonl").exists() {
                    let a = bench::read_results(&e.path().join("results.jsonl"))
                        .map(|r| r.records)
                        .unwrap_or_default();
                    let b = bench::read_results(&replay.join(&rel).join("results.jsonl"))
                        .map(|r| r.records)
                        .unwrap_or_default();
                    out.extend(
                        bench::differences(&a, &b)
                            .into_iter()
                            .map(|d| format!("{}: {d}", rel.display())),
                    );
                } else {
                    dirs.push(rel);
                }
            } else if name == "playbook.json" || name == "candidate.json" {
                let a = std::fs::read(e.path()).unwrap_or_default();
                let b = std::fs::read(replay.join(&rel)).unwrap_or_default();
                if a != b {
                    out.push(format!("{}: the playbook differs", rel.display()));
                }
            }
        }
    }
    out
}

/// What no playbook of the experiment may hold: every task of the suite's test split and
/// of the transfer suite's (not only the ones run), less what the dev tasks run and the
/// suite's form and brief make public.
pub fn secrets(s: &Settings) -> Result<Secrets, EvolveError> {
    let suite = ladder_harness::run::load_suite(&s.suite)?;
    let mut held_out: Vec<Task> = suite
        .tasks
        .iter()
        .filter(|t| t.split == Some(Split::Test) || s.test.contains(&t.id))
        .cloned()
        .collect();
    let mut public = vec![suite.manifest.assistant_brief.clone()];
    let form = |suite: &ladder_world::Suite, public: &mut Vec<String>| {
        for intent in suite.form_spec().intents {
            for slot in intent.slots {
                public.push(slot.question);
                public.extend(slot.options);
            }
        }
    };
    form(&suite, &mut public);
    if let Some(t) = &s.transfer {
        let other = ladder_harness::run::load_suite(t)?;
        form(&other, &mut public);
        held_out.extend(
            other
                .tasks
                .iter()
                .filter(|t| t.split == Some(Split::Test) || s.transfer_tasks.contains(&t.id))
                .cloned(),
        );
    }
    let dev: Vec<Task> = s
        .dev
        .iter()
        .filter_map(|id| suite.task(id).cloned())
        .collect();
    Ok(Secrets::new(&held_out, &dev, &public))
}
