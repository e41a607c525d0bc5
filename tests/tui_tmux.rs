//! `ladder tui` end to end in a real terminal: the binary runs in tmux, keys go in with
//! `send-keys`, the screen comes back with `capture-pane`. The model is a committed
//! cassette (scaffold and bootstrap on seaside sea-002, recorded on the local model), so
//! both runs reach their answers in seconds; the embedding model and the knowledge base are
//! real. Skipped, with the reason printed, only when tmux is missing (`just setup`
//! installs it).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

#[path = "support/bench_folder.rs"]
mod bench_folder;

struct Tmux {
    socket: String,
}

impl Tmux {
    /// A detached 100x30 session running bash in `root`, on a server of its own (`name`
    /// and the process id), so tests running at once do not share one.
    fn start(name: &str, root: &Path) -> Tmux {
        let tmux = Tmux {
            socket: format!("{name}-{}", std::process::id()),
        };
        tmux.run(&[
            "new-session",
            "-d",
            "-s",
            "t",
            "-x",
            "100",
            "-y",
            "30",
            "-c",
            root.to_str().unwrap(),
            "bash --norc --noprofile",
        ]);
        tmux
    }

    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "t"];
        args.extend_from_slice(keys);
        self.run(&args);
    }

    /// A command line typed at the shell, and Enter.
    fn launch(&self, command: &str) {
        self.type_text(command);
        self.keys(&["Enter"]);
    }

    /// Literal text, typed.
    fn type_text(&self, text: &str) {
        self.run(&["send-keys", "-t", "t", "-l", text]);
    }

    fn screen(&self) -> String {
        self.run(&["capture-pane", "-t", "t", "-p"])
    }

    /// Wait until the screen satisfies `ok` (180 s at most: a bound on liveness, not a
    /// timing check; with this file's tests running real models at once on 2 cores, the
    /// scaffold's run on the 135M has taken over 60 s), and return it.
    fn wait(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if ok(&screen) {
                return screen;
            }
            if start.elapsed() > Duration::from_secs(180) {
                panic!("waited 180 s for {what}; the screen:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(150));
        }
    }
}

/// The repository's root (the tests' working folder).
fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A tmux session called `name` in the repository's root, the binary's path and a scratch
/// folder; None, with the reason printed, when tmux is missing.
fn session(name: &str) -> Option<(Tmux, PathBuf, tempfile::TempDir)> {
    if Command::new("tmux").arg("-V").output().is_err() {
        eprintln!("skipped: tmux is not installed (`just setup` installs it)");
        return None;
    }
    Some((
        Tmux::start(name, root()),
        PathBuf::from(env!("CARGO_BIN_EXE_ladder")),
        tempfile::tempdir().unwrap(),
    ))
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .output();
    }
}

#[test]
fn pick_run_open_play_and_quit_in_a_real_terminal() {
    let Some((tmux, bin, tmp)) = session("ladder-test") else {
        return;
    };
    let cassette = root().join("fixtures/cassettes/tui-sea-002.jsonl");
    let dir = tmp.path();
    let command = format!(
        "stty -g > {d}/before; {bin} tui --model replay:{cassette} --data {d}/data --out {d}/out; stty -g > {d}/after; echo ENDED-$((40 + 2))",
        d = dir.display(),
        bin = bin.display(),
        cassette = cassette.display(),
    );
    tmux.launch(&command);

    // The picker, on the first task; down to sea-002 and run both strategies.
    tmux.wait("the task picker", |s| {
        s.contains("tasks (") && s.contains("sea-001")
    });
    tmux.keys(&["Down"]);
    tmux.wait("sea-002 selected", |s| s.contains("seaside sea-002: \""));
    tmux.keys(&["Enter"]);
    let screen = tmux.wait("both runs to end", |s| s.matches("■ answered").count() == 2);
    assert!(
        screen.contains("scaffold") && screen.contains("bootstrap"),
        "{screen}"
    );
    assert!(screen.contains("failure (partial 0.00)"), "{screen}");

    // The selected event in full, and back.
    tmux.keys(&["Enter"]);
    tmux.wait("the event detail", |s| s.contains("event (Esc back)"));
    tmux.keys(&["Escape"]);
    tmux.wait("the panes again", |s| {
        !s.contains("event (Esc back)") && s.contains("metrics")
    });

    // Back to the picker; play the user this time: answer the form's first question as
    // the simulated user did when the cassette was recorded, then give up on the next.
    tmux.keys(&["b"]);
    tmux.wait("the picker again", |s| s.contains("tasks ("));
    tmux.keys(&["u"]);
    tmux.wait("playing the user", |s| s.contains("you play the user: yes"));
    tmux.keys(&["Enter"]);
    let screen = tmux.wait("the first question", |s| {
        s.contains("your reply") && s.contains("Where will you be travelling from?")
    });
    assert!(
        screen.contains("home_city = Wenlow"),
        "the profile card: {screen}"
    );
    tmux.type_text("I live in Wenlow.");
    tmux.wait("the typed reply", |s| s.contains("> I live in Wenlow."));
    tmux.keys(&["Enter"]);
    tmux.wait("the next question", |s| {
        s.contains("quiet or somewhere lively") && s.contains("I live in Wenlow.")
    });
    tmux.keys(&["Escape"]);
    tmux.wait("the scaffold's user to give up", |s| {
        s.contains("■ user gave up")
    });

    // Quit: the shell comes back with the terminal as it was.
    tmux.keys(&["q"]);
    tmux.wait("the shell", |s| s.contains("ENDED-42"));
    let before = std::fs::read_to_string(dir.join("before")).unwrap();
    let after = std::fs::read_to_string(dir.join("after")).unwrap();
    assert_eq!(before, after, "stty settings restored");
    assert!(!before.trim().is_empty());
    // The runs were saved: two of the first comparison, two of the played one.
    let traces = std::fs::read_dir(dir.join("out"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "jsonl")
        })
        .count();
    assert_eq!(traces, 4);
}

#[test]
fn a_bench_folders_two_marked_runs_open_in_a_real_terminal() {
    let Some((tmux, bin, tmp)) = session("ladder-test-bench") else {
        return;
    };
    // A bench folder (the binary loads no model for one).
    let dir = tmp.path().join("bench");
    bench_folder::write(root(), &dir);
    let command = format!(
        "{bin} tui {d}; echo ENDED-$((40 + 2))",
        d = dir.display(),
        bin = bin.display(),
    );
    tmux.launch(&command);
    tmux.wait("the run table", |s| s.contains("4 runs"));
    // Mark two runs and open them: both panes, side by side (this used to stay at
    // `opening…` forever).
    tmux.keys(&["Space"]);
    tmux.keys(&["Down"]);
    tmux.keys(&["Space"]);
    tmux.keys(&["Enter"]);
    tmux.wait("the two runs side by side, with their metrics", |s| {
        s.contains("scaffold · sea-002")
            && s.contains("bootstrap · sea-002")
            && s.contains("metrics")
    });
    // A 40x10 terminal says it is too small (and still draws); back at 100x30 it does not.
    tmux.run(&["resize-window", "-t", "t", "-x", "40", "-y", "10"]);
    tmux.wait("the too-small notice", |s| s.contains("40x10 is too small"));
    tmux.run(&["resize-window", "-t", "t", "-x", "100", "-y", "30"]);
    tmux.wait("the full screen again", |s| {
        !s.contains("too small") && s.contains("scaffold · sea-002")
    });
    // Back to the table, and quit.
    tmux.keys(&["Escape"]);
    tmux.wait("the run table again", |s| s.contains("4 runs"));
    tmux.keys(&["q"]);
    tmux.wait("the shell", |s| s.contains("ENDED-42"));
}

/// Playing the user on the real 135M model: every question of the form answered, then
/// words typed while the scaffold works on are the next reply, never commands (`q` and
/// `b` among them); once both runs are over, `q` quits.
#[test]
fn playing_the_user_to_the_end_of_the_form_and_typing_after_it() {
    let Some((tmux, bin, tmp)) = session("ladder-test-play") else {
        return;
    };
    let d = tmp.path();
    let command = format!(
        "{bin} tui --id sea-002 --play --left scaffold --right direct --model smollm2-135m --data {d}/data --out {d}/out; echo ENDED-$((40 + 2))",
        d = d.display(),
        bin = bin.display(),
    );
    tmux.launch(&command);
    let question = |s: &str| {
        s.lines()
            .find(|l| l.contains("scaffold asks:"))
            .map(str::to_string)
    };
    let mut asked = 0;
    loop {
        let screen = tmux.wait("a question of the form, or its end", |s| {
            question(s).is_some() || s.contains("└ form")
        });
        let Some(q) = question(&screen) else { break };
        asked += 1;
        assert!(asked <= 12, "the form asks each slot once:\n{screen}");
        tmux.type_text("No preference.");
        tmux.keys(&["Enter"]);
        tmux.wait("the next question, or the form's end", |s| {
            question(s).as_ref() != Some(&q)
        });
    }
    assert!(asked >= 2, "sea-002's form asks several slots ({asked})");
    // The form is over; the scaffold still works. Reply-like words and command letters.
    tmux.type_text("quiet, by the sea; q b");
    let screen = tmux.wait("the typed words kept for the next reply", |s| {
        s.contains("> quiet, by the sea; q b")
    });
    assert!(!screen.contains("ENDED-42"), "{screen}");
    assert!(screen.contains("your next reply"), "{screen}");
    tmux.wait("both runs to end", |s| s.matches("■ ").count() == 2);
    tmux.keys(&["q"]);
    tmux.wait("the shell", |s| s.contains("ENDED-42"));
}

/// The all-lessons demo: one Ctrl-C leaves it (where `q` goes on to the next lesson).
#[test]
fn one_ctrl_c_leaves_the_all_lessons_demo() {
    let Some((tmux, bin, tmp)) = session("ladder-test-demo") else {
        return;
    };
    let cassette = root().join("fixtures/cassettes/demo-seaside.jsonl");
    let d = tmp.path();
    let command = format!(
        "{bin} demo --model replay:{cassette} --data {d}/data --out {d}/out; echo ENDED-$((40 + 2))",
        d = d.display(),
        bin = bin.display(),
        cassette = cassette.display(),
    );
    tmux.launch(&command);
    tmux.wait("the first lesson", |s| s.contains("Lesson seaside"));
    tmux.keys(&["C-c"]);
    let screen = tmux.wait("the shell", |s| s.contains("ENDED-42"));
    assert!(!screen.contains("Lesson unplaceable"), "{screen}");
}
