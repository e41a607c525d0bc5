//! The simulated user on committed tasks.

use std::sync::Arc;

use ladder_core::{Budget, RunSetup, UserChannel, UserReply};
use ladder_world::user::{Patience, GIVE_UP};
use ladder_world::{default_suites_dir, ModelUser, SimulatedUser, Suite};

fn user(suite: &str, id: &str, patience: Patience) -> SimulatedUser {
    let s = Suite::load(&default_suites_dir().join(suite)).unwrap();
    let task = s.task(id).unwrap().clone();
    SimulatedUser::new(Arc::new(s.manifest), task, patience)
}

fn answer(r: UserReply) -> String {
    match r {
        UserReply::Answer(t) => t,
        UserReply::GaveUp(t) => panic!("gave up: {t}"),
    }
}

#[test]
fn answers_with_the_matching_fact_in_its_own_words() {
    let mut u = user("seaside", "sea-001", Patience::default());
    assert_eq!(
        answer(u.reply("Where are you travelling from?")),
        "I live in Tarnfield."
    );
    assert_eq!(
        answer(u.reply("Would you prefer somewhere quiet or lively?")),
        "Somewhere lively, with things going on."
    );
    assert_eq!(u.stats.turns, 2);
    assert_eq!(u.stats.irrelevant + u.stats.repeated, 0);
}

#[test]
fn a_compound_question_gets_every_matching_fact() {
    let mut u = user("seaside", "sea-001", Patience::default());
    let a = answer(
        u.reply("Do you want to stay in Norland or go abroad, and how many days do you have?"),
    );
    assert_eq!(a, "I'd rather stay in Norland. I have 5 days.");
}

#[test]
fn a_question_of_several_parts_gets_every_part_answered_in_order() {
    let mut u = user("seaside", "sea-001", Patience::default());
    let a = answer(
        u.reply("Domestic or abroad? What is your favourite colour? Quiet or lively? Which month?"),
    );
    assert_eq!(
        a,
        "I'd rather stay in Norland. I don't know. Somewhere lively, with things going on. No preference."
    );
    let kinds: Vec<_> = u.last_parts().iter().map(|p| p.kind).collect();
    use ladder_core::PartKind::*;
    assert_eq!(kinds, [Answered, Irrelevant, Answered, NoPreference]);
    // The slot it had no preference on is recorded too, so scoring's replay finds it.
    assert_eq!(
        u.matched_slots(),
        Some(vec!["scope".into(), "mood".into(), "month".into()])
    );
    assert_eq!(
        (u.stats.turns, u.stats.answered, u.stats.effort),
        (1, 2, 1.5)
    );
}

#[test]
fn a_catch_all_question_costs_what_it_asks() {
    let s = Suite::load(&default_suites_dir().join("seaside")).unwrap();
    // Every slot's form question, in one turn.
    let all: Vec<String> = s
        .manifest
        .slots()
        .iter()
        .map(|slot| slot.question.clone())
        .collect();
    let mut u = user("seaside", "sea-001", Patience::default());
    answer(u.reply(&all.join(" ")));
    let t = s.task("sea-001").unwrap();
    let known = t.profile.len() as u32;
    assert_eq!(u.stats.turns, 1);
    assert_eq!(u.stats.answered, known);
    assert_eq!(u.stats.no_preference, all.len() as u32 - known);
    assert_eq!(u.stats.effort, 0.5 * (all.len() as u32 - known) as f32);
}

/// A form that asks every slot of the suite once each finishes on every task: a form's
/// cost shows in turns and effort, never decides the comparison by a give-up.
#[test]
fn a_full_form_finishes_on_every_task() {
    for name in ["seaside", "helpdesk"] {
        let s = Suite::load(&default_suites_dir().join(name)).unwrap();
        for t in &s.tasks {
            let mut u =
                SimulatedUser::new(Arc::new(s.manifest.clone()), t.clone(), Patience::default());
            let mut handed_over = std::collections::BTreeSet::new();
            for slot in s.manifest.slots() {
                match u.reply(&slot.question) {
                    UserReply::Answer(_) => {}
                    UserReply::GaveUp(_) => panic!(
                        "{}: the user gave up at {:?} (effort {})",
                        t.id, slot.name, u.stats.effort
                    ),
                }
                // Each form question matches its own slot and no other.
                let matched = u.matched_slots().unwrap();
                assert!(
                    matched.iter().all(|m| *m == slot.name),
                    "{}: {matched:?}",
                    t.id
                );
                handed_over.extend(matched);
            }
            for f in &t.profile {
                assert!(
                    handed_over.contains(&f.slot),
                    "{}: {} never given",
                    t.id,
                    f.slot
                );
            }
        }
    }
}

#[test]
fn never_volunteers_and_counts_irrelevant_questions() {
    let mut u = user("seaside", "sea-001", Patience::default());
    let a = answer(u.reply("What's your favourite colour?"));
    assert_eq!(a, "I don't know.");
    assert!(!a.contains("Tarnfield"));
    // A slot the suite knows but this traveller has no preference on.
    assert_eq!(
        answer(u.reply("Which month are you travelling in?")),
        "No preference."
    );
    assert_eq!((u.stats.irrelevant, u.stats.no_preference), (1, 1));
    assert_eq!(u.stats.effort, 1.5);
}

#[test]
fn facts_from_the_opening_and_repeated_questions_count_as_repeats() {
    let mut u = user("seaside", "sea-002", Patience::default()); // scope stated in the opening
    assert_eq!(
        answer(u.reply("Domestic or abroad?")),
        "As I said: I'd rather stay in Norland."
    );
    answer(u.reply("How many hours are you willing to travel?"));
    assert_eq!(
        answer(u.reply("And how far can you travel?")),
        "As I said: No more than 4 hours of travel."
    );
    assert_eq!(u.stats.repeated, 2);
}

#[test]
fn gives_up_past_its_patience_and_its_turn_limit() {
    let mut u = user(
        "seaside",
        "sea-001",
        Patience {
            wasted: 2.0,
            max_turns: 8,
            ..Patience::default()
        },
    );
    answer(u.reply("Favourite colour?"));
    answer(u.reply("Favourite food?"));
    assert_eq!(
        u.reply("Favourite film?"),
        UserReply::GaveUp(GIVE_UP.into())
    );

    let mut u = user(
        "seaside",
        "sea-001",
        Patience {
            wasted: 10.0,
            max_turns: 2,
            ..Patience::default()
        },
    );
    answer(u.reply("Where do you live?"));
    answer(u.reply("How many days?"));
    assert!(matches!(u.reply("Quiet or lively?"), UserReply::GaveUp(_)));
}

#[test]
fn in_the_facts_suite_every_question_is_wasted() {
    let mut u = user("facts", "facts-001", Patience::default());
    assert_eq!(
        answer(u.reply("Which clock do you mean?")),
        "I don't know, that's why I'm asking you."
    );
    assert_eq!(u.stats.irrelevant, 1);
}

#[tokio::test]
async fn through_the_run_context_a_user_who_gives_up_ends_the_run() {
    let model = ladder_model::open(
        &ladder_model::ModelSpec::Named("smollm2-135m".into()),
        &Default::default(),
    )
    .unwrap();
    let u = user(
        "seaside",
        "sea-001",
        Patience {
            wasted: 0.0,
            max_turns: 8,
            ..Patience::default()
        },
    );
    /// Asks where the user lives, then something irrelevant.
    struct TwoAsks;
    #[async_trait::async_trait]
    impl ladder_core::Strategy for TwoAsks {
        fn name(&self) -> &str {
            "two-asks"
        }
        async fn run(
            &self,
            _: &ladder_core::TaskView,
            ctx: &mut ladder_core::RunContext,
        ) -> ladder_core::Outcome {
            let first = ctx.ask_user("Where are you travelling from?").await;
            assert_eq!(first.unwrap(), "I live in Tarnfield.");
            let result = ctx.ask_user("Favourite colour?").await;
            ctx.finish(result)
        }
    }
    let task = Suite::load(&default_suites_dir().join("seaside"))
        .unwrap()
        .task("sea-001")
        .unwrap()
        .clone();
    let setup = RunSetup::new(model, Budget::default()).with_user(Box::new(u));
    let run = ladder_core::run_task(&TwoAsks, &task, setup).await;
    assert_eq!(run.outcome.stop, ladder_core::StopReason::UserGaveUp);
    let turns: Vec<_> = run
        .events()
        .iter()
        .filter(|e| matches!(e.kind, ladder_core::EventKind::UserTurn { .. }))
        .collect();
    assert_eq!(turns.len(), 2);
}

#[tokio::test]
async fn a_model_can_play_the_user() {
    let model = ladder_model::open(
        &ladder_model::ModelSpec::Named("smollm2-135m".into()),
        &Default::default(),
    )
    .unwrap();
    let s = Suite::load(&default_suites_dir().join("seaside")).unwrap();
    let task = s.task("sea-001").unwrap().clone();
    let mut u = ModelUser::new(
        model,
        task,
        Patience {
            max_turns: 2,
            ..Patience::default()
        },
    );
    let a = answer(u.ask("Where do you live?").await.unwrap());
    // Greedy decoding: the reply is fixed, and it draws on the profile it was given.
    assert!(a.contains("Tarnfield") || a.contains("Norland"), "{a:?}");
    answer(u.ask("How many days?").await.unwrap());
    assert!(matches!(
        u.ask("Anything else?").await.unwrap(),
        UserReply::GaveUp(_)
    ));
}

/// Asks the user two questions and answers without calling the model itself.
struct AskTwice;

#[async_trait::async_trait]
impl ladder_core::Strategy for AskTwice {
    fn name(&self) -> &str {
        "ask-twice"
    }
    async fn run(
        &self,
        _: &ladder_core::TaskView,
        ctx: &mut ladder_core::RunContext,
    ) -> ladder_core::Outcome {
        let result = async {
            ctx.ask_user("Where do you live?").await?;
            ctx.ask_user("How many days?").await
        }
        .await;
        ctx.finish(result)
    }
}

#[tokio::test]
async fn a_model_played_users_calls_are_traced_as_the_users_not_the_strategys() {
    let model = ladder_model::open(
        &ladder_model::ModelSpec::Named("smollm2-135m".into()),
        &Default::default(),
    )
    .unwrap();
    let s = Suite::load(&default_suites_dir().join("seaside")).unwrap();
    let task = s.task("sea-001").unwrap().clone();
    let user = ModelUser::new(Arc::clone(&model), task.clone(), Patience::default());
    // The strategy may make no model call at all: the user's calls do not count.
    let budget = Budget {
        max_model_calls: 1,
        max_tokens: 50,
        ..Budget::default()
    };
    let setup = RunSetup::new(model, budget).with_user(Box::new(user));
    let run = ladder_core::run_task(&AskTwice, &task, setup).await;
    assert_eq!(run.outcome.stop, ladder_core::StopReason::Answered);
    let m = ladder_core::Metrics::from_events(run.events());
    assert_eq!((m.model_calls, m.total_tokens), (0, 0));
    assert_eq!((m.user_model_calls, m.user_turns), (2, 2));
    assert!(m.user_tokens > 50, "{}", m.user_tokens);
    let actors: Vec<_> = run
        .events()
        .iter()
        .filter_map(|e| match &e.kind {
            ladder_core::EventKind::ModelCall { actor, purpose, .. } => {
                Some((*actor, purpose.clone()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        actors,
        vec![(ladder_core::Actor::User, "user".to_string()); 2]
    );
}

fn embedder() -> Arc<dyn ladder_core::Embedder> {
    static E: std::sync::OnceLock<Arc<ladder_retrieval::FastEmbedder>> = std::sync::OnceLock::new();
    E.get_or_init(|| {
        Arc::new(
            ladder_retrieval::FastEmbedder::load_default()
                .expect("`just setup` installs the embedding model"),
        )
    })
    .clone()
}

#[test]
fn with_embeddings_a_paraphrase_without_keywords_still_finds_the_fact() {
    let question = "Do you want a sleepy village or a buzzing resort?";
    let mut plain = user("seaside", "sea-001", Patience::default());
    assert_eq!(
        answer(plain.reply(question)),
        "I don't know.",
        "no keyword of the mood slot is in the question"
    );
    let mut u = user("seaside", "sea-001", Patience::default())
        .with_embedder(embedder(), ladder_world::user::SIMILARITY_THRESHOLD)
        .unwrap();
    assert_eq!(
        answer(u.reply(question)),
        "Somewhere lively, with things going on."
    );
    assert_eq!(u.matched_slots(), Some(vec!["mood".to_string()]));
    assert_eq!(
        answer(u.reply("Which town do you set off from?")),
        "I live in Tarnfield."
    );
    // Unrelated questions stay unanswered: the threshold keeps them out.
    assert_eq!(
        answer(u.reply("What is your favourite colour?")),
        "I don't know."
    );
    assert_eq!(u.matched_slots(), Some(vec![]));
    assert_eq!((u.stats.turns, u.stats.irrelevant), (3, 1));
}

#[tokio::test]
async fn the_trace_records_what_the_user_matched_and_scoring_agrees() {
    let model = ladder_model::open(
        &ladder_model::ModelSpec::Named("smollm2-135m".into()),
        &Default::default(),
    )
    .unwrap();
    let s = Suite::load(&default_suites_dir().join("seaside")).unwrap();
    let task = s.task("sea-001").unwrap().clone();
    let u = SimulatedUser::new(
        Arc::new(s.manifest.clone()),
        task.clone(),
        Patience::default(),
    )
    .with_embedder(embedder(), ladder_world::user::SIMILARITY_THRESHOLD)
    .unwrap();
    /// Asks two questions, then answers.
    struct TwoQuestions;
    #[async_trait::async_trait]
    impl ladder_core::Strategy for TwoQuestions {
        fn name(&self) -> &str {
            "two-questions"
        }
        async fn run(
            &self,
            _: &ladder_core::TaskView,
            ctx: &mut ladder_core::RunContext,
        ) -> ladder_core::Outcome {
            ctx.ask_user("Do you want a sleepy village or a buzzing resort?")
                .await
                .unwrap();
            ctx.ask_user("Calm or lively?").await.unwrap();
            ctx.answer("x")
        }
    }
    let setup = RunSetup::new(model, Budget::default()).with_user(Box::new(u));
    let run = ladder_core::run_task(&TwoQuestions, &task, setup).await;
    let events = run.trace.into_events();
    let matched: Vec<_> = events
        .iter()
        .filter_map(|e| match &e.kind {
            ladder_core::EventKind::UserTurn { matched, .. } => Some(matched.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        matched,
        vec![
            Some(vec!["mood".to_string()]),
            Some(vec!["mood".to_string()])
        ]
    );
    let sc = ladder_world::score(&s, &task, &ladder_core::Outcome::answered("x"), &events);
    assert_eq!(
        (
            sc.user_turns,
            sc.repeated_questions,
            sc.irrelevant_questions
        ),
        (2, 1, 0)
    );
}

#[test]
fn an_open_question_gets_what_the_user_has_not_said_yet_and_a_pleasantry_costs_nothing() {
    let mut u = user("seaside", "sea-001", Patience::default());
    assert_eq!(
        answer(u.reply("Thanks! Where are you travelling from?")),
        "I live in Tarnfield."
    );
    assert_eq!(u.stats.irrelevant, 0, "'Thanks!' is not a question");
    for open in [
        "Anything else I should know?",
        "Tell me all your preferences, please.",
        "What matters most to you for this trip?",
    ] {
        let mut fresh = user("seaside", "sea-001", Patience::default());
        let a = answer(fresh.reply(open));
        for said in [
            "Norland",
            "5 days",
            "lively",
            "expensive",
            "diving",
            "Tarnfield",
        ] {
            assert!(a.contains(said), "{open:?} -> {a:?} lacks {said}");
        }
        assert_eq!(fresh.stats.answered, 1, "{open:?}");
        assert_eq!(fresh.stats.effort, 0.0);
    }
    // Once everything is said, an open question gets nothing new.
    let a = answer(u.reply("Anything else I should know?"));
    assert!(!a.contains("Tarnfield"), "{a}");
    let a = answer(u.reply("Anything else I should know?"));
    assert_eq!(a, "That's all I can think of.");
}

#[test]
fn the_terse_user_gives_one_fact_a_turn_asks_open_questions_back_and_gives_up_sooner() {
    use ladder_world::Persona;
    let terse = || user("seaside", "sea-001", Patience::default()).persona(Persona::Terse);
    let mut u = terse();
    let a = answer(u.reply("Where are you travelling from, and how many days do you have?"));
    assert_eq!(a, "I live in Tarnfield.");
    assert_eq!(
        answer(u.reply("Anything else I should know?")),
        "What do you need to know?"
    );
    // The cooperative user answers both parts of the same question.
    let mut c = user("seaside", "sea-001", Patience::default());
    let a = answer(c.reply("Where are you travelling from, and how many days do you have?"));
    assert!(a.contains("Tarnfield") && a.contains("5 days"), "{a}");
    // Three wasted questions and it gives up; the cooperative user still answers.
    let mut u = terse();
    let mut c = user("seaside", "sea-001", Patience::default());
    let mut gave_up = false;
    for q in [
        "Do you have a pet?",
        "What is your favourite colour?",
        "Do you like jazz?",
        "Do you own a car?",
    ] {
        gave_up |= matches!(u.reply(q), UserReply::GaveUp(_));
        assert!(matches!(c.reply(q), UserReply::Answer(_)));
    }
    assert!(gave_up);
}
