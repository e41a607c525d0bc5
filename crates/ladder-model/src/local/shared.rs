//! The shared decode loop: one llama.cpp context serving every run in flight (continuous
//! batching, as llama.cpp's server slots do). Runs submit [`Job`]s; one thread owns the
//! context, and each step decodes one token of every generating job and chunks of the
//! prompts still being read, all in one batch, so the weights are read once per step for
//! every run instead of once per run.
//!
//! Invariants:
//! - One thread owns the context; jobs arrive on a channel and get their reply on a
//!   oneshot. The thread ends when the [`Handle`] is dropped (the last clone of the model).
//! - Each step first admits queued jobs, then decodes one batch of at most [`BATCH`]
//!   tokens: one token of every generating job, then prompt chunks of admitted jobs in the
//!   order they were admitted. A job samples only from the decode that holds its last token.
//! - A job's sequence is its run's lane: (session, lane) keeps one sequence id between the
//!   run's calls (lane 0 for calls one after another, lane i for call i of a batch). A
//!   sequence's recorded tokens are exactly the cells decoded into it, updated after every
//!   decode.
//! - A job starts from the longest prefix any sequence holds: its own in place, or
//!   another's shared by `seq_cp` (cells of one unified KV cache, nothing evaluated), and
//!   always evaluates at least its last token. A job whose prompt shares a longer prefix
//!   (by [`WORTH_WAITING`] tokens) with a job still reading its prompt waits and then
//!   copies, so runs that start together read a common system prompt once.
//! - Each job keeps its own sampler (grammar, seed), stop strings, stream and `max_tokens`;
//!   its stop flag is checked every step: a stopped job's reply is an error, it leaves the
//!   batch at once, and the other jobs go on as if it had never been there.
//! - Room: every cell is counted once: a prefix copied at admission in the sequence it
//!   came from, and when that one lets go of it, in the copier that took most of it (the
//!   other copiers then count it there). Those cells plus the admitted jobs' remaining
//!   prompt and `max_tokens` stay within the context. To admit a job, idle sequences are
//!   emptied least recently used first, and none when emptying them all would not make
//!   it fit (as counted); a job that does not fit waits for running jobs to finish, or
//!   fails with a context overflow when none is running. Should llama.cpp still find no
//!   cells, every idle sequence is emptied and the decode tried once more.
//! - A new lane takes the free sequence sharing the longest prefix with its prompt (at
//!   least [`WORTH_TAKING`] tokens), else an empty one, else the least recently used.
//! - A session's release cuts each of its sequences to its system prefix (the leading
//!   system messages of the last call decoded into it), kept for other runs to copy, or
//!   empties it where another sequence holds that prefix already: every cell held is
//!   attended over (masked) by every row of every step, so a finished run's conversation
//!   would slow every other run until evicted.
//! - A call with `max_tokens` 0 is answered at once, empty, as a one-at-a-time call is.
//! - A failed decode fails the jobs in its batch and empties their sequences; the loop
//!   goes on.
//! - Bytes: a job's logits come from batches whose other rows depend on which other runs
//!   are in flight, so a near-tie can flip against the same run alone (measured in
//!   `tests/local.rs`); the per-run contexts (`--deterministic`) keep byte-identity.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ladder_core::{ChatRequest, ChatResponse, FinishReason, ModelError, TokenSink, Usage};
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;
use llama_cpp_2::DecodeError;

use super::context::new_context;
use super::stream::{Push, TextOut};
use super::{Inner, BATCH};
use crate::timing::ms_since;

/// A job waits for one still reading its prompt when that one shares at least this many
/// more tokens with it than any sequence already holds.
const WORTH_WAITING: usize = 16;

/// A new lane takes over a free sequence for the prefix it holds only when they share at
/// least this many tokens (fewer is the chat template's header, which nearly every prompt
/// shares); otherwise it takes an empty one, so other runs' kept prefixes stay.
const WORTH_TAKING: usize = 16;

/// One call submitted to the loop.
pub(super) struct Job {
    pub session: u64,
    pub lane: usize,
    pub request: ChatRequest,
    /// The rendered prompt's tokens (non-empty; the caller checked they fit).
    pub tokens: Vec<LlamaToken>,
    /// How many of `tokens` are its system prefix (0 for none): what its sequence keeps
    /// once the run has ended.
    pub system: usize,
    pub stream: Option<TokenSink>,
    pub stop: Arc<AtomicBool>,
    pub started: Instant,
    pub reply: tokio::sync::oneshot::Sender<Result<ChatResponse, ModelError>>,
}

enum Msg {
    Job(Box<Job>),
    /// A session ended: its sequences are no one's, cut to their system prefix (kept for
    /// other runs to copy).
    Release(u64),
    /// Reply with the cells held (counted once).
    Held(mpsc::Sender<usize>),
    Shutdown,
}

/// The loop's sizes, for settings and the caller's checks.
#[derive(Debug, Clone, Copy)]
pub(super) struct Shape {
    pub n_ctx: u32,
    pub sequences: usize,
    pub threads: i32,
}

/// The running loop. Dropping it stops the thread (jobs still queued get an error).
pub(super) struct Handle {
    tx: mpsc::Sender<Msg>,
    thread: Option<JoinHandle<()>>,
    pub shape: Shape,
}

/// Sends a session's release when the session's state is dropped (the run ended).
pub(super) struct Lease {
    tx: mpsc::Sender<Msg>,
    session: u64,
}

impl Drop for Lease {
    fn drop(&mut self) {
        let _ = self.tx.send(Msg::Release(self.session));
    }
}

impl Handle {
    pub(super) fn start(inner: Arc<Inner>, shape: Shape) -> Handle {
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("ladder-decode-loop".into())
            .spawn(move || run(&inner, shape, &rx))
            .ok();
        Handle { tx, thread, shape }
    }

    /// Queue a job; an error when the loop is gone.
    pub(super) fn submit(&self, job: Job) -> Result<(), ModelError> {
        self.tx
            .send(Msg::Job(Box::new(job)))
            .map_err(|_| ModelError::Generation("the decode loop has stopped".into()))
    }

    /// The cells the loop's sequences hold (a copied prefix counted once).
    pub(super) fn cells_held(&self) -> Option<usize> {
        let (tx, rx) = mpsc::channel();
        self.tx.send(Msg::Held(tx)).ok()?;
        rx.recv_timeout(Duration::from_secs(10)).ok()
    }

    /// A lease that releases `session`'s sequences when dropped.
    pub(super) fn lease(&self, session: u64) -> Lease {
        Lease {
            tx: self.tx.clone(),
            session,
        }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        let _ = self.tx.send(Msg::Shutdown);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One sequence of the context.
#[derive(Default)]
struct Seq {
    /// The tokens its cells hold, at positions 0.. .
    held: Vec<LlamaToken>,
    /// How many of them (from the start) are cells shared with `from`, counted there (a
    /// prefix copied at admission; see [`State::cut`] for when `from` lets go of them).
    copied: usize,
    /// The sequence its copied cells are counted in.
    from: Option<usize>,
    /// The run lane it belongs to, if any.
    owner: Option<(u64, usize)>,
    /// A job is decoding into it.
    busy: bool,
    /// When it was last used (a step count).
    used: u64,
    /// The system prefix length of the last job decoded into it.
    system: usize,
    /// Its session has ended and it is still to be cut to its system prefix.
    released: bool,
}

impl Seq {
    /// Cells counted as this sequence's (its copied start is counted in `from`).
    fn own_cells(&self) -> usize {
        self.held.len() - self.copied.min(self.held.len())
    }
}

/// An admitted job.
struct Active {
    job: Box<Job>,
    seq: usize,
    /// The next prompt token to decode.
    next: usize,
    cached: usize,
    sampler: LlamaSampler,
    out: TextOut,
    generated: Vec<LlamaToken>,
    /// A sampled token to decode in the next step.
    feed: Option<LlamaToken>,
    prompt_ms: f64,
    gen_started: Option<Instant>,
}

impl Active {
    fn reading(&self) -> bool {
        self.next < self.job.tokens.len()
    }

    /// Cells it may still add: its unread prompt and its remaining tokens.
    fn to_come(&self) -> usize {
        (self.job.tokens.len() - self.next)
            + (self.job.request.sampling.max_tokens as usize).saturating_sub(self.generated.len())
    }
}

fn common(a: &[LlamaToken], b: &[LlamaToken]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

fn stopped() -> ModelError {
    ModelError::Generation("stopped: the call was abandoned".into())
}

struct State {
    seqs: Vec<Seq>,
    queue: VecDeque<Box<Job>>,
    active: Vec<Active>,
    step: u64,
    n_ctx: usize,
}

/// What admission decided for a job.
enum Admit {
    Now(Active),
    Wait(Box<Job>),
    /// It failed and has had its reply.
    Failed,
}

fn run(inner: &Arc<Inner>, shape: Shape, rx: &mpsc::Receiver<Msg>) {
    let mut ctx = match new_context(
        &inner.model,
        shape.n_ctx,
        shape.threads,
        shape.sequences as u32,
    ) {
        Ok(ctx) => ctx,
        Err(e) => {
            // No context: every job fails with the reason, until shutdown.
            for msg in rx {
                match msg {
                    Msg::Job(job) => {
                        let _ = job.reply.send(Err(e.clone()));
                    }
                    Msg::Release(_) => {}
                    Msg::Held(reply) => {
                        let _ = reply.send(0);
                    }
                    Msg::Shutdown => return,
                }
            }
            return;
        }
    };
    let mut state = State {
        seqs: (0..shape.sequences).map(|_| Seq::default()).collect(),
        queue: VecDeque::new(),
        active: Vec::new(),
        step: 0,
        n_ctx: shape.n_ctx as usize,
    };
    let mut batch = LlamaBatch::new(BATCH, 1);
    loop {
        let idle = state.active.is_empty() && state.queue.is_empty();
        let first = if idle {
            // Nothing to decode or admit: wait for work.
            match rx.recv_timeout(Duration::from_millis(200)) {
                Ok(msg) => Some(msg),
                Err(mpsc::RecvTimeoutError::Timeout) => None,
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            }
        } else {
            None
        };
        for msg in first
            .into_iter()
            .chain(std::iter::from_fn(|| rx.try_recv().ok()))
        {
            match msg {
                Msg::Job(job) => state.queue.push_back(job),
                Msg::Release(session) => state.release(session),
                Msg::Held(reply) => {
                    state.trim_released(&mut ctx);
                    let _ = reply.send(state.seqs.iter().map(Seq::own_cells).sum());
                }
                Msg::Shutdown => {
                    state.fail_all("the model was unloaded");
                    return;
                }
            }
        }
        state.drop_stopped();
        state.trim_released(&mut ctx);
        state.admit_queued(inner, &mut ctx);
        if !state.active.is_empty() {
            state.decode_step(inner, &mut ctx, &mut batch);
        }
    }
}

impl State {
    fn release(&mut self, session: u64) {
        for s in &mut self.seqs {
            if s.owner.is_some_and(|(id, _)| id == session) {
                s.owner = None;
                s.released = true;
            }
        }
    }

    /// Cut the released sequences no job is decoding into to their system prefix, or
    /// empty them where another sequence holds it already.
    fn trim_released(&mut self, ctx: &mut LlamaContext<'_>) {
        for s in 0..self.seqs.len() {
            if !self.seqs[s].released || self.seqs[s].busy {
                continue;
            }
            self.seqs[s].released = false;
            let keep = self.seqs[s].system.min(self.seqs[s].held.len());
            let elsewhere = (0..self.seqs.len())
                .filter(|&u| u != s)
                .any(|u| common(&self.seqs[u].held, &self.seqs[s].held) >= keep);
            self.cut(ctx, s, if elsewhere { 0 } else { keep });
        }
    }

    /// Keep only the first `keep` cells of sequence `s` (all of them gone when llama.cpp
    /// cannot cut there). Cells another sequence copied from past `keep` stay in the cache
    /// for it: the copier that took the most of them counts them now, and the others'
    /// copies count as coming from it.
    fn cut(&mut self, ctx: &mut LlamaContext<'_>, s: usize, keep: usize) {
        if keep >= self.seqs[s].held.len() {
            return;
        }
        let cut_there = keep > 0
            && matches!(
                ctx.clear_kv_cache_seq(Some(s as u32), Some(keep as u32), None),
                Ok(true)
            );
        let keep = if cut_there {
            keep
        } else {
            let _ = ctx.clear_kv_cache_seq(Some(s as u32), None, None);
            0
        };
        let heirs: Vec<usize> = (0..self.seqs.len())
            .filter(|&t| t != s && self.seqs[t].from == Some(s) && self.seqs[t].copied > keep)
            .collect();
        if let Some(&heir) = heirs.iter().max_by_key(|&&t| self.seqs[t].copied) {
            for &t in heirs.iter().filter(|&&t| t != heir) {
                self.seqs[t].from = Some(heir);
            }
            let h = &mut self.seqs[heir];
            h.copied = keep;
            if keep == 0 {
                h.from = None;
            }
        }
        let q = &mut self.seqs[s];
        q.held.truncate(keep);
        q.copied = q.copied.min(keep);
        if q.copied == 0 {
            q.from = None;
        }
    }

    /// Empty every idle sequence but `keep`.
    fn empty_idle(&mut self, ctx: &mut LlamaContext<'_>, keep: &[usize]) {
        for s in 0..self.seqs.len() {
            if !self.seqs[s].busy && !keep.contains(&s) {
                self.cut(ctx, s, 0);
            }
        }
    }

    fn fail_all(&mut self, why: &str) {
        let err = || ModelError::Generation(format!("stopped: {why}"));
        for job in self.queue.drain(..) {
            let _ = job.reply.send(Err(err()));
        }
        for a in self.active.drain(..) {
            let _ = a.job.reply.send(Err(err()));
        }
    }

    /// Jobs whose callers went away leave at once; their sequences keep what was decoded.
    fn drop_stopped(&mut self) {
        self.queue.retain(|job| !job.stop.load(Ordering::Relaxed));
        let mut k = 0;
        while k < self.active.len() {
            if self.active[k].job.stop.load(Ordering::Relaxed) {
                let a = self.active.remove(k);
                self.seqs[a.seq].busy = false;
                let _ = a.job.reply.send(Err(stopped()));
            } else {
                k += 1;
            }
        }
    }

    fn admit_queued(&mut self, inner: &Inner, ctx: &mut LlamaContext<'_>) {
        let mut waiting = VecDeque::new();
        while let Some(job) = self.queue.pop_front() {
            match self.admit(inner, ctx, job) {
                Admit::Now(active) => self.active.push(active),
                Admit::Wait(job) => waiting.push_back(job),
                Admit::Failed => {}
            }
        }
        self.queue = waiting;
    }

    /// The sequence for a job's lane: the one it already has, else a free one (the one
    /// sharing most of the prompt, then the least recently used), else another lane's idle
    /// one. None when every sequence is busy or its own is.
    fn lane_seq(&self, job: &Job) -> Option<usize> {
        let lane = (job.session, job.lane);
        if let Some(s) = self.seqs.iter().position(|s| s.owner == Some(lane)) {
            return (!self.seqs[s].busy).then_some(s);
        }
        let pick = |owned: bool| {
            (0..self.seqs.len())
                .filter(|&s| !self.seqs[s].busy && self.seqs[s].owner.is_some() == owned)
                .max_by_key(|&s| {
                    let q = &self.seqs[s];
                    let shared = common(&q.held, &job.tokens);
                    (
                        if shared >= WORTH_TAKING { shared } else { 0 },
                        q.held.is_empty(),
                        std::cmp::Reverse(q.used),
                    )
                })
        };
        pick(false).or_else(|| pick(true))
    }

    /// Cells every sequence holds (a copied prefix counted once) plus what the admitted jobs
    /// may still add.
    fn committed(&self) -> usize {
        self.seqs.iter().map(Seq::own_cells).sum::<usize>()
            + self.active.iter().map(Active::to_come).sum::<usize>()
    }

    /// Empty idle sequences, least recently used first (no one's before another run's),
    /// until `need` more cells fit; `keep` are spared. Whether they fit; nothing is emptied
    /// when emptying every candidate would not be enough.
    fn make_room(&mut self, ctx: &mut LlamaContext<'_>, need: usize, keep: &[usize]) -> bool {
        let candidates = |seqs: &[Seq]| -> Vec<usize> {
            (0..seqs.len())
                .filter(|s| !keep.contains(s))
                .filter(|&s| !seqs[s].busy && !seqs[s].held.is_empty())
                .collect()
        };
        let freeable: usize = candidates(&self.seqs)
            .iter()
            .map(|&s| self.seqs[s].own_cells())
            .sum();
        if self.committed() + need > self.n_ctx + freeable {
            return false;
        }
        while self.committed() + need > self.n_ctx {
            let victim = candidates(&self.seqs)
                .into_iter()
                .min_by_key(|&s| (self.seqs[s].owner.is_some(), self.seqs[s].used));
            let Some(v) = victim else {
                return false;
            };
            self.cut(ctx, v, 0);
        }
        true
    }

    fn admit(&mut self, inner: &Inner, ctx: &mut LlamaContext<'_>, job: Box<Job>) -> Admit {
        let Some(seq) = self.lane_seq(&job) else {
            return Admit::Wait(job);
        };
        let tokens = &job.tokens;
        let most = tokens.len() - 1; // the last token is always evaluated
        let own = common(&self.seqs[seq].held, tokens).min(most);
        let (source, best) = (0..self.seqs.len())
            .filter(|&s| s != seq)
            .map(|s| (Some(s), common(&self.seqs[s].held, tokens).min(most)))
            .fold((None, own), |a, b| if b.1 > a.1 { b } else { a });
        let in_flight = self
            .active
            .iter()
            .filter(|a| a.reading())
            .map(|a| common(&a.job.tokens, tokens).min(most))
            .max()
            .unwrap_or(0);
        if in_flight >= best + WORTH_WAITING {
            return Admit::Wait(job);
        }
        let max_tokens = job.request.sampling.max_tokens as usize;
        // The cells this admission adds: the prompt after what it starts from and its
        // tokens (a copied start is counted in the sequence it comes from), less what the
        // sequence held of its own before.
        let before = self.seqs[seq].own_cells();
        let after = match source {
            Some(_) => tokens.len() - best + max_tokens,
            None => tokens.len() + max_tokens - self.seqs[seq].copied.min(own),
        };
        let need = after.saturating_sub(before);
        let spare: Vec<usize> = std::iter::once(seq).chain(source).collect();
        if !self.make_room(ctx, need, &spare) {
            if !self.active.is_empty() {
                return Admit::Wait(job);
            }
            let _ = job.reply.send(Err(ModelError::ContextOverflow {
                prompt_tokens: tokens.len() as u64,
                max_tokens: max_tokens as u64,
                context: self.n_ctx as u64,
            }));
            return Admit::Failed;
        }
        // Start from `best`: in place, or shared from the sequence that holds it.
        let keep = match source {
            Some(from) => {
                self.cut(ctx, seq, 0);
                match ctx.copy_kv_cache_seq(from as i32, seq as i32, Some(0), Some(best as u32)) {
                    Ok(()) => {
                        let s = &mut self.seqs[seq];
                        s.held = tokens[..best].to_vec();
                        s.copied = best;
                        s.from = Some(from);
                        best
                    }
                    Err(_) => 0,
                }
            }
            None => {
                self.cut(ctx, seq, own);
                self.seqs[seq].held.len()
            }
        };
        let sampler = match inner.sampler(&job.request) {
            Ok(s) => s,
            Err(e) => {
                let _ = job.reply.send(Err(e));
                return Admit::Failed;
            }
        };
        let s = &mut self.seqs[seq];
        s.owner = Some((job.session, job.lane));
        s.busy = true;
        s.used = self.step;
        s.system = job.system;
        s.released = false;
        let out = TextOut::new(&job.request.stop, job.stream.as_ref());
        Admit::Now(Active {
            job,
            seq,
            next: keep,
            cached: keep,
            sampler,
            out,
            generated: Vec::new(),
            feed: None,
            prompt_ms: 0.0,
            gen_started: None,
        })
    }

    /// One decode: a token of every generating job, then prompt chunks; then sampling for
    /// every job whose last token was in it.
    fn decode_step(&mut self, inner: &Inner, ctx: &mut LlamaContext<'_>, batch: &mut LlamaBatch) {
        self.step += 1;
        batch.clear();
        // (active index, batch index of its logits, if any), and prompt tokens added.
        let mut rows: Vec<(usize, Option<i32>, usize)> = Vec::new();
        let mut n = 0usize;
        let mut add_err = None;
        for (k, a) in self.active.iter().enumerate() {
            if let Some(token) = a.feed {
                let pos = self.seqs[a.seq].held.len() as i32;
                if let Err(e) = batch.add(token, pos, &[a.seq as i32], true) {
                    add_err = Some(e.to_string());
                }
                rows.push((k, Some(n as i32), 0));
                n += 1;
            }
        }
        for (k, a) in self.active.iter().enumerate() {
            if !a.reading() || n >= BATCH {
                continue;
            }
            let take = (a.job.tokens.len() - a.next).min(BATCH - n);
            let mut logits_at = None;
            for pos in a.next..a.next + take {
                let last = pos + 1 == a.job.tokens.len();
                if let Err(e) = batch.add(a.job.tokens[pos], pos as i32, &[a.seq as i32], last) {
                    add_err = Some(e.to_string());
                }
                if last {
                    logits_at = Some(n as i32);
                }
                n += 1;
            }
            rows.push((k, logits_at, take));
        }
        let mut result = match add_err {
            Some(e) => Err(e),
            None => ctx.decode(batch).map_err(|e| e.to_string()),
        };
        if matches!(&result, Err(e) if *e == DecodeError::NoKvCacheSlot.to_string()) {
            // Free what idle sequences hold and try once more.
            let busy: Vec<usize> = self.active.iter().map(|a| a.seq).collect();
            self.empty_idle(ctx, &busy);
            result = ctx.decode(batch).map_err(|e| e.to_string());
        }
        if let Err(e) = result {
            // What the batch's sequences hold now is unknown: empty them, fail their jobs.
            let failed: Vec<usize> = rows.iter().map(|r| r.0).collect();
            for &k in &failed {
                let seq = self.active[k].seq;
                self.cut(ctx, seq, 0);
                let _ = ctx.clear_kv_cache_seq(Some(seq as u32), None, None);
            }
            self.finish_where(&failed, |_| {
                Some(Err(ModelError::Generation(format!("decode failed: {e}"))))
            });
            return;
        }
        // The cells are there: record them, then sample.
        for &(k, _, took) in &rows {
            let a = &mut self.active[k];
            let held = &mut self.seqs[a.seq].held;
            if took > 0 {
                held.extend_from_slice(&a.job.tokens[a.next..a.next + took]);
                a.next += took;
            } else if let Some(token) = a.feed.take() {
                held.push(token);
            }
            self.seqs[a.seq].used = self.step;
        }
        let vocab = inner.model.vocab();
        let mut done: Vec<(usize, Result<ChatResponse, ModelError>)> = Vec::new();
        for &(k, logits_at, _) in &rows {
            let Some(idx) = logits_at else { continue };
            let a = &mut self.active[k];
            let token = a.sampler.sample(ctx, idx);
            if a.gen_started.is_none() {
                a.prompt_ms = ms_since(a.job.started);
                a.gen_started = Some(Instant::now());
            }
            let max = a.job.request.sampling.max_tokens as usize;
            let finish = if vocab.is_eog(token) {
                Some(FinishReason::Stop)
            } else {
                a.generated.push(token);
                match a.out.push(&vocab.token_to_piece(token, false, None)) {
                    Push::More if a.generated.len() >= max => Some(FinishReason::Length),
                    Push::More => {
                        a.feed = Some(token);
                        None
                    }
                    Push::StopString => Some(FinishReason::StopString),
                    Push::ReceiverGone => {
                        done.push((
                            k,
                            Err(ModelError::Generation(
                                "stopped: the receiver of the token stream went away".into(),
                            )),
                        ));
                        continue;
                    }
                }
            };
            if let Some(finish) = finish {
                done.push((k, Ok(a.response(finish))));
            }
        }
        let mut replies: Vec<Option<Result<ChatResponse, ModelError>>> =
            (0..self.active.len()).map(|_| None).collect();
        for (k, r) in done {
            replies[k] = Some(r);
        }
        let ks: Vec<usize> = (0..replies.len())
            .filter(|&k| replies[k].is_some())
            .collect();
        self.finish_where(&ks, |k| replies[k].take());
    }

    /// Reply to the active jobs at `ks` (what `reply` gives each) and remove them; their
    /// sequences keep what was decoded into them.
    fn finish_where(
        &mut self,
        ks: &[usize],
        mut reply: impl FnMut(usize) -> Option<Result<ChatResponse, ModelError>>,
    ) {
        let mut kept = Vec::with_capacity(self.active.len());
        for (k, a) in std::mem::take(&mut self.active).into_iter().enumerate() {
            if !ks.contains(&k) {
                kept.push(a);
                continue;
            }
            let r = reply(k).unwrap_or_else(|| Err(stopped()));
            self.seqs[a.seq].busy = false;
            let _ = a.job.reply.send(r);
        }
        self.active = kept;
    }
}

impl Active {
    fn response(&mut self, finish: FinishReason) -> ChatResponse {
        let out = std::mem::replace(&mut self.out, TextOut::new(&[], None));
        ChatResponse {
            text: out.finish(),
            finish,
            usage: Usage {
                prompt_tokens: self.job.tokens.len() as u64,
                cached_tokens: self.cached as u64,
                completion_tokens: self.generated.len() as u64,
                estimated: false,
            },
            prompt_ms: self.prompt_ms,
            generation_ms: self.gen_started.map_or(0.0, ms_since),
            total_ms: ms_since(self.job.started),
        }
    }
}
