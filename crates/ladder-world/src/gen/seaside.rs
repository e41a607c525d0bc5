//! The `seaside` suite: fictional coastal destinations for travellers who live in the
//! fictional country of Norland, and tasks that hide a traveller's profile.

use std::collections::BTreeMap;

use ladder_core::ProfileFact;

use super::{capitalise, document, fact, slug, GenOptions, Generated, TaskOut};
use crate::check::{evaluate, hard_checks};
use crate::suite::Manifest;
use ladder_core::rng::Rng;

pub const HOME_COUNTRY: &str = "Norland";
const CITIES: [(&str, i32, i32); 6] = [
    ("Harrowgate", 2, 8),
    ("Ostby", 7, 9),
    ("Kelmarsh", 4, 4),
    ("Brindlecombe", 8, 3),
    ("Wenlow", 1, 1),
    ("Tarnfield", 6, 6),
];
const ABROAD: [&str; 3] = ["Valmora", "Esteria", "Kaskia"];
const DOMESTIC_FIRST: [&str; 16] = [
    "Salt", "Gull", "Wren", "Bram", "Pell", "Sker", "Dun", "Rook", "Fen", "Kel", "Mor", "Tide",
    "Heron", "Flint", "Marrow", "Cobble",
];
const DOMESTIC_SECOND: [&str; 9] = [
    "wick", "mere", "holm", "ness", "combe", "stead", "by", "ford", "ton",
];
const DOMESTIC_SUFFIX: [&str; 8] = [
    "Bay", "Cove", "Sands", "Point", "Harbour", "Beach", "Strand", "Head",
];
const ABROAD_PREFIX: [&str; 3] = ["Cala", "Porto", "Praia"];
const SYL1: [&str; 12] = [
    "Mo", "Ve", "As", "Se", "Lu", "Do", "Ca", "Bra", "Ol", "Te", "Ri", "Na",
];
const SYL2: [&str; 6] = ["ri", "li", "te", "ra", "no", "sa"];
const SYL3: [&str; 7] = ["va", "an", "el", "in", "ra", "ta", "sso"];
pub const ACTIVITIES: [&str; 12] = [
    "surfing",
    "snorkelling",
    "hiking",
    "sailing",
    "nightlife",
    "museums",
    "birdwatching",
    "fishing",
    "kayaking",
    "diving",
    "cycling",
    "wine tasting",
];
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const PRICES: [&str; 3] = ["budget", "moderate", "expensive"];
const SCENERY: [&str; 10] = [
    "white chalk cliffs",
    "wide grassy dunes",
    "a pine-fringed lagoon",
    "red sandstone stacks",
    "a long shingle spit",
    "turquoise coves",
    "a harbour of painted houses",
    "salt marshes full of birds",
    "black volcanic sand",
    "a lighthouse on a windy headland",
];

struct Destination {
    name: String,
    country: &'static str,
    scope: &'static str,
    mood: &'static str,
    price: &'static str,
    activities: Vec<&'static str>,
    months: Vec<&'static str>,
    min_days: u32,
    max_days: u32,
    hours: Vec<(&'static str, u32)>,
    transport: &'static str,
    scenery: &'static str,
    night_cost: u32,
}

impl Destination {
    fn attributes(&self) -> BTreeMap<String, toml::Value> {
        let mut a = BTreeMap::new();
        let s = |v: &str| toml::Value::String(v.to_string());
        let list = |v: &[&str]| toml::Value::Array(v.iter().map(|x| s(x)).collect());
        a.insert("country".into(), s(self.country));
        a.insert("scope".into(), s(self.scope));
        a.insert("mood".into(), s(self.mood));
        a.insert("price".into(), s(self.price));
        a.insert("activities".into(), list(&self.activities));
        a.insert("best_months".into(), list(&self.months));
        a.insert(
            "min_days".into(),
            toml::Value::Integer(self.min_days.into()),
        );
        a.insert(
            "max_days".into(),
            toml::Value::Integer(self.max_days.into()),
        );
        let hours = self
            .hours
            .iter()
            .map(|(c, h)| (c.to_string(), toml::Value::Integer((*h).into())))
            .collect();
        a.insert("hours_from".into(), toml::Value::Table(hours));
        a
    }
}

fn unique_name(
    rng: &mut Rng,
    taken: &mut Vec<String>,
    make: impl Fn(&mut Rng) -> String,
) -> String {
    for _ in 0..200 {
        let n = make(rng);
        if !taken.contains(&n) {
            taken.push(n.clone());
            return n;
        }
    }
    let n = format!("{} {}", make(rng), taken.len());
    taken.push(n.clone());
    n
}

fn destinations(rng: &mut Rng, count: usize) -> Vec<Destination> {
    let mut taken = Vec::new();
    let mut out = Vec::new();
    for i in 0..count {
        let domestic = i % 16 < 9;
        let name = if domestic {
            unique_name(rng, &mut taken, |r| {
                format!(
                    "{}{} {}",
                    r.pick(&DOMESTIC_FIRST),
                    r.pick(&DOMESTIC_SECOND),
                    r.pick(&DOMESTIC_SUFFIX)
                )
            })
        } else {
            unique_name(rng, &mut taken, |r| {
                format!(
                    "{} {}{}{}",
                    r.pick(&ABROAD_PREFIX),
                    r.pick(&SYL1),
                    r.pick(&SYL2),
                    r.pick(&SYL3)
                )
            })
        };
        let mood = if rng.chance(50) { "quiet" } else { "lively" };
        let mut pool: Vec<&'static str> = ACTIVITIES
            .iter()
            .copied()
            .filter(|a| !(mood == "quiet" && *a == "nightlife"))
            .collect();
        if mood == "lively" && rng.chance(70) {
            pool.retain(|a| *a != "nightlife");
            let k = rng_range(rng, 1, 3);
            let mut acts = rng.sample(&pool, k);
            acts.insert(0, "nightlife");
            out.push(finish(rng, name, domestic, mood, acts));
            continue;
        }
        let k = rng_range(rng, 2, 4);
        let acts = rng.sample(&pool, k);
        out.push(finish(rng, name, domestic, mood, acts));
    }
    out
}

fn rng_range(rng: &mut Rng, lo: u32, hi: u32) -> usize {
    rng.range(lo, hi) as usize
}

fn finish(
    rng: &mut Rng,
    name: String,
    domestic: bool,
    mood: &'static str,
    activities: Vec<&'static str>,
) -> Destination {
    let (country, hours, transport) = if domestic {
        // A point on the coast of a 10 x 10 country.
        let (x, y) = match rng.below(4) {
            0 => (0, rng.range(0, 10) as i32),
            1 => (10, rng.range(0, 10) as i32),
            2 => (rng.range(0, 10) as i32, 0),
            _ => (rng.range(0, 10) as i32, 10),
        };
        let hours = CITIES
            .iter()
            .map(|(c, cx, cy)| {
                let d = (((cx - x).pow(2) + (cy - y).pow(2)) as f64).sqrt();
                (*c, ((d / 1.6).round() as u32).clamp(1, 8))
            })
            .collect();
        let transport = if rng.chance(25) {
            "train and then the ferry"
        } else {
            "train"
        };
        (HOME_COUNTRY, hours, transport)
    } else {
        let flight = rng.range(3, 6);
        let hours = CITIES
            .iter()
            .map(|(c, cx, cy)| (*c, flight + ((cx - 4).abs() + (cy - 4).abs()) as u32 / 4))
            .collect();
        (*rng.pick(&ABROAD), hours, "plane and then a transfer")
    };
    let start = rng.range(if domestic { 4 } else { 2 }, if domestic { 6 } else { 8 }) as usize;
    let len = rng.range(3, 5) as usize;
    let months = (start..start + len).map(|m| MONTHS[m % 12]).collect();
    let min_days = rng.range(2, 5);
    Destination {
        name,
        country,
        scope: if domestic { "domestic" } else { "abroad" },
        mood,
        price: PRICES[rng.below(PRICES.len())],
        activities,
        months,
        min_days,
        max_days: min_days + rng.range(2, 5),
        hours,
        transport,
        scenery: SCENERY[rng.below(SCENERY.len())],
        night_cost: 0,
    }
    .with_cost(rng)
}

impl Destination {
    fn with_cost(mut self, rng: &mut Rng) -> Self {
        let base = match self.price {
            "budget" => 40,
            "moderate" => 85,
            _ => 160,
        };
        self.night_cost = base + rng.range(0, 6) * 5;
        self
    }

    fn body(&self) -> String {
        let where_ = if self.scope == "domestic" {
            format!("on the coast of {HOME_COUNTRY}, so it is a domestic trip for anyone living in {HOME_COUNTRY}")
        } else {
            format!(
                "in {}, so it is a trip abroad for travellers from {HOME_COUNTRY}",
                self.country
            )
        };
        let mood = if self.mood == "quiet" {
            "Quiet. The beach empties by early evening, there are few bars, and nights are calm and dark."
        } else {
            "Lively. Beach bars, music and festivals keep the seafront busy well into the night all season."
        };
        let acts = sentence_list(&self.activities);
        let months = sentence_list(&self.months);
        let mut s = format!(
            "# {name}\n\n{name} is a {mood_word} seaside destination {where_}. It is known for {scenery}.\n\n## Getting there\n\nBy {transport}. Typical door-to-door travel times:\n\n",
            name = self.name,
            mood_word = self.mood,
            scenery = self.scenery,
            transport = self.transport,
        );
        for (city, h) in &self.hours {
            s.push_str(&format!("- from {city}: {h} hours\n"));
        }
        s.push_str(&format!(
            "\n## Atmosphere\n\n{mood}\n\n## Things to do\n\n{acts_cap}.\n\n## When to go\n\nThe best months to visit are {months}.\n\n## Costs\n\nPrice level: {price}. A night in a typical guesthouse costs about {cost} crowns.\n\n## How long to stay\n\nMost visitors stay {min} to {max} days. A visit shorter than {min} days is not worth the journey.\n",
            acts_cap = capitalise(&acts),
            price = self.price,
            cost = self.night_cost,
            min = self.min_days,
            max = self.max_days,
        ));
        s
    }
}

fn sentence_list(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => one.to_string(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

pub fn manifest() -> Manifest {
    super::manifest_data(include_str!("seaside.toml"), "seaside")
}

fn say(slot: &str, value: &str) -> String {
    match (slot, value) {
        ("home_city", v) => format!("I live in {v}."),
        ("scope", "domestic") => format!("I'd rather stay in {HOME_COUNTRY}."),
        ("scope", _) => "I'd like to go abroad.".into(),
        ("mood", "quiet") => "Somewhere quiet, please.".into(),
        ("mood", _) => "Somewhere lively, with things going on.".into(),
        ("days", v) => format!("I have {v} days."),
        ("budget", "budget") => "I'm on a tight budget.".into(),
        ("budget", "moderate") => "A moderate budget, nothing fancy.".into(),
        ("budget", _) => "Money is not a problem, expensive is fine.".into(),
        ("activity", v) => format!("I must be able to {}.", activity_phrase(v)),
        ("max_travel_hours", v) => format!("No more than {v} hours of travel."),
        ("month", v) => format!("I'm going in {v}."),
        (_, v) => v.to_string(),
    }
}

fn opening_fragment(slot: &str, value: &str) -> String {
    match (slot, value) {
        ("home_city", v) => format!("I live in {v}"),
        ("scope", "domestic") => format!("I want to stay in {HOME_COUNTRY}"),
        ("scope", _) => "I want to go abroad".into(),
        ("mood", v) => format!("I'd like somewhere {v}"),
        ("days", v) => format!("I have {v} days"),
        ("budget", "budget") => "I'm on a tight budget".into(),
        ("budget", v) => format!("my budget is {v}"),
        ("activity", v) => format!("I want to {}", activity_phrase(v)),
        ("max_travel_hours", v) => format!("I won't travel more than {v} hours"),
        ("month", v) => format!("I'm going in {v}"),
        (_, v) => v.to_string(),
    }
}

/// "surfing" -> "go surfing", "museums" -> "visit museums".
fn activity_phrase(activity: &str) -> String {
    match activity {
        "museums" => "visit museums".into(),
        "nightlife" => "enjoy the nightlife".into(),
        other => format!("go {other}"),
    }
}

const VAGUE: [&str; 8] = [
    "I'd like to go to the seaside next week, sort it out for me.",
    "Can you find me a beach holiday?",
    "I fancy a few days by the sea. Where should I go?",
    "Plan me a trip to the coast, please.",
    "I need a break by the sea. Any ideas?",
    "Where should I go for a seaside holiday?",
    "Sort me out a seaside trip.",
    "I want to see the sea. Help me pick a place.",
];

const ASKS: [&str; 4] = [
    "Can you find me a seaside trip?",
    "Where should I go by the sea?",
    "Sort out a beach holiday for me.",
    "Which seaside place do you recommend?",
];

fn satisfying<'a>(
    all: &'a [Destination],
    profile: &[ProfileFact],
    m: &Manifest,
) -> Vec<&'a Destination> {
    let checks = hard_checks(m, profile);
    all.iter()
        .filter(|d| {
            let attrs = d.attributes();
            checks
                .iter()
                .all(|(f, check)| evaluate(check, &attrs, &f.value, profile).unwrap_or(false))
        })
        .collect()
}

fn value_for(rng: &mut Rng, slot: &str, target: &Destination, home: &str) -> String {
    match slot {
        "home_city" => home.to_string(),
        "scope" => target.scope.to_string(),
        "mood" => target.mood.to_string(),
        "days" => (target.min_days + rng.range(0, 2)).to_string(),
        "budget" => {
            let at = PRICES.iter().position(|p| *p == target.price).unwrap_or(0);
            PRICES[at + rng.below(PRICES.len() - at)].to_string()
        }
        "activity" => rng.pick(&target.activities).to_string(),
        "max_travel_hours" => {
            let h = target
                .hours
                .iter()
                .find(|(c, _)| *c == home)
                .map(|(_, h)| *h)
                .unwrap_or(4);
            (h + rng.range(0, 1)).to_string()
        }
        _ => rng.pick(&target.months).to_string(),
    }
}

/// A profile for a random target destination: the home city and `n_others` more facts
/// (2 to 4 drawn after the target and home when None),
/// tightened until at most 5 destinations fit (within six facts); None when none or too
/// many fit. Also the destinations that fit.
fn draw_profile<'a>(
    rng: &mut Rng,
    all: &'a [Destination],
    m: &Manifest,
    n_others: Option<usize>,
) -> Option<(Vec<ProfileFact>, Vec<&'a Destination>)> {
    const OTHERS: [&str; 7] = [
        "scope",
        "mood",
        "days",
        "budget",
        "activity",
        "max_travel_hours",
        "month",
    ];
    let target = &all[rng.below(all.len())];
    let home = CITIES[rng.below(CITIES.len())].0;
    let n_others = n_others.unwrap_or_else(|| rng.range(2, 5) as usize);
    let mut slots = rng.sample(&OTHERS, n_others);
    let mut profile = vec![fact("home_city", home, &say("home_city", home), false)];
    for s in &slots {
        let v = value_for(rng, s, target, home);
        profile.push(fact(s, &v, &say(s, &v), true));
    }
    let mut fits = satisfying(all, &profile, m);
    while fits.len() > 5 && profile.len() < 6 {
        let Some(extra) = OTHERS.iter().find(|s| !slots.contains(s)) else {
            break;
        };
        slots.push(extra);
        let v = value_for(rng, extra, target, home);
        profile.push(fact(extra, &v, &say(extra, &v), true));
        fits = satisfying(all, &profile, m);
    }
    (!fits.is_empty() && fits.len() <= 5).then_some((profile, fits))
}

/// An opening stating the profile's facts at `stated` (marked stated), then a request.
fn state_in_opening(rng: &mut Rng, profile: &mut [ProfileFact], stated: &[usize]) -> String {
    let parts: Vec<String> = stated
        .iter()
        .map(|&j| opening_fragment(&profile[j].slot, &profile[j].value))
        .collect();
    for &j in stated {
        profile[j].stated = true;
    }
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    format!(
        "{}. {}",
        capitalise(&sentence_list(&parts)),
        ASKS[rng.below(ASKS.len())]
    )
}

fn task_out(
    n: usize,
    opening: String,
    profile: Vec<ProfileFact>,
    fits: &[&Destination],
    tag: &str,
    comment: &str,
) -> TaskOut {
    let mut names: Vec<String> = fits.iter().map(|d| d.name.clone()).collect();
    names.sort();
    let gold_documents = names.iter().map(|n| slug(n)).collect();
    TaskOut {
        id: format!("sea-{n:03}"),
        suite: "seaside".into(),
        opening,
        profile,
        must_mention: vec![],
        recommend_any: names,
        needs_detail: None,
        tags: vec![tag.into()],
        comment: comment.into(),
        gold_intents: vec!["plan_trip".into()],
        gold_documents,
        split: None,
    }
}

pub fn generate(options: GenOptions) -> Generated {
    let mut rng = Rng::new(options.seed ^ 0x5EA5_1DE0);
    let m = manifest();
    let all = destinations(&mut rng, 32 * options.scale.max(1));
    let mut g = Generated::new("seaside");
    for d in &all {
        g.add(
            format!("kb/{}.md", slug(&d.name)),
            document(
                &slug(&d.name),
                &d.name,
                "destination",
                d.attributes(),
                &d.body(),
            ),
        );
    }

    let mut tasks = Vec::new();
    let mut i = 0;
    while tasks.len() < 44 {
        i += 1;
        if i > 10_000 {
            break;
        }
        let Some((mut profile, fits)) = draw_profile(&mut rng, &all, &m, None) else {
            continue;
        };
        let n = tasks.len();
        let style = n % 3;
        let opening = if style == 0 {
            VAGUE[rng.below(VAGUE.len())].to_string()
        } else {
            let k = style.min(profile.len());
            let stated: Vec<usize> = rng.sample(&(0..profile.len()).collect::<Vec<_>>(), k);
            state_in_opening(&mut rng, &mut profile, &stated)
        };
        let tag = if style == 0 { "vague" } else { "specific" };
        tasks.push(task_out(n + 1, opening, profile, &fits, tag, ""));
    }
    // The lessons' tasks (`ladder demo`), drawn after the others so that adding them left
    // sea-001..044 as they were: the essay's own opening, with a profile of five facts; and
    // an opening that already states four of its five facts.
    // Like the loop above, a bounded search: a seed with no such profile in 10,000 draws
    // gets no lesson task rather than a generator that never returns.
    for lesson in ["seaside", "already-said"] {
        let Some((mut profile, fits)) = (0..10_000).find_map(|_| {
            draw_profile(&mut rng, &all, &m, Some(4)).filter(|(p, f)| p.len() == 5 && f.len() <= 3)
        }) else {
            continue;
        };
        let n = tasks.len() + 1;
        let (opening, comment) = if lesson == "seaside" {
            (
                VAGUE[0].to_string(),
                "lesson seaside: the essay's opening, nothing stated",
            )
        } else {
            let stated: Vec<usize> = (0..4).collect();
            (
                state_in_opening(&mut rng, &mut profile, &stated),
                "lesson already-said: the opening states four of the five facts",
            )
        };
        tasks.push(task_out(n, opening, profile, &fits, "lesson", comment));
    }
    g.finish(
        options.seed,
        m,
        &["sea-001", "sea-002", "sea-003", "sea-004", "sea-005"],
        tasks,
        "# Generated by `ladder world generate` (crates/ladder-world/src/gen/seaside.rs); do not edit by hand.\n\
         # recommend_any lists every destination that meets all hard constraints of the profile.\n",
    );
    g
}
