//! JSON forms of snapshots and contexts, for crossing the boundary as one string.

use super::snapshot::{Snapshot, Source};
use super::translator::{translate, PromptContext, Thresholds, Verbosity};
use crate::error::{Error, ErrorCode, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireSnapshot {
    user_id: String,
    #[serde(default)]
    updated_at_unix_ms: i64,
    #[serde(default = "Snapshot::default_source")]
    source: Source,
    #[serde(default = "Snapshot::default_confidence")]
    confidence: f32,
    #[serde(default)]
    axes: BTreeMap<String, f32>,
}

#[derive(Serialize)]
struct WireContext<'a> {
    guidelines: &'a [String],
    tone: &'a str,
    verbosity: &'static str,
    flags: &'a [String],
}

fn verbosity_name(v: Verbosity) -> &'static str {
    match v {
        Verbosity::Low => "low",
        Verbosity::Medium => "medium",
        Verbosity::High => "high",
    }
}

/// Parses a JSON array of snapshots, validates each, translates them all.
pub fn translate_batch_json(text: &str, thresholds: Thresholds, now_ms: i64) -> Result<String> {
    let wire: Vec<WireSnapshot> = serde_json::from_str(text)
        .map_err(|e| Error::invalid("snapshots", format_args!("must be a JSON array of snapshots ({e})")))?;
    let contexts = wire
        .into_iter()
        .enumerate()
        .map(|(i, w)| {
            let snapshot = Snapshot {
                user_id: w.user_id,
                updated_at_unix_ms: w.updated_at_unix_ms,
                source: w.source,
                confidence: w.confidence,
                axes: w.axes.into_iter().collect(),
            }
            .validated(now_ms)
            .map_err(|e| Error { message: format!("snapshot {i}: {}", e.message), ..e })?;
            Ok(translate(&snapshot, thresholds))
        })
        .collect::<Result<Vec<PromptContext>>>()?;
    let out: Vec<WireContext<'_>> = contexts
        .iter()
        .map(|c| WireContext {
            guidelines: &c.guidelines,
            tone: &c.tone,
            verbosity: verbosity_name(c.verbosity),
            flags: &c.flags,
        })
        .collect();
    serde_json::to_string(&out)
        .map_err(|e| Error::new(ErrorCode::Internal, format!("cannot encode contexts: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_batch_matches_the_typed_translator() {
        let text = r#"[{"user_id":"a","axes":{"warmth":0.9,"cognitive_load":0.9}},
                       {"user_id":"b","source":"inferred","confidence":0.5,"axes":{}}]"#;
        let out: serde_json::Value =
            serde_json::from_str(&translate_batch_json(text, Thresholds::default(), 1).unwrap()).unwrap();
        assert_eq!(out[0]["tone"], "warm-casual");
        assert_eq!(out[0]["flags"][0], "high_cognitive_load");
        assert_eq!(out[1]["verbosity"], "medium");
        assert_eq!(out[1]["guidelines"].as_array().unwrap().len(), 3);
    }

    #[test]
    fn bad_json_and_bad_snapshots_name_the_problem() {
        let e = translate_batch_json("{", Thresholds::default(), 1).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("snapshots"));
        let e = translate_batch_json(
            r#"[{"user_id":"a"},{"user_id":"b","axes":{"Mood":0.5}}]"#,
            Thresholds::default(),
            1,
        )
        .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("axes.Mood"));
        assert!(e.message.starts_with("snapshot 1: "), "{}", e.message);
        let e = translate_batch_json(r#"[{"user_id":"a","extra":1}]"#, Thresholds::default(), 1).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("snapshots"));
    }
}
