//! Parsing and checking what hosts send: the entries of a `put` and search filters.
//! Every error names the field at fault; nothing is stored unless all of it is valid.

use super::search::Filter;
use crate::error::{Error, Result};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use std::collections::HashSet;

pub const MAX_KEY_BYTES: usize = 1024;
/// The longest metadata of one entry, as JSON text: metadata is kept in memory beside
/// every embedding and sent back with every hit, so it is for small facts, not documents.
pub const MAX_METADATA_BYTES: usize = 64 * 1024;

/// One entry of a `put`, checked; JSON kept compact as text.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEntry {
    pub key: String,
    pub metadata: String,
    pub diff_ops: Option<String>,
}

#[derive(Deserialize)]
struct Incoming<'a> {
    key: Option<String>,
    #[serde(borrow, default)]
    metadata: Option<&'a RawValue>,
    #[serde(borrow, default)]
    diff_ops: Option<&'a RawValue>,
}

const DIFF_OPS: [&str; 3] = ["insert", "delete", "replace"];

fn check_diff_ops(field: &str, raw: &RawValue) -> Result<Option<String>> {
    let value: Value = serde_json::from_str(raw.get()).map_err(|e| Error::invalid(field, e))?;
    let ops = match value {
        Value::Null => return Ok(None),
        Value::Array(ops) => ops,
        _ => return Err(Error::invalid(field, "must be a list of diff operations or null")),
    };
    for (j, op) in ops.iter().enumerate() {
        let Value::Object(fields) = op else {
            return Err(Error::invalid(&format!("{field}[{j}]"), "must be an object with an \"op\" field"));
        };
        match fields.get("op").and_then(Value::as_str) {
            Some(name) if DIFF_OPS.contains(&name) => {}
            _ => {
                return Err(Error::invalid(
                    &format!("{field}[{j}].op"),
                    "must be one of \"insert\", \"delete\", \"replace\"",
                ))
            }
        }
    }
    Ok(Some(serde_json::to_string(&ops).expect("JSON serialises")))
}

/// The same entries as columns: ~4x cheaper for a host to serialise than a list of
/// objects (Python's `json.dumps`, measured on 100,000 entries).
#[derive(Deserialize)]
struct Columns<'a> {
    keys: Vec<Option<String>>,
    #[serde(borrow, default)]
    metadata: Option<Vec<&'a RawValue>>,
    #[serde(borrow, default)]
    diff_ops: Option<Vec<&'a RawValue>>,
}

impl<'a> Columns<'a> {
    fn into_rows(self) -> Result<Vec<Incoming<'a>>> {
        let n = self.keys.len();
        for (name, column) in [("metadata", &self.metadata), ("diff_ops", &self.diff_ops)] {
            if let Some(values) = column.as_ref().filter(|v| v.len() != n) {
                return Err(Error::invalid(
                    &format!("entries.{name}"),
                    format_args!("has {} values for {n} keys", values.len()),
                ));
            }
        }
        let mut metadata = self.metadata.map(Vec::into_iter);
        let mut diff_ops = self.diff_ops.map(Vec::into_iter);
        Ok(self
            .keys
            .into_iter()
            .map(|key| Incoming {
                key,
                metadata: metadata.as_mut().and_then(Iterator::next),
                diff_ops: diff_ops.as_mut().and_then(Iterator::next),
            })
            .collect())
    }
}

/// Parses and checks the entries of a `put`: a JSON list of entry objects, or an
/// object of columns `{"keys": [...], "metadata": [...]?, "diff_ops": [...]?}`.
pub fn parse_entries(json: &str) -> Result<Vec<NewEntry>> {
    parse_entries_from(json, 0, &|place| place, &mut HashSet::new())
}

/// Checks several `put`s' entries as one batch: keys unique across all of them, and an
/// error names an entry by its place in the concatenation (`entries[4100].key`).
pub fn check_batches(parts: &[impl AsRef<str>], rows: Option<&[u32]>) -> Result<u32> {
    // An error names the entry by the caller's row when the caller says which it is.
    let row = |place: usize| rows.and_then(|r| r.get(place)).map_or(place, |&r| r as usize);
    let mut seen = HashSet::new();
    let mut count = 0;
    for part in parts {
        count += parse_entries_from(part.as_ref(), count, &row, &mut seen)?.len();
    }
    if let Some(rows) = rows.filter(|r| r.len() != count) {
        return Err(Error::invalid("rows", format_args!("has {} rows for {count} entries", rows.len())));
    }
    Ok(count as u32)
}

/// `parse_entries`, numbering entries from `first` (an error names entry `place` as
/// `entries[row(place)]`) and refusing keys in `seen` (which gains this batch's keys).
fn parse_entries_from(
    json: &str,
    first: usize,
    row: &dyn Fn(usize) -> usize,
    seen: &mut HashSet<String>,
) -> Result<Vec<NewEntry>> {
    let malformed = |e: serde_json::Error| {
        Error::invalid("entries", format_args!("must be a JSON list of entries or an object of columns: {e}"))
    };
    let incoming: Vec<Incoming> = if json.trim_start().starts_with('{') {
        serde_json::from_str::<Columns>(json).map_err(malformed)?.into_rows()?
    } else {
        serde_json::from_str(json).map_err(malformed)?
    };
    seen.reserve(incoming.len());
    incoming
        .into_iter()
        .enumerate()
        .map(|(i, e)| {
            let i = row(first + i);
            let field = |name: &str| format!("entries[{i}].{name}");
            let key = e.key.ok_or_else(|| Error::invalid(&field("key"), "is missing"))?;
            if key.is_empty() {
                return Err(Error::invalid(&field("key"), "must not be empty"));
            }
            if key.len() > MAX_KEY_BYTES {
                return Err(Error::invalid(
                    &field("key"),
                    format_args!("must be at most {MAX_KEY_BYTES} bytes"),
                ));
            }
            if !seen.insert(key.clone()) {
                return Err(Error::invalid(
                    &field("key"),
                    format_args!("{key:?} appears twice in one batch"),
                ));
            }
            let metadata = match e.metadata {
                None => "{}".to_string(),
                Some(raw) => {
                    let text = raw.get().trim();
                    if text == "null" {
                        "{}".to_string()
                    } else if text.len() > MAX_METADATA_BYTES {
                        return Err(Error::invalid(
                            &field("metadata"),
                            format_args!(
                                "must be at most {MAX_METADATA_BYTES} bytes of JSON, got {}",
                                text.len()
                            ),
                        ));
                    } else if text.starts_with('{') {
                        text.to_string()
                    } else {
                        return Err(Error::invalid(&field("metadata"), "must be a JSON object (a dict)"));
                    }
                }
            };
            let diff_ops =
                e.diff_ops.map(|raw| check_diff_ops(&field("diff_ops"), raw)).transpose()?.flatten();
            Ok(NewEntry { key, metadata, diff_ops })
        })
        .collect()
}

/// A metadata filter: a JSON object of field values.
pub fn parse_filter(json: &str) -> Result<Filter> {
    match serde_json::from_str::<Value>(json) {
        Ok(Value::Object(fields)) => Ok(Filter::new(fields)),
        _ => Err(Error::invalid("filter", "must be a JSON object of metadata field values")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_checked_field_by_field() {
        let ok = parse_entries(
            r#"[{"key":"a","metadata":{"x":1},"diff_ops":[{"op":"insert","at":0}]},{"key":"b"}]"#,
        )
        .unwrap();
        assert_eq!(ok[0].metadata, r#"{"x":1}"#);
        assert_eq!(ok[1].metadata, "{}");
        assert!(ok[0].diff_ops.is_some() && ok[1].diff_ops.is_none());
        let field = |json: &str| parse_entries(json).unwrap_err().field.unwrap();
        assert_eq!(field(r#"[{"key":""}]"#), "entries[0].key");
        assert_eq!(field(r#"[{"key":"a"},{"key":"a"}]"#), "entries[1].key");
        assert_eq!(field(r#"[{"key":"a","metadata":[1]}]"#), "entries[0].metadata");
        let big = format!(r#"[{{"key":"a","metadata":{{"x":"{}"}}}}]"#, "y".repeat(MAX_METADATA_BYTES));
        assert_eq!(field(&big), "entries[0].metadata");
        assert_eq!(field(r#"[{"key":"a","diff_ops":[{"op":"move"}]}]"#), "entries[0].diff_ops[0].op");
        assert_eq!(field("{}"), "entries");
        assert_eq!(field("3"), "entries");
        // Columns: the same entries, the same checks and field names.
        let columns = parse_entries(
            r#"{"keys":["a","b"],"metadata":[{"x":1},null],"diff_ops":[[{"op":"insert","at":0}],null]}"#,
        )
        .unwrap();
        assert_eq!(columns, ok);
        assert_eq!(parse_entries(r#"{"keys":["a"]}"#).unwrap()[0].metadata, "{}");
        assert_eq!(field(r#"{"keys":["a","a"]}"#), "entries[1].key");
        assert_eq!(field(r#"{"keys":["a",null]}"#), "entries[1].key");
        assert_eq!(field(r#"{"keys":["a","b"],"metadata":[{},[1]]}"#), "entries[1].metadata");
        assert_eq!(field(r#"{"keys":["a","b"],"metadata":[{}]}"#), "entries.metadata");
        assert_eq!(field(r#"{"keys":["a"],"diff_ops":[[{"op":"move"}]]}"#), "entries[0].diff_ops[0].op");
        // Several calls' entries as one batch: numbered across, keys unique across.
        assert_eq!(check_batches(&[r#"{"keys":["a","b"]}"#, r#"{"keys":["c"]}"#], None).unwrap(), 3);
        let across = |parts: &[&str]| check_batches(parts, None).unwrap_err().field.unwrap();
        assert_eq!(across(&[r#"{"keys":["a","b"]}"#, r#"{"keys":["c","a"]}"#]), "entries[3].key");
        assert_eq!(across(&[r#"{"keys":["a"]}"#, r#"{"keys":["b"],"metadata":[3]}"#]), "entries[1].metadata");
        // The caller's rows: place 3 is the caller's row 1, and the message says so too.
        let e = check_batches(&[r#"{"keys":["a","b"]}"#, r#"{"keys":["c","a"]}"#], Some(&[0, 2, 3, 1]))
            .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("entries[1].key"));
        assert!(e.message.contains("entries[1].key"), "{}", e.message);
        let wrong = check_batches(&[r#"{"keys":["a"]}"#], Some(&[0, 1])).unwrap_err();
        assert_eq!(wrong.field.as_deref(), Some("rows"));
        assert!(parse_filter("[1]").is_err());
    }
}
