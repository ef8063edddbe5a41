//! Users' state kept in host storage (namespace `attune`, key `state/<user_id>`, JSON).
//!
//! Merge rule on upsert: a value the user reported themselves is kept when a new
//! snapshot only infers that axis (the user's word outranks an inference); in every
//! other case the new value wins. Axes reported by the user and absent from a new
//! inferred snapshot are kept too. The stored snapshot's source becomes `mixed` when
//! its values come from both.

use super::snapshot::{check_user_id, Snapshot, Source};
use crate::error::{Error, ErrorCode, Result};
use crate::ports::{update, Storage};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const NAMESPACE: &str = "attune";

/// What is stored: the snapshot plus where each axis value came from.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Stored {
    user_id: String,
    updated_at_unix_ms: i64,
    source: Source,
    confidence: f32,
    axes: BTreeMap<String, (f32, Source)>,
}

impl Stored {
    fn snapshot(&self) -> Snapshot {
        Snapshot {
            user_id: self.user_id.clone(),
            updated_at_unix_ms: self.updated_at_unix_ms,
            source: self.source,
            confidence: self.confidence,
            axes: self.axes.iter().map(|(n, (v, _))| (n.clone(), *v)).collect(),
        }
    }
}

fn key(user_id: &str) -> String {
    format!("state/{user_id}")
}

fn load(storage: &dyn Storage, user_id: &str) -> Result<Option<Stored>> {
    storage.get(NAMESPACE, &key(user_id))?.map(|json| parse(user_id, &json)).transpose()
}

fn parse(user_id: &str, json: &str) -> Result<Stored> {
    serde_json::from_str(json).map_err(|e| {
        Error::new(ErrorCode::Storage, format!("stored state of {user_id:?} is unreadable: {e}"))
    })
}

/// Stores a validated snapshot, merging by the rule above; returns what is stored.
/// Read, merge, compare-and-set (`ports::update`): when another writer changed the state
/// in between, the merge is made again on what that writer stored.
pub fn upsert(storage: &dyn Storage, snapshot: Snapshot) -> Result<Snapshot> {
    update(storage, NAMESPACE, &key(&snapshot.user_id), |current| {
        let old = current.map(|json| parse(&snapshot.user_id, json)).transpose()?;
        let stored = merge(old, &snapshot);
        let json = serde_json::to_string(&stored)
            .map_err(|e| Error::new(ErrorCode::Internal, format!("cannot encode state: {e}")))?;
        Ok((json, stored.snapshot()))
    })
}

/// `snapshot` merged into `old` by the rule above.
fn merge(old: Option<Stored>, snapshot: &Snapshot) -> Stored {
    let mut axes: BTreeMap<String, (f32, Source)> = BTreeMap::new();
    if let Some(old) = old {
        if snapshot.source == Source::Inferred {
            axes.extend(old.axes.into_iter().filter(|(_, (_, src))| *src == Source::SelfReport));
        }
    }
    for (name, value) in &snapshot.axes {
        let kept_self_report = snapshot.source == Source::Inferred
            && axes.get(name).is_some_and(|(_, src)| *src == Source::SelfReport);
        if !kept_self_report {
            axes.insert(name.clone(), (*value, snapshot.source));
        }
    }
    let sources: Vec<Source> = axes.values().map(|(_, s)| *s).collect();
    let source = match sources.first() {
        Some(first) if sources.iter().any(|s| s != first) => Source::Mixed,
        Some(first) => *first,
        None => snapshot.source,
    };
    Stored {
        user_id: snapshot.user_id.clone(),
        updated_at_unix_ms: snapshot.updated_at_unix_ms,
        source,
        confidence: snapshot.confidence,
        axes,
    }
}

/// The stored state of `user_id`; `not-found` when there is none.
pub fn get(storage: &dyn Storage, user_id: &str) -> Result<Snapshot> {
    check_user_id(user_id)?;
    load(storage, user_id)?
        .map(|s| s.snapshot())
        .ok_or_else(|| Error::new(ErrorCode::NotFound, format!("no state for user {user_id:?}")))
}

/// The stored form of `user_id`'s state, as is (for callers that cache what they derive
/// from it, keyed by it); `not-found` when there is none.
pub fn get_stored(storage: &dyn Storage, user_id: &str) -> Result<String> {
    check_user_id(user_id)?;
    storage
        .get(NAMESPACE, &key(user_id))?
        .ok_or_else(|| Error::new(ErrorCode::NotFound, format!("no state for user {user_id:?}")))
}

/// The snapshot in a stored form returned by `get_stored`.
pub fn snapshot_of(user_id: &str, stored: &str) -> Result<Snapshot> {
    Ok(parse(user_id, stored)?.snapshot())
}

/// Removes the state of `user_id`, and the baseline of their messages; true when there
/// was a state.
pub fn delete(storage: &dyn Storage, user_id: &str) -> Result<bool> {
    check_user_id(user_id)?;
    storage.delete(NAMESPACE, &baseline_key(user_id))?;
    Ok(storage.delete(NAMESPACE, &key(user_id))?)
}

fn baseline_key(user_id: &str) -> String {
    format!("baseline/{user_id}")
}

/// A user's baseline: every message inferred for them so far, combined (`infer::combine`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Baseline {
    pub messages: u64,
    pub state: crate::attune::infer::InferredState,
}

/// Adds `current` (one message's estimates) to the user's baseline; returns the
/// baseline as it was before (empty for a user's first message). Read, combine,
/// compare-and-set, as `upsert`.
pub fn add_to_baseline(
    storage: &dyn Storage,
    user_id: &str,
    current: &crate::attune::infer::InferredState,
    cap: f32,
) -> Result<Baseline> {
    check_user_id(user_id)?;
    update(storage, NAMESPACE, &baseline_key(user_id), |stored| {
        let before: Baseline = match stored {
            None => Baseline::default(),
            Some(json) => serde_json::from_str(json).map_err(|e| {
                Error::new(ErrorCode::Storage, format!("stored baseline of {user_id:?} is unreadable: {e}"))
            })?,
        };
        let after = Baseline {
            messages: before.messages + 1,
            state: crate::attune::infer::combine(&before.state, current, cap)?,
        };
        let json = serde_json::to_string(&after)
            .map_err(|e| Error::new(ErrorCode::Internal, format!("cannot encode baseline: {e}")))?;
        Ok((json, before))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::MemoryStorage;

    fn snap(source: Source, axes: &[(&str, f32)]) -> Snapshot {
        Snapshot {
            user_id: "u1".into(),
            updated_at_unix_ms: 5,
            source,
            confidence: 0.8,
            axes: axes.iter().map(|(n, v)| (n.to_string(), *v)).collect(),
        }
        .validated(5)
        .unwrap()
    }

    #[test]
    fn upsert_get_delete_round_trip() {
        let s = MemoryStorage::default();
        assert_eq!(get(&s, "u1").unwrap_err().code, ErrorCode::NotFound);
        let stored = upsert(&s, snap(Source::SelfReport, &[("warmth", 0.9)])).unwrap();
        assert_eq!(get(&s, "u1").unwrap(), stored);
        assert!(delete(&s, "u1").unwrap());
        assert!(!delete(&s, "u1").unwrap());
        assert_eq!(get(&s, "u1").unwrap_err().code, ErrorCode::NotFound);
    }

    #[test]
    fn self_report_outranks_inference() {
        let s = MemoryStorage::default();
        upsert(&s, snap(Source::SelfReport, &[("warmth", 0.9), ("formality", 0.2)])).unwrap();
        let merged = upsert(&s, snap(Source::Inferred, &[("warmth", 0.1), ("cognitive_load", 0.8)])).unwrap();
        assert_eq!(merged.axis("warmth"), Some(0.9));
        assert_eq!(merged.axis("formality"), Some(0.2));
        assert_eq!(merged.axis("cognitive_load"), Some(0.8));
        assert_eq!(merged.source, Source::Mixed);
        // A new self-report replaces everything.
        let replaced = upsert(&s, snap(Source::SelfReport, &[("warmth", 0.3)])).unwrap();
        assert_eq!(replaced.axes, vec![("warmth".to_string(), 0.3)]);
        assert_eq!(replaced.source, Source::SelfReport);
    }

    /// Storage hooks where another writer stores `rival` under the key just before this
    /// writer's first compare-and-set (the race of two concurrent upserts), and where
    /// with `always_fail` every compare-and-set fails.
    struct Racing {
        rival: std::cell::RefCell<Option<Snapshot>>,
        cas_calls: std::cell::Cell<usize>,
        always_fail: bool,
    }

    impl crate::hooked::Hooks for Racing {
        fn before_compare_and_set(&self, inner: &MemoryStorage) -> Option<bool> {
            self.cas_calls.set(self.cas_calls.get() + 1);
            if let Some(rival) = self.rival.borrow_mut().take() {
                upsert(inner, rival).unwrap();
            }
            self.always_fail.then_some(false)
        }
    }

    #[test]
    fn a_concurrent_self_report_is_not_lost_to_an_inference() {
        let s = crate::hooked::Hooked {
            inner: MemoryStorage::default(),
            hooks: Racing {
                rival: Some(snap(Source::SelfReport, &[("warmth", 0.9)])).into(),
                cas_calls: 0.into(),
                always_fail: false,
            },
        };
        let merged = upsert(&s, snap(Source::Inferred, &[("warmth", 0.1), ("cognitive_load", 0.8)])).unwrap();
        assert_eq!(s.cas_calls.get(), 2, "the first write lost the race and was merged again");
        assert_eq!(merged.axis("warmth"), Some(0.9), "the user's word, stored meanwhile, is kept");
        assert_eq!(merged.axis("cognitive_load"), Some(0.8));
        assert_eq!(get(&s, "u1").unwrap(), merged);
    }

    #[test]
    fn an_update_that_never_wins_the_race_fails_and_stores_nothing() {
        let s = crate::hooked::Hooked {
            inner: MemoryStorage::default(),
            hooks: Racing { rival: None.into(), cas_calls: 0.into(), always_fail: true },
        };
        let e = upsert(&s, snap(Source::SelfReport, &[("warmth", 0.9)])).unwrap_err();
        assert_eq!(e.code, ErrorCode::Storage);
        assert!(e.message.contains("retry"), "{}", e.message);
        assert_eq!(s.cas_calls.get(), crate::ports::UPDATE_ATTEMPTS);
        assert_eq!(get(&s, "u1").unwrap_err().code, ErrorCode::NotFound);
    }

    #[test]
    fn compare_and_set_stores_only_over_the_expected_value() {
        let s = MemoryStorage::default();
        assert!(s.compare_and_set("n", "k", None, "a").unwrap());
        assert!(!s.compare_and_set("n", "k", None, "b").unwrap());
        assert!(!s.compare_and_set("n", "k", Some("x"), "b").unwrap());
        assert!(s.compare_and_set("n", "k", Some("a"), "b").unwrap());
        assert_eq!(s.get("n", "k").unwrap().as_deref(), Some("b"));
    }

    #[test]
    fn bad_user_id_is_rejected_before_storage() {
        let s = MemoryStorage::default();
        assert_eq!(get(&s, "").unwrap_err().field.as_deref(), Some("user_id"));
    }
}
