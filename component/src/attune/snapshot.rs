//! A user's state at one moment, and the rules it must follow.

use super::axes::{is_valid_axis_name, MAX_AXIS_NAME_CHARS};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

pub const MAX_USER_ID_BYTES: usize = 256;

/// Where values come from. Self-reported values outrank inferred ones in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    #[serde(alias = "self_report")]
    SelfReport,
    Inferred,
    Mixed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub user_id: String,
    pub updated_at_unix_ms: i64,
    pub source: Source,
    pub confidence: f32,
    /// (axis name, value), sorted by name once validated.
    pub axes: Vec<(String, f32)>,
}

pub fn check_user_id(user_id: &str) -> Result<()> {
    if user_id.is_empty() {
        return Err(Error::invalid("user_id", "must not be empty"));
    }
    if user_id.len() > MAX_USER_ID_BYTES {
        return Err(Error::invalid("user_id", format_args!("must be at most {MAX_USER_ID_BYTES} bytes")));
    }
    // As upstream: letters and digits (any script), `_` and `-`; so no spaces, dots,
    // slashes, `@`, control characters or emoji.
    if let Some(c) = user_id.chars().find(|c| !(c.is_alphanumeric() || *c == '_' || *c == '-')) {
        return Err(Error::invalid(
            "user_id",
            format_args!("may hold only letters, digits, '_' and '-', not {c:?}"),
        ));
    }
    Ok(())
}

fn check_unit(field: &str, value: f32) -> Result<()> {
    if !value.is_finite() || !(0.0..=1.0).contains(&value) {
        return Err(Error::invalid(field, format_args!("must be a number in [0, 1], got {value}")));
    }
    Ok(())
}

impl Snapshot {
    /// The source a snapshot has when none is given: the user said it.
    pub fn default_source() -> Source {
        Source::SelfReport
    }

    /// The confidence a snapshot has when none is given.
    pub fn default_confidence() -> f32 {
        1.0
    }

    /// Checks every rule and returns the snapshot with axes sorted by name and a zero
    /// timestamp replaced by `now_ms`. Errors name the field (`axes.warmth`, ...).
    pub fn validated(mut self, now_ms: i64) -> Result<Self> {
        check_user_id(&self.user_id)?;
        check_unit("confidence", self.confidence)?;
        if self.updated_at_unix_ms < 0 {
            return Err(Error::invalid("updated_at_unix_ms", "must not be negative"));
        }
        if self.updated_at_unix_ms == 0 {
            self.updated_at_unix_ms = now_ms;
        }
        for (name, value) in &self.axes {
            let field = format!("axes.{name}");
            if !is_valid_axis_name(name) {
                return Err(Error::invalid(
                    &field,
                    format_args!(
                        "is not a valid axis name (1-{MAX_AXIS_NAME_CHARS} of a-z, 0-9 and '_', \
                         not starting or ending with '_')"
                    ),
                ));
            }
            check_unit(&field, *value)?;
        }
        self.axes.sort_by(|a, b| a.0.cmp(&b.0));
        if let Some(w) = self.axes.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(Error::invalid(&format!("axes.{}", w[0].0), "is given more than once"));
        }
        Ok(self)
    }

    /// The value of axis `name`, if given.
    pub fn axis(&self, name: &str) -> Option<f32> {
        self.axes.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub fn snap(axes: &[(&str, f32)]) -> Snapshot {
        Snapshot {
            user_id: "u1".into(),
            updated_at_unix_ms: 0,
            source: Source::SelfReport,
            confidence: 1.0,
            axes: axes.iter().map(|(n, v)| (n.to_string(), *v)).collect(),
        }
    }

    fn field_of(s: Snapshot) -> Option<String> {
        s.validated(1).unwrap_err().field
    }

    #[test]
    fn valid_snapshot_is_sorted_and_stamped() {
        let s = snap(&[("warmth", 0.7), ("cognitive_load", 0.9)]).validated(42).unwrap();
        assert_eq!(s.axes[0].0, "cognitive_load");
        assert_eq!(s.updated_at_unix_ms, 42);
    }

    #[test]
    fn custom_axes_with_well_formed_names_are_kept() {
        let s = snap(&[("mood", 0.4), ("warmth", 0.9)]).validated(1).unwrap();
        assert_eq!(s.axis("mood"), Some(0.4));
    }

    #[test]
    fn user_ids_are_letters_digits_underscores_and_dashes() {
        for good in ["u1", "user_42-b", "Ünïcødé", "用户"] {
            let mut s = snap(&[]);
            s.user_id = good.into();
            assert!(s.validated(1).is_ok(), "{good}");
        }
        for bad in ["a b", "a.b", "a/b", "a@b", "a\nb", "a😀"] {
            let mut s = snap(&[]);
            s.user_id = bad.into();
            assert_eq!(field_of(s).as_deref(), Some("user_id"), "{bad:?}");
        }
    }

    #[test]
    fn each_rule_names_its_field() {
        assert_eq!(field_of(snap(&[("Mood", 0.5)])).as_deref(), Some("axes.Mood"));
        assert_eq!(field_of(snap(&[("_mood", 0.5)])).as_deref(), Some("axes._mood"));
        assert_eq!(field_of(snap(&[("warmth", 1.5)])).as_deref(), Some("axes.warmth"));
        assert_eq!(field_of(snap(&[("warmth", f32::NAN)])).as_deref(), Some("axes.warmth"));
        assert_eq!(field_of(snap(&[("warmth", 0.1), ("warmth", 0.2)])).as_deref(), Some("axes.warmth"));
        let mut s = snap(&[]);
        s.user_id.clear();
        assert_eq!(field_of(s).as_deref(), Some("user_id"));
        let mut s = snap(&[]);
        s.confidence = -0.1;
        assert_eq!(field_of(s).as_deref(), Some("confidence"));
        let mut s = snap(&[]);
        s.updated_at_unix_ms = -5;
        assert_eq!(field_of(s).as_deref(), Some("updated_at_unix_ms"));
    }
}
