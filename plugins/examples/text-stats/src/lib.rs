//! An example plugin: `{"text": "..."}` in, its counts out:
//! `{"words": 3, "characters": 15, "longest": "example", "calls": 2}`, where `calls`
//! counts the calls so far in the plugin's own key-value namespace (absent when the
//! host grants none). As a workflow step it counts the task context's `"text"`, as a flow
//! agent the node input's.

wit_bindgen::generate!({ world: "agentcell-plugin", path: "../../wit" });

use agentcell::plugin::host::{self, LogLevel};
use exports::agentcell::plugin::plugin::{Error, ErrorKind, Guest, Info};
use serde_json::{json, Value};

struct TextStats;

fn invalid(message: impl Into<String>) -> Error {
    Error { kind: ErrorKind::InvalidInput, message: message.into() }
}

/// Adds one to the stored call count; None when the host grants no namespace.
fn count_call() -> Result<Option<u64>, Error> {
    let seen = match host::kv_get("calls") {
        Ok(v) => v.and_then(|s| s.parse::<u64>().ok()).unwrap_or(0),
        Err(host::KvError::Denied(_)) => return Ok(None),
        Err(e) => return Err(Error { kind: ErrorKind::Retryable, message: format!("{e:?}") }),
    };
    host::kv_set("calls", &(seen + 1).to_string())
        .map_err(|e| Error { kind: ErrorKind::Retryable, message: format!("{e:?}") })?;
    Ok(Some(seen + 1))
}

impl Guest for TextStats {
    fn describe() -> Info {
        Info {
            name: "text-stats".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Word and character counts of a text".into(),
        }
    }

    fn call(input: String) -> Result<String, Error> {
        let input: Value =
            serde_json::from_str(&input).map_err(|e| invalid(format!("input is not JSON: {e}")))?;
        let text = input
            .get("text")
            .or_else(|| input.pointer("/context/text"))
            .or_else(|| input.pointer("/input/text"))
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("input must be an object with a string \"text\""))?;
        let words: Vec<&str> = text.split_whitespace().collect();
        // The first of the longest words, so every host gives the same answer.
        let longest =
            words.iter().fold("", |best, w| if w.chars().count() > best.chars().count() { w } else { best });
        host::log(LogLevel::Debug, &format!("counted {} words", words.len()));
        let mut out = json!({
            "words": words.len(),
            "characters": text.chars().count(),
            "longest": longest,
        });
        if let Some(calls) = count_call()? {
            out["calls"] = json!(calls);
        }
        Ok(out.to_string())
    }
}

export!(TextStats);
