//! Drawing: a pure function of the state onto a frame.

use ladder_core::trace::{Actor, Event, EventKind};
use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use ratatui::Frame;

use crate::state::{App, ComponentState, Pane, Screen};

/// One line per event: what happened, in a few words.
pub fn summary(e: &Event) -> String {
    let cut = |s: &str, n: usize| -> String {
        let one: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
        if one.chars().count() > n {
            format!("{}…", one.chars().take(n).collect::<String>())
        } else {
            one
        }
    };
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
        EventKind::Retrieval { query, hits, .. } => format!(
            "search: {} → {}",
            cut(query, 40),
            hits.iter()
                .map(|h| if h.title.is_empty() {
                    h.document.clone()
                } else {
                    h.title.clone()
                })
                .collect::<Vec<_>>()
                .join(", ")
        ),
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

fn metrics_line(p: &Pane) -> String {
    let m = p.metrics();
    format!(
        "{}: {}{} user turns · {} model calls · {} tokens ({} cached) · model {:.1} s · wall {:.1} s",
        p.title,
        p.score.as_ref().map(|s| format!("{s} · ")).unwrap_or_default(),
        m.user_turns,
        m.model_calls,
        m.total_tokens,
        m.cached_tokens,
        m.model_ms / 1000.0,
        m.wall_ms / 1000.0,
    )
}

fn pane_view(frame: &mut Frame, area: Rect, pane: &Pane, focused: bool) {
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
    let streaming = !pane.streaming.is_empty() && !pane.done;
    let rows = inner.height.saturating_sub(u16::from(streaming)) as usize;
    if rows == 0 {
        return;
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
            if i == pane.selected && focused {
                Line::from(Span::styled(
                    text,
                    Style::default().add_modifier(Modifier::REVERSED),
                ))
            } else if i == pane.selected {
                Line::from(Span::styled(
                    text,
                    Style::default().add_modifier(Modifier::UNDERLINED),
                ))
            } else {
                Line::from(text)
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
    if streaming {
        let tail: String = pane
            .streaming
            .chars()
            .rev()
            .take(inner.width as usize)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        frame.render_widget(
            Paragraph::new(format!("… {}", tail.replace('\n', " "))),
            Rect {
                y: inner.y + rows as u16,
                height: 1,
                ..inner
            },
        );
    }
}

/// The keys, for the help screen and the status line.
pub const KEYS: &[(&str, &str)] = &[
    ("↑ ↓ j k n p", "previous / next event (mouse wheel too)"),
    ("PgUp PgDn Home End", "page / first / last event"),
    ("Tab ← →", "switch pane"),
    ("Enter", "the selected event in full (Esc back)"),
    ("g", "the components: running, time and tokens each"),
    ("l", "lock the panes: the other follows by time"),
    ("?", "this help"),
    ("q Ctrl-C", "quit"),
];

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
pub fn view(frame: &mut Frame, app: &App) {
    let area = frame.area();
    let strip = (app.panes.len() as u16).max(1) + 2;
    let [main, metrics, status] = Layout::default()
        .direction(Direction::Vertical)
        .constraints([
            Constraint::Min(3),
            Constraint::Length(strip),
            Constraint::Length(1),
        ])
        .areas(area);
    let n = app.panes.len().max(1);
    let columns = Layout::default()
        .direction(Direction::Horizontal)
        .constraints(vec![Constraint::Ratio(1, n as u32); n])
        .split(main);
    for (i, pane) in app.panes.iter().enumerate() {
        pane_view(frame, columns[i], pane, i == app.focus);
    }
    let lines: Vec<Line> = app
        .panes
        .iter()
        .map(|p| Line::from(metrics_line(p)))
        .collect();
    frame.render_widget(
        Paragraph::new(lines).block(Block::default().borders(Borders::ALL).title(" metrics ")),
        metrics,
    );
    let hint = if app.status.is_empty() {
        format!(
            "? help · q quit · Tab switch · Enter detail · g components · l lock{}",
            if app.locked { " (locked)" } else { "" }
        )
    } else {
        app.status.clone()
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
                let rows = p.components();
                if rows.is_empty() {
                    lines.push(Line::from(
                        "  (no components: this strategy is not a pipeline)",
                    ));
                }
                for r in rows {
                    let mark = match r.state {
                        ComponentState::Running => "▶",
                        ComponentState::Done => "✓",
                        ComponentState::Failed => "✗",
                    };
                    let text = format!(
                        "  {mark} {:<10} {:<11} {:>7.1} s {:>6} tok  {}",
                        r.name,
                        r.kind,
                        r.ms / 1000.0,
                        r.tokens,
                        r.detail
                    );
                    lines.push(if r.state == ComponentState::Running {
                        Line::from(Span::styled(
                            text,
                            Style::default().add_modifier(Modifier::REVERSED),
                        ))
                    } else {
                        Line::from(text)
                    });
                }
                lines.push(Line::from(""));
            }
            draw_overlay(
                frame,
                overlay,
                Paragraph::new(lines),
                " components (g back) ",
            );
        }
        Screen::Help => {
            let lines: Vec<Line> = KEYS
                .iter()
                .map(|(k, what)| Line::from(format!("{k:<20} {what}")))
                .collect();
            draw_overlay(frame, overlay, Paragraph::new(lines), " keys (? back) ");
        }
    }
}
