//! Evaluating a slot's [`Check`] against an entity's attributes. Used by the generator (to
//! know which destinations fit a profile) and by scoring (to judge a recommendation), so
//! both always agree.

use std::collections::BTreeMap;

use ladder_core::ProfileFact;

use crate::suite::{Check, Manifest};

/// The hard facts of a profile whose slot has a check, each with its check: what a
/// recommendation must meet. The generator, `validate` and scoring all judge with this.
pub fn hard_checks<'a>(
    manifest: &'a Manifest,
    profile: &'a [ProfileFact],
) -> Vec<(&'a ProfileFact, &'a Check)> {
    profile
        .iter()
        .filter(|f| f.hard)
        .filter_map(|f| {
            manifest
                .slot(&f.slot)
                .and_then(|s| s.check.as_ref())
                .map(|c| (f, c))
        })
        .collect()
}

/// Fill `{slot}` placeholders of an attribute path from the profile.
fn resolve(path: &str, profile: &[ProfileFact]) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        let close = rest[open..]
            .find('}')
            .ok_or_else(|| format!("unclosed {{ in {path:?}"))?
            + open;
        let slot = &rest[open + 1..close];
        let value = profile
            .iter()
            .find(|f| f.slot == slot)
            .map(|f| f.value.as_str())
            .ok_or_else(|| format!("needs the {slot} slot, which the profile lacks"))?;
        out.push_str(&rest[..open]);
        out.push_str(value);
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn lookup<'a>(attrs: &'a BTreeMap<String, toml::Value>, path: &str) -> Option<&'a toml::Value> {
    let mut parts = path.split('.');
    let mut cur = attrs.get(parts.next()?)?;
    for p in parts {
        cur = cur.get(p)?;
    }
    Some(cur)
}

fn as_number(v: &toml::Value) -> Option<f64> {
    v.as_float().or_else(|| v.as_integer().map(|i| i as f64))
}

fn as_text(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Does an entity with `attrs` satisfy `check` for `value`? `Err` when the check cannot be
/// applied (missing attribute or profile slot), with the reason.
pub fn evaluate(
    check: &Check,
    attrs: &BTreeMap<String, toml::Value>,
    value: &str,
    profile: &[ProfileFact],
) -> Result<bool, String> {
    let path = resolve(check.attribute(), profile)?;
    let attr = lookup(attrs, &path).ok_or_else(|| format!("has no attribute {path:?}"))?;
    let number = |s: &str| {
        s.trim()
            .parse::<f64>()
            .map_err(|_| format!("{s:?} is not a number"))
    };
    // A value that cannot be compared with the attribute's type is an error, not a quiet
    // "no": "yes" against a boolean would otherwise fail every entity.
    let typed = |v: &str| -> Result<(), String> {
        match attr {
            toml::Value::Boolean(_) if v.trim().parse::<bool>().is_err() => Err(format!(
                "{v:?} cannot match the boolean attribute {path:?} (write true or false)"
            )),
            toml::Value::Integer(_) | toml::Value::Float(_) if number(v).is_err() => {
                Err(format!("{v:?} cannot match the number attribute {path:?}"))
            }
            _ => Ok(()),
        }
    };
    let scale_pos = |scale: &[String], s: &str| {
        scale
            .iter()
            .position(|x| x.eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| format!("{s:?} is not on the scale {scale:?}"))
    };
    Ok(match check {
        Check::Equals { .. } => {
            typed(value)?;
            as_text(attr).eq_ignore_ascii_case(value.trim())
        }
        Check::OneOf { .. } => {
            let options: Vec<&str> = value.split('|').map(str::trim).collect();
            for o in &options {
                typed(o)?;
            }
            options
                .iter()
                .any(|o| as_text(attr).eq_ignore_ascii_case(o))
        }
        Check::Contains { .. } => attr
            .as_array()
            .ok_or_else(|| format!("attribute {path:?} is not a list"))?
            .iter()
            .any(|v| as_text(v).eq_ignore_ascii_case(value.trim())),
        Check::AtMost { .. } => {
            as_number(attr).ok_or_else(|| format!("attribute {path:?} is not a number"))?
                <= number(value)?
        }
        Check::AtLeast { .. } => {
            as_number(attr).ok_or_else(|| format!("attribute {path:?} is not a number"))?
                >= number(value)?
        }
        Check::ScaleAtMost { scale, .. } => {
            scale_pos(scale, &as_text(attr))? <= scale_pos(scale, value)?
        }
        Check::ScaleAtLeast { scale, .. } => {
            scale_pos(scale, &as_text(attr))? >= scale_pos(scale, value)?
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs() -> BTreeMap<String, toml::Value> {
        toml::from_str(
            r#"
mood = "quiet"
price = "moderate"
activities = ["surfing", "hiking"]
min_days = 3
hours_from = { Ostby = 4, Wenlow = 7 }
"#,
        )
        .unwrap()
    }

    fn home(city: &str) -> Vec<ProfileFact> {
        vec![ProfileFact {
            slot: "home_city".into(),
            value: city.into(),
            say: None,
            hard: false,
            stated: false,
        }]
    }

    #[test]
    fn each_rule() {
        let a = attrs();
        let eq = Check::Equals {
            attribute: "mood".into(),
        };
        assert_eq!(evaluate(&eq, &a, "Quiet", &[]), Ok(true));
        assert_eq!(evaluate(&eq, &a, "lively", &[]), Ok(false));
        let has = Check::Contains {
            attribute: "activities".into(),
        };
        assert_eq!(evaluate(&has, &a, "hiking", &[]), Ok(true));
        assert_eq!(evaluate(&has, &a, "diving", &[]), Ok(false));
        let most = Check::AtMost {
            attribute: "min_days".into(),
        };
        assert_eq!(evaluate(&most, &a, "3", &[]), Ok(true));
        assert_eq!(evaluate(&most, &a, "2", &[]), Ok(false));
        let least = Check::AtLeast {
            attribute: "min_days".into(),
        };
        assert_eq!(evaluate(&least, &a, "4", &[]), Ok(false));
        let scale = Check::ScaleAtMost {
            attribute: "price".into(),
            scale: vec!["budget".into(), "moderate".into(), "expensive".into()],
        };
        assert_eq!(evaluate(&scale, &a, "expensive", &[]), Ok(true));
        assert_eq!(evaluate(&scale, &a, "budget", &[]), Ok(false));
    }

    #[test]
    fn one_of_at_least_on_a_scale_and_type_mismatches() {
        let a = attrs();
        let one = Check::OneOf {
            attribute: "mood".into(),
        };
        assert_eq!(evaluate(&one, &a, "lively|Quiet", &[]), Ok(true));
        assert_eq!(evaluate(&one, &a, "lively|buzzing", &[]), Ok(false));
        let scale = Check::ScaleAtLeast {
            attribute: "price".into(),
            scale: vec!["budget".into(), "moderate".into(), "expensive".into()],
        };
        assert_eq!(evaluate(&scale, &a, "budget", &[]), Ok(true));
        assert_eq!(evaluate(&scale, &a, "expensive", &[]), Ok(false));
        let mut b = attrs();
        b.insert("pets".into(), toml::Value::Boolean(true));
        let pets = Check::Equals {
            attribute: "pets".into(),
        };
        assert_eq!(evaluate(&pets, &b, "true", &[]), Ok(true));
        assert!(evaluate(&pets, &b, "yes", &[])
            .unwrap_err()
            .contains("boolean"));
        let days = Check::Equals {
            attribute: "min_days".into(),
        };
        assert!(evaluate(&days, &a, "three", &[])
            .unwrap_err()
            .contains("number"));
    }

    #[test]
    fn placeholders_come_from_the_profile() {
        let a = attrs();
        let travel = Check::AtMost {
            attribute: "hours_from.{home_city}".into(),
        };
        assert_eq!(evaluate(&travel, &a, "5", &home("Ostby")), Ok(true));
        assert_eq!(evaluate(&travel, &a, "5", &home("Wenlow")), Ok(false));
        assert!(evaluate(&travel, &a, "5", &[])
            .unwrap_err()
            .contains("home_city"));
        assert!(evaluate(&travel, &a, "5", &home("Atlantis"))
            .unwrap_err()
            .contains("Atlantis"));
    }
}
