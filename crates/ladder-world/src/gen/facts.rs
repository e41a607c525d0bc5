//! The `facts` suite: one- and two-hop questions over a fictional encyclopedia of people,
//! cities and inventions. No task needs the user; asking is wasted time.

use super::{attrs, capitalise, document, slug, GenOptions, Generated, TaskOut};
use crate::suite::Manifest;
use ladder_core::rng::Rng;

const FIRST: [&str; 12] = [
    "Kaldor", "Mirren", "Iselde", "Tomas", "Brannoc", "Elva", "Joren", "Sabeth", "Orrin", "Talia",
    "Wendal", "Ysolde",
];
const LAST: [&str; 12] = [
    "Vance", "Ashgrove", "Tull", "Marrick", "Fenn", "Quill", "Harrow", "Corvane", "Pellam",
    "Stroud", "Lisle", "Orbeck",
];
const CITY: [&str; 10] = [
    "Ostmere",
    "Kelport",
    "Varrow",
    "Lindhaven",
    "Carsk",
    "Emberly",
    "Tolworth",
    "Saltreach",
    "Brennick",
    "Aldmoor",
];
const COUNTRY: [&str; 3] = ["Vell", "Doran", "Istmark"];
const RIVER: [&str; 10] = [
    "Amberflow",
    "Cray",
    "Lutter",
    "Silvane",
    "Dorn",
    "Hessel",
    "Wyke",
    "Morrow",
    "Tamsin",
    "Brae",
];
const LANDMARK: [&str; 10] = [
    "the Glass Bridge",
    "the Old Lighthouse",
    "the Clockmakers' Hall",
    "the Salt Market",
    "the Tower of Bells",
    "the Harbour Arch",
    "the Great Library",
    "the Copper Dome",
    "the Winter Garden",
    "the Stone Quay",
];
const WORK: [(&str, &str); 10] = [
    (
        "the tide clock",
        "a clock that shows the height of the tide",
    ),
    ("the copper loom", "a loom driven by a water wheel"),
    ("the cold lamp", "a lamp that glows without a flame"),
    (
        "the Marrick lens",
        "a lens for reading distant ships' flags",
    ),
    (
        "the river chart",
        "the first accurate map of the inland rivers",
    ),
    ("the storm bell", "a bell that rings before a storm arrives"),
    ("the salt press", "a press that dries sea salt in a day"),
    ("the glass harp", "an instrument of tuned glass bowls"),
    ("the folding boat", "a boat that folds to fit on a cart"),
    ("the star ledger", "a catalogue of two thousand stars"),
];
const FIELD: [&str; 6] = [
    "engineering",
    "astronomy",
    "music",
    "cartography",
    "medicine",
    "shipbuilding",
];

struct City {
    name: String,
    country: &'static str,
    river: &'static str,
    founded: u32,
    landmark: &'static str,
}
struct Person {
    name: String,
    born_in: usize,
    born: u32,
    field: &'static str,
}
struct Work {
    name: &'static str,
    what: &'static str,
    year: u32,
    creator: usize,
    made_in: usize,
}

pub fn manifest() -> Manifest {
    super::manifest_data(include_str!("facts.toml"), "facts")
}

pub fn generate(options: GenOptions) -> Generated {
    let mut rng = Rng::new(options.seed ^ 0xFAC7_5000);
    let scale = options.scale.max(1);
    let cities: Vec<City> = (0..CITY.len() * scale)
        .map(|i| City {
            name: if i < CITY.len() {
                CITY[i].to_string()
            } else {
                format!(
                    "{} {}",
                    CITY[i % CITY.len()],
                    ["North", "South", "East", "West", "Upper", "Lower"][(i / CITY.len() - 1) % 6]
                )
            },
            country: COUNTRY[i % COUNTRY.len()],
            river: RIVER[i % RIVER.len()],
            founded: 900 + rng.range(0, 600),
            landmark: LANDMARK[i % LANDMARK.len()],
        })
        .collect();
    let people: Vec<Person> = (0..FIRST.len() * scale)
        .map(|i| Person {
            name: if i < FIRST.len() {
                format!("{} {}", FIRST[i], LAST[i])
            } else {
                format!(
                    "{} {}",
                    FIRST[i % FIRST.len()],
                    LAST[(i / FIRST.len() + i) % LAST.len()]
                ) + &" the Younger".repeat(usize::from(i >= FIRST.len() * 2))
            },
            born_in: rng.below(cities.len()),
            born: 1700 + rng.range(0, 150),
            field: FIELD[i % FIELD.len()],
        })
        .collect();
    let works: Vec<Work> = WORK
        .iter()
        .enumerate()
        .map(|(i, (name, what))| {
            let creator = i;
            Work {
                name,
                what,
                year: people[creator].born + rng.range(25, 45),
                creator,
                made_in: rng.below(cities.len()),
            }
        })
        .collect();

    let mut g = Generated::new("facts");
    for c in &cities {
        let born: Vec<&str> = people
            .iter()
            .filter(|p| cities[p.born_in].name == c.name)
            .map(|p| p.name.as_str())
            .collect();
        let mut body = format!(
            "# {name}\n\n{name} is a city in {country}, on the river {river}. It was founded in {founded}. Its best-known landmark is {landmark}.\n",
            name = c.name, country = c.country, river = c.river, founded = c.founded, landmark = c.landmark
        );
        if !born.is_empty() {
            body.push_str(&format!(
                "\nPeople born in {}: {}.\n",
                c.name,
                born.join(", ")
            ));
        }
        let a = attrs([
            ("country", s(c.country)),
            ("river", s(c.river)),
            ("founded", n(c.founded)),
        ]);
        g.add(
            format!("kb/{}.md", slug(&c.name)),
            document(&slug(&c.name), &c.name, "city", a, &body),
        );
    }
    for (i, p) in people.iter().enumerate() {
        let city = &cities[p.born_in];
        let mut body = format!(
            "# {name}\n\n{name} was born in {city} in {born} and worked in {field}.\n",
            name = p.name,
            city = city.name,
            born = p.born,
            field = p.field
        );
        if let Some(w) = works.iter().find(|w| w.creator == i) {
            body.push_str(&format!(
                "\n{} created {}, {}, in {}.\n",
                p.name, w.name, w.what, w.year
            ));
        }
        let a = attrs([("born_in", s(&city.name)), ("born", n(p.born))]);
        g.add(
            format!("kb/{}.md", slug(&p.name)),
            document(&slug(&p.name), &p.name, "person", a, &body),
        );
    }
    for w in &works {
        let title = capitalise(w.name);
        let body = format!(
            "# {title}\n\n{title} is {what}. It was created by {creator} in {year}, in {city}.\n",
            what = w.what,
            creator = people[w.creator].name,
            year = w.year,
            city = cities[w.made_in].name
        );
        let a = attrs([
            ("creator", s(&people[w.creator].name)),
            ("year", n(w.year)),
            ("made_in", s(&cities[w.made_in].name)),
        ]);
        g.add(
            format!("kb/{}.md", slug(w.name)),
            document(&slug(w.name), &title, "invention", a, &body),
        );
    }

    // 20 one-hop and 20 two-hop questions over the first (unscaled) entities.
    // (question, answer, hops, the documents the answer comes from: one per hop)
    let mut qs: Vec<(String, String, &str, Vec<String>)> = Vec::new();
    for (i, w) in works.iter().enumerate() {
        let p = &people[w.creator];
        let c = &cities[p.born_in];
        let m = &cities[w.made_in];
        let (wd, pd, cd, md) = (slug(w.name), slug(&p.name), slug(&c.name), slug(&m.name));
        qs.push((
            format!("Who created {}?", w.name),
            p.name.clone(),
            "one hop",
            vec![wd.clone()],
        ));
        qs.push((
            format!("In which year was {} created?", w.name),
            w.year.to_string(),
            "one hop",
            vec![wd.clone()],
        ));
        let two = match i % 4 {
            0 => (
                format!(
                    "On which river lies the city where the creator of {} was born?",
                    w.name
                ),
                c.river.to_string(),
            ),
            1 => (
                format!("In which country was the creator of {} born?", w.name),
                c.country.to_string(),
            ),
            2 => (
                format!(
                    "Which landmark is in the city where {} was created?",
                    w.name
                ),
                cap_the(m.landmark),
            ),
            _ => (
                format!(
                    "In which year was the birthplace of the creator of {} founded?",
                    w.name
                ),
                c.founded.to_string(),
            ),
        };
        let chain = if i % 4 == 2 {
            vec![wd.clone(), md]
        } else {
            vec![wd.clone(), pd.clone(), cd]
        };
        qs.push((two.0, two.1, "two hops", chain));
        qs.push((
            format!("Where was the creator of {} born?", w.name),
            c.name.clone(),
            "two hops",
            vec![wd, pd],
        ));
    }
    let tasks: Vec<TaskOut> = qs
        .into_iter()
        .enumerate()
        .map(|(i, (q, a, hops, docs))| TaskOut {
            id: format!("facts-{:03}", i + 1),
            suite: "facts".into(),
            opening: q,
            profile: vec![],
            must_mention: vec![a],
            recommend_any: vec![],
            needs_detail: None,
            tags: vec![hops.replace(' ', "-")],
            comment: String::new(),
            gold_intents: vec!["lookup".into()],
            gold_documents: docs,
            split: None,
        })
        .collect();
    g.finish(options.seed, manifest(), &["facts-001", "facts-002", "facts-003", "facts-004", "facts-006",], tasks, "# Generated by `ladder world generate` (crates/ladder-world/src/gen/facts.rs); do not edit by hand.\n");
    g
}

/// "the Glass Bridge" -> "Glass Bridge" (the checkable part of a landmark's name).
fn s(v: &str) -> toml::Value {
    toml::Value::String(v.to_string())
}

fn n(v: u32) -> toml::Value {
    toml::Value::Integer(v.into())
}

fn cap_the(s: &str) -> String {
    s.strip_prefix("the ").unwrap_or(s).to_string()
}
