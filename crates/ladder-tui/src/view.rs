//! Drawing: a pure function of the state onto a frame.

use ladder_core::trace::{Actor, Event, EventKind, TraceHit};
use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use ratatui::Frame;

use crate::state::{App, Base, ComponentState, Pane, Picker, RunTable, Screen};

/// `s` on one line (its whitespace runs made single spaces), cut to `n` characters.
pub(crate) fn cut(s: &str, n: usize) -> String {
    let one: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if one.chars().count() > n {
        format!("{}…", one.chars().take(n).collect::<String>())
    } else {
        one
    }
}

/// One line per event: what happened, in a few words.
pub fn summary(e: &Event) -> String {
    match &e.kind {
        EventKind::Header(h) => format!("▶ {} on {} ({})", h.strategy, h.task, h.model),
        EventKind::ModelCall {
            purpose,
            agent,
            actor,
            usage,
            latency_ms,
            output,
            ..
        } => format!(
            "{} {}{}: {}+{} tok, {:.1} s → {}",
            if *actor == Actor::User {
                "user-model"
            } else {
                "model"
            },
            purpose,
            agent
                .as_ref()
                .map(|a| format!(" [{a}]"))
                .unwrap_or_default(),
            usage.prompt_tokens,
            usage.completion_tokens,
            latency_ms / 1000.0,
            cut(output, 60)
        ),
        EventKind::UserTurn {
            question,
            reply,
            gave_up,
            ..
        } => format!(
            "ask: {} ⇒ {}{}",
            cut(question, 50),
            cut(reply, 50),
            if *gave_up { " (gave up)" } else { "" }
        ),
        EventKind::Retrieval { query, hits, .. } => {
            // Each document once, the first six (a catalogue search returns every chunk).
            let mut names = hit_names(hits);
            let more = match names.len().saturating_sub(6) {
                0 => String::new(),
                n => format!(" and {n} more"),
            };
            names.truncate(6);
            format!("search: {} → {}{more}", cut(query, 40), names.join(", "))
        }
        EventKind::ComponentStarted { component, kind } => format!("┌ {component} [{kind}]"),
        EventKind::ComponentFinished {
            component,
            ok,
            detail,
        } => format!(
            "└ {component}{}: {}",
            if *ok { "" } else { " FAILED" },
            cut(detail, 70)
        ),
        EventKind::IntentDecision { chosen, .. } => format!(
            "intent → {}",
            if chosen.is_empty() {
                "unknown".to_string()
            } else {
                chosen.join(" + ")
            }
        ),
        EventKind::SlotFilled {
            slot,
            value,
            source,
        } => {
            format!("slot {slot} = {} ({source:?})", cut(value, 50))
        }
        EventKind::DebateMessage { agent, round, text } => {
            format!("{agent} (round {round}): {}", cut(text, 70))
        }
        EventKind::Vote { agent, choice, .. } => format!("vote {agent}: {choice}"),
        EventKind::Action {
            step,
            action,
            argument,
            parse_error,
        } => match parse_error {
            Some(err) => format!("step {step}: unreadable action ({})", cut(err, 50)),
            None => format!("step {step}: {action} {}", cut(argument, 60)),
        },
        EventKind::Observation { step, text } => format!("step {step}: ⓘ {}", cut(text, 64)),
        EventKind::ContextCompression {
            tokens_before,
            tokens_after,
            forced,
        } => format!(
            "compress {tokens_before} → {tokens_after} tokens{}",
            if *forced { " (forced)" } else { "" }
        ),
        EventKind::Answer { text, picks } => {
            format!("ANSWER [{}]: {}", picks.join(", "), cut(text, 70))
        }
        EventKind::Error { message } => format!("error: {}", cut(message, 80)),
        EventKind::RunFinished { outcome } => format!("■ {}", outcome.stop.label()),
    }
}

/// The full text of an event, for the detail screen.
pub fn detail(e: &Event) -> String {
    match &e.kind {
        EventKind::ModelCall {
            messages,
            output,
            purpose,
            agent,
            usage,
            latency_ms,
            grammar,
            seed,
            ..
        } => {
            let mut s = format!(
                "model call: {purpose}{} at {:.1} s, {:.1} s, {} prompt ({} cached) + {} completion tokens, seed {seed}{}\n\n",
                agent.as_ref().map(|a| format!(" by {a}")).unwrap_or_default(),
                e.at_ms / 1000.0,
                latency_ms / 1000.0,
                usage.prompt_tokens,
                usage.cached_tokens,
                usage.completion_tokens,
                if grammar.is_some() { ", under a grammar" } else { "" }
            );
            for m in messages {
                s.push_str(&format!("── {} ──\n{}\n\n", m.role.as_str(), m.content));
            }
            s.push_str(&format!("── output ──\n{output}\n"));
            s
        }
        other => serde_json::to_string_pretty(other).unwrap_or_default(),
    }
}

/// The documents of `hits` by title (their id when untitled), each once, in the order
/// first hit.
pub(crate) fn hit_names<'a>(hits: impl IntoIterator<Item = &'a TraceHit>) -> Vec<&'a str> {
    let mut names: Vec<&str> = Vec::new();
    for h in hits {
        let name = if h.title.is_empty() {
            &h.document
        } else {
            &h.title
        };
        if !names.contains(&name.as_str()) {
            names.push(name);
        }
    }
    names
}

/// `n` and the noun, plural unless `n` is 1 ("1 turn", "2 turns", "0 calls").
pub(crate) fn count(n: u64, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

/// A pane's metrics on one line of `width` columns: its title and score always, then the
/// figures in their order (turns, calls, tokens and how many were cached, model time, wall
/// time), leaving out the least telling first (cached, model time, wall time, tokens,
/// calls) until the line fits.
pub fn metrics_line(p: &Pane, width: usize) -> String {
    let m = p.metrics();
    let head = match &p.score {
        Some(s) => format!("{}: {s}", p.title),
        None => p.title.clone(),
    };
    // (text, priority: lower stays longer, joined to the figure before it)
    let figures = [
        (count(m.user_turns, "turn"), 0, false),
        (count(m.model_calls, "call"), 1, false),
        (format!("{} tok", m.total_tokens), 2, false),
        (format!(" ({} cached)", m.cached_tokens), 5, true),
        (format!("model {:.1}s", m.model_ms / 1000.0), 4, false),
        (format!("wall {:.1}s", m.wall_ms / 1000.0), 3, false),
    ];
    let render = |upto: u8| {
        let mut line = head.clone();
        let mut sep = if p.score.is_some() { " · " } else { ": " };
        for (text, priority, joined) in &figures {
            if *priority > upto {
                continue;
            }
            if !joined {
                line.push_str(sep);
                sep = " · ";
            }
            line.push_str(text);
        }
        line
    };
    (0..=5)
        .rev()
        .map(render)
        .find(|l| l.chars().count() <= width)
        .unwrap_or_else(|| render(0))
}

fn pane_view(frame: &mut Frame, area: Rect, pane: &Pane, focused: bool, captions: bool) {
    let state = if pane.done {
        "done".to_string()
    } else {
        match pane.running_component() {
            Some(c) => format!("running: {c}"),
            None => "running".to_string(),
        }
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .title(format!(" {} · {} ", pane.title, state))
        .border_style(if focused {
            Style::default().add_modifier(Modifier::BOLD)
        } else {
            Style::default()
        });
    let inner = block.inner(area);
    frame.render_widget(block, area);
    // One line per call in flight (a third of the pane at most), so a debate's agents,
    // which write at once, are never mixed.
    let streaming = if pane.done {
        0
    } else {
        pane.streaming.len().min((inner.height / 3).max(1) as usize)
    } as u16;
    let caption = if captions {
        crate::lessons::latest_caption(&pane.events, pane.selected)
    } else {
        None
    };
    let caption_rows: u16 = if caption.is_some() { 2 } else { 0 };
    // Once scored: why (the judge's failed checks) and where the trace is, up to half the
    // pane.
    let result = result_lines(pane);
    let width = inner.width.max(1) as usize;
    let result_rows = (result
        .iter()
        .map(|l| l.chars().count().div_ceil(width).max(1))
        .sum::<usize>()
        .min((inner.height / 2) as usize)) as u16;
    let rows = inner
        .height
        .saturating_sub(streaming + caption_rows + result_rows) as usize;
    if rows == 0 {
        return;
    }
    if result_rows > 0 {
        frame.render_widget(
            Paragraph::new(result.into_iter().map(Line::from).collect::<Vec<_>>())
                .wrap(Wrap { trim: false }),
            Rect {
                y: inner.y + inner.height - caption_rows - result_rows,
                height: result_rows,
                ..inner
            },
        );
    }
    if let Some(c) = caption {
        frame.render_widget(
            Paragraph::new(format!("» {c}"))
                .style(Style::default().add_modifier(Modifier::ITALIC))
                .wrap(Wrap { trim: true }),
            Rect {
                y: inner.y + inner.height - caption_rows,
                height: caption_rows,
                ..inner
            },
        );
    }
    // Only the visible window is laid out, so a long trace draws as fast as a short one.
    let start = (pane.selected + 1).saturating_sub(rows);
    let lines: Vec<Line> = pane
        .events
        .iter()
        .enumerate()
        .skip(start)
        .take(rows)
        .map(|(i, e)| {
            let text = format!("{:>6.1}s {}", e.at_ms / 1000.0, summary(e));
            match (i == pane.selected, focused) {
                (true, true) => styled(text, Modifier::REVERSED),
                (true, false) => styled(text, Modifier::UNDERLINED),
                _ => Line::from(text),
            }
        })
        .collect();
    frame.render_widget(
        Paragraph::new(lines),
        Rect {
            height: rows as u16,
            ..inner
        },
    );
    // The newest calls when there are more than fit.
    let skip = pane.streaming.len().saturating_sub(streaming as usize);
    let lines: Vec<Line> = pane
        .streaming
        .iter()
        .skip(skip)
        .map(|s| Line::from(stream_line(s, inner.width as usize)))
        .collect();
    frame.render_widget(
        Paragraph::new(lines),
        Rect {
            y: inner.y + rows as u16,
            height: streaming,
            ..inner
        },
    );
}

/// What a scored run's pane says at its foot: the score, where the trace is and each of
/// the judge's failed checks (nothing before the score is known).
pub fn result_lines(p: &Pane) -> Vec<String> {
    let Some(score) = &p.score else {
        return Vec::new();
    };
    let mut lines = vec![format!("= {score}")];
    if let Some(t) = &p.trace {
        lines.push(format!("trace: {t}"));
    }
    lines.extend(p.verdicts.iter().map(|v| format!("✗ {v}")));
    lines
}

/// One call in flight on one line: `… agent: ` and the end of what it has written so far.
pub fn stream_line(s: &crate::state::Stream, width: usize) -> String {
    let head = match &s.agent {
        Some(a) => format!("… {a}: "),
        None => "… ".to_string(),
    };
    let room = width.saturating_sub(head.chars().count());
    let text = s.text.replace('\n', " ");
    let tail: String = text
        .chars()
        .rev()
        .take(room)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("{head}{tail}")
}

/// A pane's components: every node of its pipeline's graph in run order, with the nodes it
/// takes input from, whether it is waiting, running (highlighted), done, failed or
/// switched off, and its time and tokens so far.
fn component_lines(p: &Pane) -> Vec<Line<'static>> {
    let rows = p.components();
    let plan = p.plan();
    if plan.is_empty() && rows.is_empty() {
        return vec![Line::from(
            "  (no components: this strategy is not a pipeline)",
        )];
    }
    // A trace without a plan in its header: the components as they ran.
    let plan = if plan.is_empty() {
        rows.iter()
            .map(|r| crate::state::PlanNode {
                id: r.name.clone(),
                enabled: true,
                inputs: Vec::new(),
            })
            .collect()
    } else {
        plan
    };
    plan.iter()
        .map(|node| {
            let row = rows.iter().find(|r| r.name == node.id);
            let mark = match row.map(|r| r.state) {
                _ if !node.enabled => "–",
                Some(ComponentState::Running) => "▶",
                Some(ComponentState::Done) => "✓",
                Some(ComponentState::Failed) => "✗",
                None => "·",
            };
            let from = if node.inputs.is_empty() {
                "opening".to_string()
            } else {
                node.inputs.join(",")
            };
            let text = match row {
                Some(r) => format!(
                    "  {mark} {:<9} ← {:<15} {:>6.1} s {:>5} tok  {}",
                    node.id,
                    from,
                    r.ms / 1000.0,
                    r.tokens,
                    r.detail
                ),
                None if !node.enabled => {
                    format!("  {mark} {:<9} ← {:<15} switched off", node.id, from)
                }
                None => format!("  {mark} {:<9} ← {:<15} waiting", node.id, from),
            };
            highlight(
                text,
                row.is_some_and(|r| r.state == ComponentState::Running),
            )
        })
        .collect()
}

/// The keys of the task picker.
pub const PICKER_KEYS: &[(&str, &str)] = &[
    ("↑ ↓ j k PgUp PgDn", "choose a task"),
    (
        "/",
        "search: only tasks whose suite, id, tags or opening contain every word typed (Enter keeps it, Esc clears it)",
    ),
    (
        "h",
        "show or hide the task's hidden profile (never shown to a strategy)",
    ),
    (
        "1 ←  /  2 →",
        "the left / right pane's strategy (! and @ go back)",
    ),
    ("u", "play the user: you type the replies"),
    ("Enter", "run both strategies on the task"),
];

/// The keys of a bench folder's run table.
pub const RUNS_KEYS: &[(&str, &str)] = &[
    ("↑ ↓ j k PgUp PgDn", "choose a run"),
    ("Space", "mark a run (two at most) to open side by side"),
    ("Enter", "open the marked runs (or the selected one)"),
];

/// The keys, for the help screen and the status line.
pub const KEYS: &[(&str, &str)] = &[
    ("↑ ↓ j k n p", "previous / next event (mouse wheel too)"),
    ("PgUp PgDn Home End", "page / first / last event"),
    ("Tab ← →", "switch pane"),
    ("Enter", "the selected event in full (Esc back)"),
    ("g", "the components: running, time and tokens each"),
    (
        "l",
        "lock the panes: the other follows by time, by event, off",
    ),
    (
        "b Esc",
        "back to the picker or the run table (Esc if playing)",
    ),
    (
        "typing, Enter",
        "your reply, when you play the user (Esc: give up)",
    ),
    (
        "between questions",
        "typing starts your next reply (Esc clears)",
    ),
    ("?", "this help"),
    ("q Ctrl-C", "quit"),
];

/// `rows` lines of `items` that keep `selected` in view.
fn window(selected: usize, len: usize, rows: usize) -> std::ops::Range<usize> {
    let start = (selected + 1).saturating_sub(rows.max(1));
    start..(start + rows).min(len)
}

fn styled(text: String, modifier: Modifier) -> Line<'static> {
    Line::from(Span::styled(text, Style::default().add_modifier(modifier)))
}

/// A line, reversed when `on` (a selection, or the component running).
fn highlight(text: String, on: bool) -> Line<'static> {
    if on {
        styled(text, Modifier::REVERSED)
    } else {
        Line::from(text)
    }
}

fn picker_view(frame: &mut Frame, area: Rect, p: &Picker) {
    let visible = p.visible();
    let current = p.current_in(&visible);
    let card_rows = if p.show_hidden {
        current.map(|t| t.hidden.len() as u16 + 1).unwrap_or(0)
    } else {
        0
    };
    let [list, detail] = Layout::default()
        .direction(Direction::Vertical)
        .constraints([Constraint::Min(4), Constraint::Length(6 + card_rows)])
        .areas(area);
    let title = if p.query.is_empty() && !p.searching {
        format!(" tasks ({}) · / search ", p.tasks.len())
    } else {
        format!(
            " tasks: {} of {} match \"{}\"{} ",
            visible.len(),
            p.tasks.len(),
            p.query,
            if p.searching {
                "▏ (Enter keep · Esc clear)"
            } else {
                " (/ edit · Esc clear)"
            }
        )
    };
    let block = Block::default().borders(Borders::ALL).title(title);
    let inner = block.inner(list);
    frame.render_widget(block, list);
    let at = visible.iter().position(|&i| i == p.selected).unwrap_or(0);
    let lines: Vec<Line> = window(at, visible.len(), inner.height as usize)
        .map(|n| {
            let i = visible[n];
            let t = &p.tasks[i];
            let tags = if t.tags.is_empty() {
                String::new()
            } else {
                format!(" [{}]", t.tags.join(","))
            };
            highlight(
                format!("{:<9} {:<10}{tags} {}", t.suite, t.id, t.opening),
                i == p.selected,
            )
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), inner);
    let mut lines = Vec::new();
    if visible.is_empty() {
        lines.push(Line::from(format!(
            "no task matches \"{}\" (Backspace or Esc to widen the search)",
            p.query
        )));
    }
    if let Some(t) = current {
        lines.push(Line::from(format!(
            "{} {}: \"{}\"",
            t.suite, t.id, t.opening
        )));
        lines.push(Line::from(format!(
            "left: {} (1)   right: {} (2)   you play the user: {} (u)",
            p.strategy(p.left),
            p.strategy(p.right),
            if p.play_user { "yes" } else { "no" }
        )));
        if p.show_hidden {
            lines.push(Line::from(Span::styled(
                "hidden profile and ground truth (the strategies never see these):",
                Style::default().add_modifier(Modifier::BOLD),
            )));
            lines.extend(t.hidden.iter().map(|h| Line::from(format!("  {h}"))));
        } else {
            lines.push(Line::from("h: show the hidden profile"));
        }
    }
    frame.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: true }).block(
            Block::default()
                .borders(Borders::ALL)
                .title(" task (Enter runs it) "),
        ),
        detail,
    );
}

fn runs_view(frame: &mut Frame, area: Rect, t: &RunTable) {
    let block = Block::default().borders(Borders::ALL).title(format!(
        " {} · {} runs ",
        t.folder,
        t.rows.len()
    ));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let header = format!(
        "  {:<9} {:<10} {:<20} {:<8} {:>5} {:>5} {:>6}",
        "suite", "task", "strategy", "success", "turns", "calls", "tokens"
    );
    let mut lines = vec![Line::from(Span::styled(
        header,
        Style::default().add_modifier(Modifier::BOLD),
    ))];
    let rows = inner.height.saturating_sub(1) as usize;
    lines.extend(window(t.selected, t.rows.len(), rows).map(|i| {
        let r = &t.rows[i];
        let mark = match t.marked.iter().position(|&m| m == i) {
            Some(0) => "1",
            Some(_) => "2",
            None => " ",
        };
        let success = match r.success {
            Some(true) => "yes".to_string(),
            Some(false) => format!("no {:.2}", r.partial),
            None => "-".to_string(),
        };
        highlight(
            format!(
                "{mark} {:<9} {:<10} {:<20} {:<8} {:>5} {:>5} {:>6}",
                r.suite, r.task, r.label, success, r.user_turns, r.model_calls, r.tokens
            ),
            i == t.selected,
        )
    }));
    frame.render_widget(Paragraph::new(lines), inner);
}

/// The question waiting for the person, their reply so far, and the hidden profile card;
/// with no question open, what they typed ahead for the next one (in the same place).
fn asking_view(frame: &mut Frame, area: Rect, app: &App) {
    let reply = |text: &str| {
        Line::from(Span::styled(
            format!("> {text}▏"),
            Style::default().add_modifier(Modifier::BOLD),
        ))
    };
    let (lines, title) = match app.asking.first() {
        Some(ask) => {
            let who = app
                .panes
                .get(ask.pane)
                .map(|p| p.title.as_str())
                .unwrap_or("the run");
            let mut lines = vec![
                Line::from(format!("{who} asks: {}", ask.question)),
                reply(&ask.input),
            ];
            if !app.card.is_empty() {
                lines.push(Line::from("you are the user; your hidden profile:"));
                lines.extend(app.card.iter().map(|c| Line::from(format!("  {c}"))));
            }
            (lines, " your reply (Enter sends, Esc gives up) ")
        }
        None if !app.ahead.is_empty() => (
            vec![reply(&app.ahead)],
            " your next reply (it waits for the next question; Esc clears) ",
        ),
        None => return,
    };
    let height = (lines.len() as u16 + 2).min(area.height);
    let box_area = Rect {
        y: area.y + area.height - height,
        height,
        ..area
    };
    draw_overlay(
        frame,
        box_area,
        Paragraph::new(lines).wrap(Wrap { trim: false }),
        title,
    );
}

/// A screen drawn over the panes: the area cleared, then `body` in a titled border.
fn draw_overlay(frame: &mut Frame, area: Rect, body: Paragraph, title: &str) {
    frame.render_widget(Clear, area);
    frame.render_widget(
        body.block(
            Block::default()
                .borders(Borders::ALL)
                .title(title.to_string()),
        ),
        area,
    );
}

/// Draw the whole UI.
/// The smallest terminal in which every part of every screen has room; below it the
/// bottom line says so.
pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 15;

pub fn view(frame: &mut Frame, app: &App) {
    let area = frame.area();
    let strip = if app.base == Base::Panes {
        (app.panes.len() as u16).max(1) + 2
    } else {
        0
    };
    let [main, metrics, status] = Layout::default()
        .direction(Direction::Vertical)
        .constraints([
            Constraint::Min(3),
            Constraint::Length(strip),
            Constraint::Length(1),
        ])
        .areas(area);
    match (app.base, &app.picker, &app.runs) {
        (Base::Picker, Some(p), _) => picker_view(frame, main, p),
        (Base::Runs, _, Some(t)) => runs_view(frame, main, t),
        _ => {
            let n = app.panes.len().max(1);
            let columns = Layout::default()
                .direction(Direction::Horizontal)
                .constraints(vec![Constraint::Ratio(1, n as u32); n])
                .split(main);
            for (i, pane) in app.panes.iter().enumerate() {
                pane_view(frame, columns[i], pane, i == app.focus, app.captions);
            }
            asking_view(frame, main, app);
        }
    }
    let lines: Vec<Line> = app
        .panes
        .iter()
        .map(|p| Line::from(metrics_line(p, metrics.width.saturating_sub(2) as usize)))
        .collect();
    frame.render_widget(
        Paragraph::new(lines).block(Block::default().borders(Borders::ALL).title(
            if app.heading.is_empty() {
                " metrics ".to_string()
            } else {
                format!(" metrics · {} ", app.heading)
            },
        )),
        metrics,
    );
    let hint = if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        // Everything still draws, cut short; the bottom line says why.
        format!(
            "{}x{} is too small: {MIN_WIDTH}x{MIN_HEIGHT} or more shows everything (80x24 is best) · q quit",
            area.width, area.height
        )
    } else if app.base == Base::Panes && !app.asking.is_empty() {
        // Every letter is the reply's: only these keys act.
        "Enter send · Esc give up · Ctrl-C quit".to_string()
    } else if app.playing() && app.screen == Screen::Panes {
        format!(
            "typing: your next reply{} · Tab pane · ↑↓ events · Ctrl-C quit",
            // Esc goes back only where there is somewhere to go back to.
            if app.picker.is_some() || app.runs.is_some() {
                " · Esc back"
            } else {
                ""
            }
        )
    } else if !app.status.is_empty() {
        app.status.clone()
    } else {
        match app.base {
            Base::Picker if app.picker.as_ref().is_some_and(|p| p.searching) => {
                "typing: the search · ↑↓ task · Enter keep · Esc clear".into()
            }
            Base::Picker => {
                "? help · q quit · / search · h hidden · 1 2 strategies · u play · Enter run".into()
            }
            Base::Runs => "? help · q quit · ↑↓ run · Space mark two · Enter open".into(),
            Base::Panes => format!(
                "? help · q quit · Tab pane · Enter event · g graph · l lock{}{}",
                match app.lock {
                    crate::state::Lock::Off => "",
                    crate::state::Lock::Time => " (by time)",
                    crate::state::Lock::Event => " (by event)",
                },
                if app.picker.is_some() {
                    " · b picker"
                } else if app.runs.is_some() {
                    " · b runs"
                } else {
                    ""
                }
            ),
        }
    };
    frame.render_widget(Paragraph::new(hint), status);

    let overlay = Rect {
        x: area.x + 1,
        y: area.y + 1,
        width: area.width.saturating_sub(2),
        height: main.height.saturating_sub(1).max(3),
    };
    match app.screen {
        Screen::Panes => {}
        Screen::Detail => {
            let text = app
                .panes
                .get(app.focus)
                .and_then(|p| p.events.get(p.selected))
                .map(detail)
                .unwrap_or_else(|| "no event selected".into());
            draw_overlay(
                frame,
                overlay,
                Paragraph::new(text).wrap(Wrap { trim: false }),
                " event (Esc back) ",
            );
        }
        Screen::Components => {
            let mut lines: Vec<Line> = Vec::new();
            for p in &app.panes {
                lines.push(Line::from(Span::styled(
                    p.title.clone(),
                    Style::default().add_modifier(Modifier::BOLD),
                )));
                lines.extend(component_lines(p));
                lines.push(Line::from(""));
            }
            draw_overlay(
                frame,
                overlay,
                Paragraph::new(lines),
                " components: the pipeline's graph in run order (g back) ",
            );
        }
        Screen::Help => {
            let keys = match app.base {
                Base::Picker => PICKER_KEYS,
                Base::Runs => RUNS_KEYS,
                Base::Panes => KEYS,
            };
            let mut lines: Vec<Line> = Vec::new();
            if !app.intro.is_empty() {
                lines.extend(app.intro.lines().map(|l| Line::from(l.to_string())));
                lines.push(Line::from(""));
            }
            if !app.commentary.is_empty() {
                lines.push(Line::from(Span::styled(
                    "What happened in these runs:",
                    Style::default().add_modifier(Modifier::BOLD),
                )));
                lines.extend(app.commentary.iter().map(|c| Line::from(format!("• {c}"))));
                lines.push(Line::from(""));
            }
            lines.extend(
                keys.iter()
                    .map(|(k, what)| Line::from(format!("{k:<20} {what}"))),
            );
            draw_overlay(
                frame,
                overlay,
                Paragraph::new(lines).wrap(Wrap { trim: false }),
                " keys (? or Esc back) ",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::count;

    #[test]
    fn counts_are_singular_only_for_one() {
        assert_eq!(count(1, "turn"), "1 turn");
        assert_eq!(count(0, "turn"), "0 turns");
        assert_eq!(count(2, "call"), "2 calls");
        assert_eq!(count(11, "call"), "11 calls");
    }
}
