//! A registry of named principles (seed 004's "axioms") and the checks over it. The
//! formulas are in the WIT `principles` interface comment; each function here is one
//! of them. The registry is data: the shipped default set (`defaults.json`) or the
//! user's, passed in as JSON.

#[cfg(target_arch = "wasm32")]
mod wit;

use crate::error::{Error, ErrorCode, Result};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Resonance a principle needs with its context to be valid.
pub const MIN_RESONANCE: f64 = 0.45;
/// Tension a principle may bring into its context and still be valid.
pub const MAX_TENSION: f64 = 0.35;

const DEFAULTS: &str = include_str!("defaults.json");

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principle {
    pub id: String,
    pub title: String,
    pub statement: String,
    pub category: String,
    #[serde(default)]
    pub related: Vec<String>,
    #[serde(default)]
    pub conflicts: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    pub axiom_id: String,
    pub is_valid: bool,
    pub resonance_score: f64,
    pub ethical_tension: f64,
    pub reasons: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BatchCheck {
    pub results: Vec<Check>,
    pub batch_valid: bool,
    pub overall_resonance: f64,
    pub overall_tension: f64,
}

pub struct Registry {
    by_id: BTreeMap<String, Principle>,
}

pub fn default_registry_json() -> &'static str {
    DEFAULTS
}

impl Registry {
    /// Parses and checks a registry: ids unique and non-empty, references known.
    pub fn parse(json: &str) -> Result<Self> {
        let list: Vec<Principle> = serde_json::from_str(json).map_err(|e| {
            Error::invalid("registry", format_args!("must be a JSON list of principles: {e}"))
        })?;
        let mut by_id = BTreeMap::new();
        for (i, p) in list.iter().enumerate() {
            if p.id.trim().is_empty() {
                return Err(Error::invalid(&format!("principles[{i}].id"), "must not be empty"));
            }
            if by_id.insert(p.id.clone(), p.clone()).is_some() {
                return Err(Error::invalid(
                    &format!("principles[{i}].id"),
                    format_args!("{:?} appears twice", p.id),
                ));
            }
        }
        for (i, p) in list.iter().enumerate() {
            for (field, ids) in [("related", &p.related), ("conflicts", &p.conflicts)] {
                if let Some(bad) = ids.iter().find(|id| !by_id.contains_key(*id) || **id == p.id) {
                    return Err(Error::invalid(
                        &format!("principles[{i}].{field}"),
                        format_args!("{bad:?} is not another principle of the registry"),
                    ));
                }
            }
        }
        Ok(Self { by_id })
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.by_id.values().collect::<Vec<_>>()).expect("registry serialises")
    }

    fn known(&self, id: &str) -> Result<&Principle> {
        self.by_id.get(id).ok_or_else(|| {
            Error::new(ErrorCode::NotFound, format!("unknown principle {id:?}")).with_field("axiom_id")
        })
    }

    fn all_known(&self, ids: &[String]) -> Result<()> {
        ids.iter().try_for_each(|id| self.known(id).map(|_| ()))
    }

    fn conflicting(&self, a: &Principle, b: &Principle) -> bool {
        a.conflicts.contains(&b.id) || b.conflicts.contains(&a.id)
    }

    /// 1 same or related, 0 conflicting, 0.5 same category, 0.25 otherwise.
    pub fn relatedness(&self, a: &str, b: &str) -> Result<f64> {
        let (pa, pb) = (self.known(a)?, self.known(b)?);
        Ok(if a == b || pa.related.contains(&pb.id) || pb.related.contains(&pa.id) {
            1.0
        } else if self.conflicting(pa, pb) {
            0.0
        } else if pa.category == pb.category {
            0.5
        } else {
            0.25
        })
    }

    /// Mean relatedness over unordered pairs of the distinct ids; 1 for fewer than 2.
    pub fn resonance(&self, ids: &[String]) -> Result<f64> {
        self.all_known(ids)?;
        let set: Vec<&String> = ids.iter().collect::<BTreeSet<_>>().into_iter().collect();
        let (mut sum, mut pairs) = (0.0, 0usize);
        for (i, a) in set.iter().enumerate() {
            for b in &set[i + 1..] {
                sum += self.relatedness(a, b)?;
                pairs += 1;
            }
        }
        Ok(if pairs == 0 { 1.0 } else { sum / pairs as f64 })
    }

    /// Conflicting pairs / all pairs over (p, c), p in P, c in C, p != c, and the
    /// unordered pairs within P.
    pub fn tension(&self, proposed: &[String], context: &[String]) -> Result<f64> {
        self.all_known(proposed)?;
        self.all_known(context)?;
        let p: Vec<&String> = proposed.iter().collect::<BTreeSet<_>>().into_iter().collect();
        let c: BTreeSet<&String> = context.iter().collect();
        let mut pairs: BTreeSet<(&String, &String)> = BTreeSet::new();
        for (i, a) in p.iter().enumerate() {
            for b in c.iter().chain(&p[i + 1..]) {
                if a != b {
                    pairs.insert(if a < b { (a, b) } else { (b, a) });
                }
            }
        }
        if pairs.is_empty() {
            return Ok(0.0);
        }
        let conflicts =
            pairs.iter().filter(|(a, b)| self.conflicting(&self.by_id[*a], &self.by_id[*b])).count();
        Ok(conflicts as f64 / pairs.len() as f64)
    }

    pub fn validate(&self, id: &str, context: &[String]) -> Result<Check> {
        self.known(id)?;
        let mut with_context = vec![id.to_string()];
        with_context.extend(context.iter().cloned());
        let resonance = self.resonance(&with_context)?;
        let tension = self.tension(&[id.to_string()], context)?;
        let mut reasons = Vec::new();
        if resonance < MIN_RESONANCE {
            reasons.push(format!("resonance {resonance:.3} is below {MIN_RESONANCE}"));
        }
        if tension > MAX_TENSION {
            reasons.push(format!("tension {tension:.3} is above {MAX_TENSION}"));
        }
        Ok(Check {
            axiom_id: id.to_string(),
            is_valid: reasons.is_empty(),
            resonance_score: resonance,
            ethical_tension: tension,
            reasons,
        })
    }

    /// Each id checked against the context; the batch is valid when all are;
    /// overall resonance is that of ids + context, overall tension tension(ids, context).
    pub fn validate_batch(&self, ids: &[String], context: &[String]) -> Result<BatchCheck> {
        let results = ids.iter().map(|id| self.validate(id, context)).collect::<Result<Vec<_>>>()?;
        let all: Vec<String> = ids.iter().chain(context).cloned().collect();
        Ok(BatchCheck {
            batch_valid: results.iter().all(|r| r.is_valid),
            overall_resonance: self.resonance(&all)?,
            overall_tension: self.tension(ids, context)?,
            results,
        })
    }

    /// Ids ranked by the share of the text's distinct words found in title + statement.
    pub fn recommend(&self, text: &str, limit: usize) -> Vec<(String, f64)> {
        let query: BTreeSet<String> = words(text).collect();
        if query.is_empty() {
            return Vec::new();
        }
        let mut scored: Vec<(String, f64)> = self
            .by_id
            .values()
            .filter_map(|p| {
                let have: BTreeSet<String> = words(&p.title).chain(words(&p.statement)).collect();
                let hits = query.intersection(&have).count();
                (hits > 0).then(|| (p.id.clone(), hits as f64 / query.len() as f64))
            })
            .collect();
        scored.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        scored.truncate(limit);
        scored
    }
}

const STOP_WORDS: &[&str] = &[
    "the", "and", "for", "are", "but", "not", "you", "all", "any", "can", "her", "was", "one", "our", "out",
    "has", "his", "how", "its", "may", "who", "did", "let", "own", "say", "she", "too", "use", "with",
    "that", "this", "from", "they", "them", "their", "what", "when", "where", "which", "will", "would",
    "there", "been", "have", "into", "than", "then", "also", "each", "does", "every", "about", "could",
    "should",
];

const SUFFIXES: &[&str] =
    &["ations", "ation", "ings", "ing", "ions", "ion", "ness", "ment", "ies", "es", "ed", "al", "ly", "s"];

/// Lower-cased words of 3+ letters, stop words dropped, common suffixes stripped.
fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .map(str::to_lowercase)
        .filter(|w| w.chars().count() >= 3 && !STOP_WORDS.contains(&w.as_str()))
        .map(|w| stem(&w))
}

fn stem(word: &str) -> String {
    for s in SUFFIXES {
        if let Some(root) = word.strip_suffix(s) {
            if root.chars().count() >= 4 {
                return root.to_string();
            }
        }
    }
    word.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn default_registry_is_consistent_and_the_seed_example_holds() {
        let r = Registry::parse(DEFAULTS).unwrap();
        let check = r.validate("AX_NO_HARM", &ids(&["AX_LOVE_FORCE", "AX_EMPATHY_BRIDGE"])).unwrap();
        assert!(check.is_valid);
        assert_eq!(check.resonance_score, 1.0);
        assert_eq!(check.ethical_tension, 0.0);
        let batch = r
            .validate_batch(
                &ids(&["AX_NO_HARM", "AX_BENEFICENCE", "AX_AUTONOMY", "AX_JUSTICE"]),
                &ids(&["AX_LOVE_FORCE", "AX_EMPATHY_BRIDGE"]),
            )
            .unwrap();
        assert!(batch.batch_valid);
        assert!(!r.recommend("ethical decision making", 5).is_empty());
    }

    #[test]
    fn formulas_give_the_documented_numbers() {
        let r = Registry::parse(DEFAULTS).unwrap();
        // MOVE_FAST conflicts with both of its context: 2 conflicting of 2 pairs.
        assert_eq!(
            r.tension(&ids(&["AX_MOVE_FAST"]), &ids(&["AX_SAFETY_FIRST", "AX_NO_HARM"])).unwrap(),
            1.0
        );
        let check = r.validate("AX_MOVE_FAST", &ids(&["AX_SAFETY_FIRST", "AX_NO_HARM"])).unwrap();
        assert!(!check.is_valid);
        assert_eq!(check.reasons.len(), 2);
        // related 1 + same category 0.5 + other 0.25, over 3 pairs.
        let res = r.resonance(&ids(&["AX_HONESTY", "AX_TRANSPARENCY", "AX_PRIVACY"])).unwrap();
        assert!((res - (1.0 + 0.25 + 0.25) / 3.0).abs() < 1e-12, "{res}");
        assert_eq!(r.resonance(&ids(&["AX_HONESTY"])).unwrap(), 1.0);
        assert_eq!(r.validate("AX_NOPE", &[]).unwrap_err().code, ErrorCode::NotFound);
    }

    #[test]
    fn bad_registries_name_the_field() {
        let e = Registry::parse(r#"[{"id":"A","title":"","statement":"","category":"x","related":["B"]}]"#)
            .err()
            .unwrap();
        assert_eq!(e.field.as_deref(), Some("principles[0].related"));
        let e = Registry::parse(r#"[{"id":"A","title":"","statement":"","category":"x"},{"id":"A","title":"","statement":"","category":"x"}]"#).err().unwrap();
        assert_eq!(e.field.as_deref(), Some("principles[1].id"));
    }
}
