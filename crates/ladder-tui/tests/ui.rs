//! The UI without a terminal: updates on messages, and the screens drawn on ratatui's
//! `TestBackend` (80x24, the smallest terminal it must work in), from two committed traces
//! of the first comparison (scaffold and bootstrap on seaside sea-002).

use std::path::Path;

use ladder_core::trace::{Event, EventKind};
use ladder_tui::state::Screen;
use ladder_tui::update::Key;
use ladder_tui::{update, App, Msg, Pane};
use ratatui::backend::TestBackend;
use ratatui::Terminal;

fn trace(name: &str) -> Pane {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/traces")
        .join(name);
    ladder_tui::saved::from_file(&path).unwrap()
}

fn app() -> App {
    App::new(vec![
        trace("sea-002-scaffold.jsonl"),
        trace("sea-002-bootstrap.jsonl"),
    ])
}

/// The screen as text, one string per row.
fn draw(app: &App, w: u16, h: u16) -> Vec<String> {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| ladder_tui::view::view(f, app)).unwrap();
    let buf = t.backend().buffer().clone();
    (0..h)
        .map(|y| {
            (0..w)
                .map(|x| buf[(x, y)].symbol().to_string())
                .collect::<String>()
        })
        .collect()
}

fn key(app: &mut App, k: Key) {
    update(app, Msg::Key(k));
}

#[test]
fn two_traces_side_by_side_fit_an_80_by_24_terminal() {
    let app = app();
    let screen = draw(&app, 80, 24);
    let text = screen.join("\n");
    assert!(
        screen[0].contains("scaffold · sea-002") && screen[0].contains("bootstrap · sea-002"),
        "{text}"
    );
    assert!(text.contains("metrics"), "{text}");
    assert!(text.contains("? help"), "{text}");
    // Both panes end at their last event, the run's end.
    assert!(
        text.contains("■ answered") || text.contains("■ repeating"),
        "{text}"
    );
}

#[test]
fn keys_move_switch_open_and_quit() {
    let mut app = app();
    let last = app.panes[0].events.len() - 1;
    assert_eq!(app.panes[0].selected, 0);
    key(&mut app, Key::End);
    assert_eq!(app.panes[0].selected, last);
    key(&mut app, Key::Down);
    assert_eq!(app.panes[0].selected, last, "clamped at the end");
    key(&mut app, Key::Home);
    key(&mut app, Key::PageDown);
    assert_eq!(app.panes[0].selected, 10);
    key(&mut app, Key::Tab);
    assert_eq!(app.focus, 1);
    key(&mut app, Key::Down);
    assert_eq!(
        (app.panes[0].selected, app.panes[1].selected),
        (10, 1),
        "unlocked: only the focused pane moves"
    );
    // The detail of a model call shows its prompt and output.
    let call = app.panes[1]
        .events
        .iter()
        .position(|e| matches!(e.kind, EventKind::ModelCall { .. }))
        .unwrap();
    app.panes[1].selected = call;
    key(&mut app, Key::Enter);
    assert_eq!(app.screen, Screen::Detail);
    let text = draw(&app, 80, 24).join("\n");
    assert!(
        text.contains("── output ──") || text.contains("model call"),
        "{text}"
    );
    key(&mut app, Key::Esc);
    assert_eq!(app.screen, Screen::Panes);
    key(&mut app, Key::Char('?'));
    let text = draw(&app, 80, 24).join("\n");
    assert!(text.contains("lock the panes"), "{text}");
    key(&mut app, Key::Char('?'));
    assert_eq!(app.screen, Screen::Panes);
    key(&mut app, Key::Char('q'));
    assert!(app.quit);
    let mut app2 = App::default();
    key(&mut app2, Key::Interrupt);
    assert!(app2.quit, "Ctrl-C quits");
}

#[test]
fn locked_panes_follow_each_other_by_time() {
    let mut app = app();
    key(&mut app, Key::Char('l'));
    key(&mut app, Key::End);
    let at = app.panes[0].events[app.panes[0].selected].at_ms;
    let other = &app.panes[1];
    let sel = other.events[other.selected].at_ms;
    assert!(sel <= at, "the other pane is at or before the same time");
    assert!(other
        .events
        .get(other.selected + 1)
        .is_none_or(|e| e.at_ms > at));
    // Again: by event number, clamped to the other's last event.
    key(&mut app, Key::Char('l'));
    key(&mut app, Key::Home);
    key(&mut app, Key::PageDown);
    assert_eq!(app.panes[1].selected, 10);
    key(&mut app, Key::End);
    assert_eq!(app.panes[1].selected, app.panes[1].events.len() - 1);
    assert!(draw(&app, 80, 24).join("\n").contains("l lock (by event)"));
    key(&mut app, Key::Char('l'));
    key(&mut app, Key::Home);
    assert_ne!(app.panes[1].selected, 0, "off again: the other stays");
}

#[test]
fn the_component_view_shows_each_component_with_its_time_and_tokens() {
    let mut app = app();
    let rows = app.panes[0].components();
    let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        ["classify", "form", "retrieve", "compress", "debate", "answer"]
    );
    let debate = &rows[4];
    assert!(debate.tokens > 0 && debate.ms > 0.0, "{debate:?}");
    assert_eq!(
        rows[0].tokens, 0,
        "the embedding classifier makes no model call"
    );
    key(&mut app, Key::Char('g'));
    let text = draw(&app, 100, 30).join("\n");
    assert!(text.contains("debate") && text.contains("tok"), "{text}");
    assert!(
        text.contains("not a pipeline"),
        "the bootstrapped loop has no components: {text}"
    );
}

#[test]
fn live_events_are_followed_and_streamed_text_is_shown() {
    let mut app = App::new(vec![Pane::new("scaffold"), Pane::new("bootstrap")]);
    let events = trace("sea-002-scaffold.jsonl").events;
    for e in events.iter().take(5) {
        update(
            &mut app,
            Msg::Event {
                pane: 0,
                event: e.clone(),
            },
        );
    }
    assert_eq!(app.panes[0].selected, 4, "the selection follows new events");
    assert_eq!(app.panes[0].running_component(), Some("form"));
    update(
        &mut app,
        Msg::Token {
            pane: 0,
            call: 0,
            agent: None,
            text: "Where are you".into(),
        },
    );
    let text = draw(&app, 80, 24).join("\n");
    assert!(
        text.contains("running: form") && text.contains("… Where are you"),
        "{text}"
    );
    for e in events.iter().skip(5) {
        update(
            &mut app,
            Msg::Event {
                pane: 0,
                event: e.clone(),
            },
        );
    }
    assert!(app.panes[0].done);
    update(
        &mut app,
        Msg::Score {
            pane: 0,
            line: "failure (partial 0.00)".into(),
            verdicts: vec![
                "recommendation: the answer recommends no destination of the knowledge base".into(),
                "max_travel_hours: breaks max_travel_hours = 4".into(),
            ],
            trace: Some("runs/sea-002-scaffold.jsonl".into()),
        },
    );
    // Why it failed and where the trace is, in the pane, at 120 and at 80 columns; the
    // metrics line keeps the score and what fits.
    for (w, h) in [(120, 24), (80, 24)] {
        let rows = draw(&app, w, h);
        let text = rows.join("\n");
        assert!(text.contains("= failure (partial 0.00)"), "{text}");
        assert!(text.contains("✗ recommendation: the answer"), "{text}");
        assert!(text.contains("✗ max_travel_hours: breaks"), "{text}");
        assert!(text.contains("trace: runs/sea-002-scaffold"), "{text}");
        let metrics = rows
            .iter()
            .find(|r| r.contains("scaffold: failure (partial 0.00)"))
            .unwrap_or_else(|| panic!("a metrics line with the score:\n{text}"));
        assert!(metrics.contains("turn"), "{metrics}");
    }
}

#[test]
fn a_ten_thousand_event_trace_draws_only_its_visible_window() {
    let one: Event = trace("sea-002-scaffold.jsonl").events[5].clone();
    let events: Vec<Event> = (0..10_000)
        .map(|i| Event {
            seq: i,
            at_ms: i as f64,
            ..one.clone()
        })
        .collect();
    let mut app = App::new(vec![Pane::from_events("long", events)]);
    key(&mut app, Key::End);
    let screen = draw(&app, 80, 24);
    assert!(screen.iter().any(|l| l.contains("10.0s")), "{screen:?}");
    key(&mut app, Key::Home);
    let screen = draw(&app, 80, 24);
    assert!(screen.iter().any(|l| l.contains("0.0s")));
}

// ---- Snapshots of the main screens (insta; `cargo insta review` after a deliberate
// change of the drawing). All at 80x24, the smallest terminal the UI must work in.

fn snap(app: &App) -> String {
    draw(app, 80, 24).join("\n")
}

fn picker() -> ladder_tui::Picker {
    let suite =
        ladder_world::Suite::load(&ladder_world::default_suites_dir().join("seaside")).unwrap();
    let cards = suite.tasks.iter().map(ladder_tui::lessons::card).collect();
    // The picker shows whatever strategies the binary registers; these are some of them.
    let strategies = [
        "direct",
        "scaffold",
        "scaffold-no-form",
        "bootstrap",
        "bootstrap-free",
    ];
    ladder_tui::Picker::new(
        cards,
        strategies.iter().map(|s| s.to_string()).collect(),
        "scaffold",
        "bootstrap",
    )
}

#[test]
fn snapshot_picker_and_its_hidden_profile_card() {
    let mut app = App::picking(picker());
    insta::assert_snapshot!("picker", snap(&app));
    key(&mut app, Key::End);
    key(&mut app, Key::Char('h'));
    insta::assert_snapshot!("picker_hidden_profile", snap(&app));
}

#[test]
fn snapshot_two_live_panes_mid_run() {
    let mut app = App::new(vec![Pane::new("scaffold"), Pane::new("bootstrap")]);
    for (pane, name) in [
        (0, "sea-002-scaffold.jsonl"),
        (1, "sea-002-bootstrap.jsonl"),
    ] {
        let events = trace(name).events;
        for e in events.iter().take(events.len() / 2) {
            update(
                &mut app,
                Msg::Event {
                    pane,
                    event: e.clone(),
                },
            );
        }
    }
    update(
        &mut app,
        Msg::Token {
            pane: 1,
            call: 2,
            agent: None,
            text: "{\"action\": \"ask\", \"text\": \"Domestic or".into(),
        },
    );
    insta::assert_snapshot!("live_panes_mid_run", snap(&app));
    app.captions = true;
    insta::assert_snapshot!("live_panes_with_lesson_captions", snap(&app));
}

#[test]
fn snapshot_graph_detail_and_help() {
    let mut app = app();
    key(&mut app, Key::Char('g'));
    insta::assert_snapshot!("components", snap(&app));
    key(&mut app, Key::Esc);
    let call = app.panes[0]
        .events
        .iter()
        .position(|e| matches!(e.kind, EventKind::ModelCall { .. }))
        .unwrap();
    app.panes[0].selected = call;
    key(&mut app, Key::Enter);
    insta::assert_snapshot!("event_detail", snap(&app));
    key(&mut app, Key::Esc);
    key(&mut app, Key::Char('?'));
    insta::assert_snapshot!("help", snap(&app));
}

#[test]
fn snapshot_80_by_24_and_resized() {
    let app = app();
    insta::assert_snapshot!("panes_80x24", snap(&app));
    // Smaller than the minimum still draws (clipped), without a panic.
    let tiny = draw(&app, 30, 8).join("\n");
    assert!(tiny.contains("scaffold"), "{tiny}");
}

#[test]
fn the_picker_starts_the_chosen_strategies_on_the_chosen_task() {
    let mut app = App::picking(picker());
    let scaffold = app.picker.as_ref().unwrap().left;
    key(&mut app, Key::Down);
    key(&mut app, Key::Char('2')); // the right pane's strategy moves on by one
    key(&mut app, Key::Char('u'));
    key(&mut app, Key::Enter);
    let p = app.picker.as_ref().unwrap();
    let right = p.strategy(p.right).to_string();
    assert_ne!(right, "bootstrap");
    assert_eq!(p.strategy(scaffold), "scaffold");
    assert_eq!(
        app.requests,
        vec![ladder_tui::Request::Start {
            suite: "seaside".into(),
            id: "sea-002".into(),
            left: "scaffold".into(),
            right: right.clone(),
            play_user: true,
        }]
    );
    assert_eq!(app.base, ladder_tui::Base::Panes);
    assert_eq!(app.panes[1].title, right);
    assert!(
        app.card.iter().any(|l| l.starts_with("home_city = ")),
        "playing the user shows the hidden profile: {:?}",
        app.card
    );
    // Playing the user with the runs going, `b` is a letter of the next reply; Esc clears
    // it, and Esc with nothing typed goes back.
    key(&mut app, Key::Char('b'));
    assert_eq!(
        app.base,
        ladder_tui::Base::Panes,
        "b is typed, not a command"
    );
    assert_eq!(app.ahead, "b");
    key(&mut app, Key::Esc);
    assert_eq!(
        (app.base, app.ahead.as_str()),
        (ladder_tui::Base::Panes, "")
    );
    key(&mut app, Key::Esc);
    assert_eq!(app.base, ladder_tui::Base::Picker, "Esc goes back");
}

/// Every key of `text` as the terminal gives it.
fn type_text(app: &mut App, text: &str) {
    for c in text.chars() {
        key(app, if c == ' ' { Key::Space } else { Key::Char(c) });
    }
}

#[test]
fn playing_the_user_past_the_end_of_the_form_never_turns_words_into_commands() {
    // Words a person types between questions, each full of command letters (q quits, b
    // and Backspace go back, g, l, n, p, h, u, ? and the digits act on the panes).
    let replies = [
        "quiet",
        "by the sea, please",
        "quite lively, no pub crawls",
        "2 days? maybe 3",
        "help me",
        "global: look up nothing",
    ];
    let mut app = App::picking(picker());
    key(&mut app, Key::Char('u'));
    key(&mut app, Key::Enter);
    assert_eq!(app.base, ladder_tui::Base::Panes);
    app.requests.clear();
    let ask = |app: &mut App, question: &str| {
        update(
            app,
            Msg::Ask {
                pane: 0,
                question: question.into(),
            },
        )
    };
    // The form's question, answered.
    ask(&mut app, "Where will you be travelling from?");
    type_text(&mut app, "Ostby");
    key(&mut app, Key::Enter);
    for (i, words) in replies.iter().enumerate() {
        // The form is over; the person types anyway (no question is open).
        type_text(&mut app, words);
        key(&mut app, Key::Enter); // nothing to send it to: kept
        assert!(!app.quit, "{words:?} quit the UI");
        assert_eq!(
            app.base,
            ladder_tui::Base::Panes,
            "{words:?} left the panes"
        );
        assert_eq!(app.screen, ladder_tui::state::Screen::Panes, "{words:?}");
        assert_eq!(app.ahead, *words);
        let screen = draw(&app, 80, 24).join("\n");
        assert!(screen.contains(&format!("> {words}")), "{screen}");
        assert!(screen.contains("Ctrl-C quit"), "{screen}");
        // The next question starts with what they typed; Enter sends it.
        ask(&mut app, &format!("Question {}?", i + 2));
        assert_eq!(app.ahead, "");
        key(&mut app, Key::Enter);
        assert_eq!(
            app.requests.last(),
            Some(&ladder_tui::Request::Reply {
                pane: 0,
                text: Some(words.to_string())
            })
        );
    }
    // While a question is open the footer says what the keys do there: no `b back`.
    ask(&mut app, "Anything else?");
    let footer = draw(&app, 80, 24).pop().unwrap_or_default();
    assert!(
        footer.contains("Enter send") && !footer.contains("b back"),
        "{footer}"
    );
    key(&mut app, Key::Esc); // gives up this one
                             // Once both runs have ended, the keys are commands again.
    for pane in 0..2 {
        update(
            &mut app,
            Msg::Score {
                pane,
                line: "failure (partial 0.00)".into(),
                verdicts: Vec::new(),
                trace: None,
            },
        );
    }
    assert!(!app.playing());
    key(&mut app, Key::Char('q'));
    assert!(app.quit);
}

#[test]
fn playing_the_user_types_a_reply_sends_it_and_can_give_up() {
    let mut app = App::new(vec![Pane::new("scaffold"), Pane::new("bootstrap")]);
    app.card = vec!["home_city = Ostby".into()];
    update(
        &mut app,
        Msg::Ask {
            pane: 0,
            question: "Where will you be travelling from?".into(),
        },
    );
    for c in "I live in Ostbz".chars() {
        key(&mut app, if c == ' ' { Key::Space } else { Key::Char(c) });
    }
    key(&mut app, Key::Backspace);
    key(&mut app, Key::Char('y'));
    key(&mut app, Key::Char('q')); // typed, not quit
    key(&mut app, Key::Backspace);
    assert!(!app.quit);
    insta::assert_snapshot!("playing_the_user", snap(&app));
    key(&mut app, Key::Enter);
    assert_eq!(
        app.requests,
        vec![ladder_tui::Request::Reply {
            pane: 0,
            text: Some("I live in Ostby".into())
        }]
    );
    assert!(app.asking.is_empty());
    update(
        &mut app,
        Msg::Ask {
            pane: 1,
            question: "Quiet or lively?".into(),
        },
    );
    key(&mut app, Key::Enter); // an empty reply is not sent
    assert_eq!(app.requests.len(), 1);
    key(&mut app, Key::Esc);
    assert_eq!(
        app.requests[1],
        ladder_tui::Request::Reply {
            pane: 1,
            text: None
        }
    );
}

#[test]
fn a_panes_running_metrics_equal_the_whole_traces() {
    for name in ["sea-002-scaffold.jsonl", "sea-002-bootstrap.jsonl"] {
        let pane = trace(name);
        assert_eq!(
            pane.metrics(),
            &ladder_core::Metrics::from_events(&pane.events),
            "{name}"
        );
        assert!(pane.done && pane.running_component().is_none());
    }
}

#[test]
fn the_component_view_draws_the_pipelines_graph_with_waiting_nodes_mid_run() {
    let whole = trace("sea-002-scaffold.jsonl");
    let plan = whole.plan();
    let ids: Vec<&str> = plan.iter().map(|n| n.id.as_str()).collect();
    assert_eq!(
        ids,
        ["classify", "form", "retrieve", "compress", "debate", "answer"]
    );
    assert_eq!(plan[5].inputs, ["compress", "debate"], "answer's edges");
    assert!(trace("sea-002-bootstrap.jsonl").plan().is_empty());
    // Mid-run: up to the debate's start.
    let upto = whole
        .events
        .iter()
        .position(|e| {
            matches!(&e.kind, EventKind::ComponentStarted { component, .. } if component == "debate")
        })
        .unwrap();
    let mut app = App::new(vec![Pane::new("scaffold")]);
    for e in &whole.events[..=upto] {
        update(
            &mut app,
            Msg::Event {
                pane: 0,
                event: e.clone(),
            },
        );
    }
    key(&mut app, Key::Char('g'));
    let text = draw(&app, 100, 24).join("\n");
    assert!(text.contains("▶ debate"), "{text}");
    assert!(text.contains("· answer    ← compress,debate"), "{text}");
    assert!(
        text.contains("waiting") && text.contains("✓ classify  ← opening"),
        "{text}"
    );
}

#[test]
fn going_back_to_the_picker_stops_the_runs_and_brings_its_hints_back() {
    let mut app = App::picking(picker());
    key(&mut app, Key::Enter);
    assert_eq!(app.base, ladder_tui::Base::Panes);
    assert!(!app.heading.is_empty(), "the heading names the run");
    // At 80 columns the run's keys and the lock state show, and the way back.
    key(&mut app, Key::Char('l'));
    let screen = draw(&app, 80, 24);
    let footer = screen.last().cloned().unwrap_or_default();
    assert!(
        footer.contains("l lock (by time)") && footer.contains("b picker"),
        "the run's hints: {footer}"
    );
    assert!(
        screen
            .iter()
            .any(|l| l.contains("metrics · scaffold vs bootstrap on seaside")),
        "{screen:#?}"
    );
    app.requests.clear();
    key(&mut app, Key::Char('b'));
    assert_eq!(app.base, ladder_tui::Base::Picker);
    assert_eq!(
        app.requests,
        vec![ladder_tui::Request::Stop],
        "the runs still going stop when nobody can see them"
    );
    let footer = draw(&app, 80, 24).pop().unwrap_or_default();
    assert!(
        footer.contains("u play · Enter run"),
        "the picker's hints: {footer}"
    );
    // Runs that ended need no stopping.
    key(&mut app, Key::Enter);
    for pane in 0..2 {
        update(
            &mut app,
            Msg::Score {
                pane,
                line: "SUCCESS (partial 1.00)".into(),
                verdicts: Vec::new(),
                trace: None,
            },
        );
    }
    app.requests.clear();
    key(&mut app, Key::Esc);
    assert_eq!(app.base, ladder_tui::Base::Picker);
    assert!(app.requests.is_empty(), "{:?}", app.requests);
}

#[test]
fn ctrl_c_quits_everything_and_q_only_this_screen() {
    let mut app = app();
    key(&mut app, Key::Char('q'));
    assert!(app.quit && !app.interrupted);
    let mut app = self::app();
    key(&mut app, Key::Interrupt);
    assert!(
        app.quit && app.interrupted,
        "the all-lessons demo ends on Ctrl-C"
    );
}

#[test]
fn playing_without_a_picker_the_footer_offers_no_way_back_it_does_not_have() {
    // `ladder tui --id TASK --play`: no picker to go back to; Ctrl-C is the way out.
    let mut app = App::new(vec![Pane::new("scaffold"), Pane::new("bootstrap")]);
    app.card = vec!["home_city = Ostby".into()];
    let footer = draw(&app, 80, 24).pop().unwrap_or_default();
    assert!(
        footer.contains("Ctrl-C quit") && !footer.contains("Esc back"),
        "{footer}"
    );
    key(&mut app, Key::Esc);
    assert!(!app.quit, "Esc with nothing typed does not end the run");
    key(&mut app, Key::Interrupt);
    assert!(app.quit);
}

#[test]
fn a_terminal_too_small_says_so_on_its_bottom_line() {
    let app = app();
    for (w, h) in [(40, 10), (59, 24), (80, 14), (20, 5)] {
        let screen = draw(&app, w, h);
        let bottom = screen.last().cloned().unwrap_or_default();
        assert!(
            bottom.contains("too small") || (w < 30 && bottom.starts_with(&format!("{w}x{h}"))),
            "{w}x{h}: {bottom:?}"
        );
    }
    for (w, h) in [(60, 15), (80, 24), (120, 40)] {
        let screen = draw(&app, w, h).join("\n");
        assert!(!screen.contains("too small"), "{w}x{h}: {screen}");
    }
    // A 1x1 terminal draws without a panic.
    let _ = draw(&app, 1, 1);
}

#[test]
fn the_pickers_strategies_cycle_both_ways_and_wrap_around() {
    let mut app = App::picking(picker());
    let p = app.picker.as_ref().unwrap();
    let (l0, r0, n) = (p.left, p.right, p.strategies.len());
    // Forward then back again: where it started.
    for k in ['2', '2', '@', '@', '1', '!'] {
        key(&mut app, Key::Char(k));
    }
    let p = app.picker.as_ref().unwrap();
    assert_eq!((p.left, p.right), (l0, r0));
    // Back from the first wraps to the last.
    while app.picker.as_ref().unwrap().left != 0 {
        key(&mut app, Key::Char('!'));
    }
    key(&mut app, Key::Char('!'));
    assert_eq!(app.picker.as_ref().unwrap().left, n - 1);
    key(&mut app, Key::Char('1'));
    assert_eq!(app.picker.as_ref().unwrap().left, 0);
}

#[test]
fn a_trace_torn_by_a_crash_opens_up_to_its_last_whole_line_and_says_so() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/traces/sea-002-bootstrap.jsonl");
    let text = std::fs::read_to_string(&path).unwrap();
    let whole = text.lines().count();
    // What a kill mid-write leaves: the last line half written.
    let torn = &text[..text.len() - text.lines().last().unwrap().len() / 2 - 1];
    let dir = std::env::temp_dir().join(format!("ladder-tui-torn-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let copy = dir.join("torn.jsonl");
    std::fs::write(&copy, torn).unwrap();
    let pane = ladder_tui::saved::from_file(&copy).unwrap();
    assert_eq!(pane.events.len(), whole - 1);
    assert!(
        pane.title
            .contains(&format!("interrupted: lines 1-{}", whole - 1)),
        "{}",
        pane.title
    );
    let app = App::new(vec![pane]);
    let screen = draw(&app, 80, 24).join("\n");
    assert!(screen.contains("interrupted"), "{screen}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A debate's agents stream at once: each call's words stay on its own line, labelled with
/// its agent, however the tokens interleave; a call's line goes when its event arrives.
#[test]
fn agents_streaming_at_once_are_shown_apart() {
    let mut app = App::new(vec![Pane::new("scaffold"), Pane::new("bootstrap")]);
    let words = [
        ("optimist", "Choose Porto Selita, it is lively."),
        ("skeptic", "Can you stay in the quiet north?"),
        ("pragmatist", "Take the train to Gullby Cove."),
    ];
    let split: Vec<Vec<&str>> = words
        .iter()
        .map(|(_, t)| t.split_inclusive(' ').collect())
        .collect();
    let longest = split.iter().map(Vec::len).max().unwrap();
    for i in 0..longest {
        for (n, ((agent, _), parts)) in words.iter().zip(&split).enumerate() {
            if let Some(w) = parts.get(i) {
                update(
                    &mut app,
                    Msg::Token {
                        pane: 0,
                        call: 10 + n as u64,
                        agent: Some(agent.to_string()),
                        text: w.to_string(),
                    },
                );
            }
        }
    }
    let text = draw(&app, 120, 30).join("\n");
    for (agent, words) in words {
        assert!(
            text.contains(&format!("… {agent}: {words}")),
            "{agent} on its own line:\n{text}"
        );
    }
    // Narrow: each line keeps its agent and the end of its own text.
    let narrow = draw(&app, 80, 24).join("\n");
    assert!(
        narrow.contains("… skeptic: ") && narrow.contains("quiet north?"),
        "{narrow}"
    );
    // Agent 11's call ends: its line goes, the others stay.
    let mut done = trace("sea-002-scaffold.jsonl")
        .events
        .into_iter()
        .find(|e| matches!(e.kind, EventKind::ModelCall { .. }))
        .unwrap();
    if let EventKind::ModelCall { call, .. } = &mut done.kind {
        *call = 11;
    }
    update(
        &mut app,
        Msg::Event {
            pane: 0,
            event: done,
        },
    );
    let calls: Vec<u64> = app.panes[0].streaming.iter().map(|s| s.call).collect();
    assert_eq!(calls, vec![10, 12]);
    // A token of call 11 that arrives after its event (tokens and events travel apart)
    // starts no stream again.
    update(
        &mut app,
        Msg::Token {
            pane: 0,
            call: 11,
            agent: Some("skeptic".into()),
            text: "late".into(),
        },
    );
    assert_eq!(app.panes[0].streaming.len(), 2);
    // A failed call traces an error and no ModelCall: the lines go.
    let mut error = trace("sea-002-scaffold.jsonl").events[0].clone();
    error.kind = EventKind::Error {
        message: "the model failed".into(),
    };
    update(
        &mut app,
        Msg::Event {
            pane: 0,
            event: error,
        },
    );
    assert!(app.panes[0].streaming.is_empty());
}

/// The picker's search, over every committed suite's tasks: each query lists only the
/// tasks containing all its words (any case), typed letters are the query's and never
/// commands, Enter runs the selected match, and a query matching nothing says so.
#[test]
fn the_picker_searches_among_every_suites_tasks() {
    let cards: Vec<_> = ["seaside", "helpdesk", "facts"]
        .iter()
        .flat_map(|s| {
            ladder_world::Suite::load(&ladder_world::default_suites_dir().join(s))
                .unwrap()
                .tasks
                .iter()
                .map(ladder_tui::lessons::card)
                .collect::<Vec<_>>()
        })
        .collect();
    let total = cards.len();
    assert!(total > 100, "{total}");
    let strategies = vec!["scaffold".to_string(), "bootstrap".to_string()];
    for query in [
        "facts-006",
        "GIFT wrapping",
        "helpdesk refund",
        "seaside quiet",
        "q j k",
    ] {
        let mut app = App::picking(ladder_tui::Picker::new(
            cards.clone(),
            strategies.clone(),
            "scaffold",
            "bootstrap",
        ));
        key(&mut app, Key::Char('/'));
        for c in query.chars() {
            key(&mut app, if c == ' ' { Key::Space } else { Key::Char(c) });
        }
        assert!(!app.quit, "q typed into the search does not quit");
        let p = app.picker.as_ref().unwrap();
        let visible = p.visible();
        let words: Vec<String> = query.split(' ').map(str::to_lowercase).collect();
        for &i in &visible {
            let t = &p.tasks[i];
            let hay =
                format!("{} {} {} {}", t.suite, t.id, t.tags.join(" "), t.opening).to_lowercase();
            assert!(
                words.iter().all(|w| hay.contains(w.as_str())),
                "{query}: {hay}"
            );
        }
        let text = snap(&app);
        if visible.is_empty() {
            assert!(text.contains("no task matches"), "{query}:\n{text}");
            key(&mut app, Key::Enter);
            key(&mut app, Key::Enter);
            assert!(app.requests.is_empty(), "nothing to run for {query}");
            continue;
        }
        assert!(
            text.contains(&format!("{} of {total} match", visible.len())),
            "{query}:\n{text}"
        );
        // Down moves among the matches only; Enter keeps the search, Enter again runs.
        key(&mut app, Key::Down);
        let p = app.picker.as_ref().unwrap();
        let want = visible[1.min(visible.len() - 1)];
        assert_eq!(p.selected, want, "{query}");
        let id = p.tasks[want].id.clone();
        key(&mut app, Key::Enter);
        key(&mut app, Key::Enter);
        match app.requests.as_slice() {
            [ladder_tui::Request::Start { id: started, .. }] => assert_eq!(*started, id),
            other => panic!("{query}: {other:?}"),
        }
    }
    // Esc clears the search: every task is listed again.
    let mut app = App::picking(ladder_tui::Picker::new(
        cards,
        strategies,
        "scaffold",
        "bootstrap",
    ));
    key(&mut app, Key::Char('/'));
    key(&mut app, Key::Char('z'));
    key(&mut app, Key::Esc);
    assert_eq!(app.picker.as_ref().unwrap().visible().len(), total);
    assert!(!app.quit);
}

/// A lesson's commentary is computed from its runs: what each asked, found, answered and
/// was judged, and whether the lesson's point shows, saying so plainly when it does not.
#[test]
fn a_lessons_commentary_is_true_of_its_runs() {
    use ladder_tui::lessons::{commentary, find};
    let scored = |mut p: Pane, line: &str, verdicts: &[&str]| {
        p.score = Some(line.into());
        p.verdicts = verdicts.iter().map(|v| v.to_string()).collect();
        p
    };
    let scaffold = trace("sea-002-scaffold.jsonl");
    let lp = trace("sea-002-bootstrap.jsonl");
    let seaside = find("seaside").unwrap();
    // Nothing until both are scored.
    assert!(commentary(seaside, &[scaffold.clone(), lp.clone()]).is_empty());
    let s = scored(
        scaffold.clone(),
        "failure (partial 0.50)",
        &["max_travel_hours: breaks max_travel_hours = 4"],
    );
    let l = scored(lp.clone(), "failure (partial 0.00)", &["answer: no answer"]);
    let c = commentary(seaside, &[s.clone(), l.clone()]);
    assert_eq!(c.len(), 3, "{c:#?}");
    let form_turns = s.metrics().user_turns;
    assert!(c[0].contains(&format!("in {form_turns} turns")), "{}", c[0]);
    assert!(
        c[0].contains("because max_travel_hours: breaks"),
        "{}",
        c[0]
    );
    // The loop of this trace asked nothing and stopped without an answer: said, not hidden.
    assert!(
        c[1].contains("asked the user nothing") && c[1].contains("gave no answer"),
        "{}",
        c[1]
    );
    assert!(c[2].contains("does not show"), "{}", c[2]);

    // The same loop had it asked and answered: the point shows.
    let mut events = lp.events.clone();
    let last = events.pop().unwrap();
    events.extend(
        scaffold
            .events
            .iter()
            .filter(|e| {
                matches!(
                    e.kind,
                    EventKind::UserTurn { .. } | EventKind::Answer { .. }
                )
            })
            .take(2)
            .cloned(),
    );
    events.extend(
        scaffold
            .events
            .iter()
            .filter(|e| matches!(e.kind, EventKind::Answer { .. }))
            .cloned(),
    );
    events.push(last);
    let asked = scored(
        Pane::from_events("bootstrap", events),
        "SUCCESS (partial 1.00)",
        &[],
    );
    let c = commentary(seaside, &[s.clone(), asked]);
    assert!(
        c[1].contains("asked 2 questions") && c[1].contains("answered"),
        "{}",
        c[1]
    );
    assert!(c[2].starts_with("The lesson's point shows"), "{}", c[2]);

    // Unplaceable: this scaffold's classifier chose an intent, so the point does not show;
    // with no intent chosen, it does.
    let unplaceable = find("unplaceable").unwrap();
    let c = commentary(unplaceable, &[s.clone(), l.clone()]);
    assert!(
        c[2].contains("does not show") && c[2].contains("placed the request under"),
        "{}",
        c[2]
    );
    let mut events = scaffold.events.clone();
    for e in &mut events {
        if let EventKind::IntentDecision { chosen, .. } = &mut e.kind {
            chosen.clear();
        }
    }
    let unknown = scored(
        Pane::from_events("scaffold", events),
        "failure (partial 0.00)",
        &[],
    );
    let c = commentary(unplaceable, &[unknown, l.clone()]);
    assert!(c[2].contains("`unknown` route"), "{}", c[2]);

    // The debate: drafts and rounds counted from the trace.
    let debate = find("debate").unwrap();
    let c = commentary(debate, &[s.clone(), l.clone()]);
    let drafts = s.metrics().debate_messages;
    assert!(
        c[2].contains(&format!("{drafts} drafts")) || c[2].contains(&format!("({drafts} of them)")),
        "{}",
        c[2]
    );
    let mut events = scaffold.events.clone();
    events.retain(|e| !matches!(e.kind, EventKind::DebateMessage { .. }));
    let none = scored(
        Pane::from_events("scaffold", events),
        "failure (partial 0.00)",
        &[],
    );
    let c = commentary(debate, &[none, l]);
    assert!(
        c[2].contains("does not show") && c[2].contains("no drafts"),
        "{}",
        c[2]
    );
}

/// In the lesson's UI, the commentary arrives with the second score and the help screen
/// shows it under the lesson's text.
#[test]
fn a_lessons_commentary_shows_once_both_runs_are_scored() {
    let mut app = app();
    app.lesson = ladder_tui::lessons::find("seaside").copied();
    app.intro = "Lesson seaside".into();
    let score = |pane| Msg::Score {
        pane,
        line: "failure (partial 0.00)".into(),
        verdicts: vec!["answer: no answer".into()],
        trace: None,
    };
    update(&mut app, score(0));
    assert!(app.commentary.is_empty());
    update(&mut app, score(1));
    assert_eq!(app.commentary.len(), 3);
    assert!(
        app.status.contains("? shows what happened"),
        "{}",
        app.status
    );
    key(&mut app, Key::Char('?'));
    let text = draw(&app, 120, 40).join("\n");
    assert!(text.contains("What happened in these runs"), "{text}");
}
