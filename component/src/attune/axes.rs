//! The canonical axes. They are the governance surface: each says what it measures,
//! what its ends mean, what it is for, and what it must never be used for. The
//! translator may only use an axis for one of its stated intents.

use crate::error::{Error, ErrorCode, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    Cognitive,
    Emotional,
    Social,
    Preferences,
    Control,
    Safety,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deprecation {
    pub since: &'static str,
    pub reason: &'static str,
    pub replacement: Option<&'static str>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Axis {
    pub name: &'static str,
    pub category: Category,
    pub description: &'static str,
    pub low_anchor: &'static str,
    pub high_anchor: &'static str,
    pub intent: &'static [&'static str],
    pub forbidden_uses: &'static [&'static str],
    pub since: &'static str,
    pub deprecated: Option<Deprecation>,
}

/// Uses no axis may ever serve, whatever its own list says.
pub const FORBIDDEN_FOR_ALL: &[&str] = &[
    "profiling the user for third parties",
    "adjusting prices, offers or eligibility",
    "maximising engagement, time spent or conversion",
];

macro_rules! axis {
    ($name:literal, $cat:ident, $desc:literal, $low:literal, $high:literal,
     intent: [$($i:literal),* $(,)?], forbidden: [$($f:literal),* $(,)?]) => {
        Axis {
            name: $name,
            category: Category::$cat,
            description: $desc,
            low_anchor: $low,
            high_anchor: $high,
            intent: &[$($i),*],
            forbidden_uses: &[$($f),*],
            since: "0.1.0",
            deprecated: None,
        }
    };
}

pub const CANONICAL_AXES: &[Axis] = &[
    // Cognitive
    axis!("cognitive_load", Cognitive,
        "How much mental effort the user is already spending on other things right now.",
        "Unhurried, with attention to spare", "Saturated; any extra step is a burden",
        intent: ["shorten responses", "avoid multi-step plans unless asked"],
        forbidden: ["judging competence or intelligence", "pushing decisions while the user is overloaded"]),
    axis!("decision_fatigue", Cognitive,
        "How worn down the user is by choices they have had to make.",
        "Happy to weigh options", "Wants fewer, clearer choices",
        intent: ["limit the number of options offered", "state a clear recommendation"],
        forbidden: ["steering the user toward an option that benefits someone else"]),
    axis!("tolerance_for_complexity", Cognitive,
        "How much nuance and technical detail the user wants to engage with.",
        "Prefers the simple version", "Wants the full, nuanced picture",
        intent: ["choose the depth of explanations"],
        forbidden: ["withholding information the user asked for"]),
    axis!("urgency_sensitivity", Cognitive,
        "How time-pressed the user feels.",
        "No rush", "Needs the answer now",
        intent: ["get to the point quickly"],
        forbidden: ["inventing deadlines or scarcity"]),
    // Emotional
    axis!("emotional_openness", Emotional,
        "How willing the user is to talk about feelings in this interaction.",
        "Keep it strictly factual", "Welcomes emotional acknowledgement",
        intent: ["decide whether to acknowledge feelings"],
        forbidden: ["probing for emotional disclosures", "diagnosing mental health"]),
    axis!("emotional_stability", Emotional,
        "How steady the user says they feel right now.",
        "Shaken", "Steady",
        intent: ["choose a calm, steady register"],
        forbidden: ["diagnosing mental health", "exploiting vulnerability"]),
    axis!("anxiety_level", Emotional,
        "How worried or tense the user is about the matter at hand.",
        "At ease", "Very worried",
        intent: ["offer reassurance", "acknowledge concerns"],
        forbidden: ["exploiting fear to drive action", "diagnosing anxiety disorders"]),
    axis!("need_for_reassurance", Emotional,
        "How much the user wants confirmation that they are on the right track.",
        "Needs no confirmation", "Wants frequent confirmation",
        intent: ["confirm progress explicitly"],
        forbidden: ["creating dependence on the assistant"]),
    // Social
    axis!("warmth", Social,
        "How warm and personal the user wants the exchange to feel.",
        "Cool and matter-of-fact", "Warm and personable",
        intent: ["choose the tone"],
        forbidden: ["simulating intimacy or friendship to build attachment"]),
    axis!("formality", Social,
        "How formal the user wants the language to be.",
        "Casual", "Formal",
        intent: ["choose the register of language"],
        forbidden: ["inferring social status or background"]),
    axis!("boundary_strength", Social,
        "How firmly the user wants the assistant to hold limits and not over-accommodate.",
        "Flexible, accommodating", "Firm limits expected",
        intent: ["maintain firm boundaries"],
        forbidden: ["refusing legitimate requests"]),
    axis!("assertiveness", Social,
        "How directly the user wants disagreement and pushback expressed.",
        "Gentle, indirect pushback", "Blunt disagreement welcome",
        intent: ["calibrate how disagreement is phrased"],
        forbidden: ["pressuring the user"]),
    axis!("reciprocity_expectation", Social,
        "How much the user expects a back-and-forth conversational exchange.",
        "One-way answers are fine", "Expects a conversation",
        intent: ["decide whether to ask follow-up questions"],
        forbidden: ["prolonging conversations for engagement"]),
    // Preferences
    axis!("ritual_need", Preferences,
        "How much the user values greetings, sign-offs and other conversational ritual.",
        "Skip the ceremony", "Values greetings and closings",
        intent: ["include or omit ceremonial gestures"],
        forbidden: ["flattery"]),
    axis!("transactional_preference", Preferences,
        "How strictly the user wants task-only exchanges.",
        "Open to relationship-building", "Task only",
        intent: ["keep interactions task-focused"],
        forbidden: ["upselling"]),
    axis!("verbosity_preference", Preferences,
        "How long the user wants responses to be.",
        "As short as possible", "Long and detailed",
        intent: ["set the response length"],
        forbidden: ["hiding important caveats to stay short"]),
    axis!("directness_preference", Preferences,
        "How plainly the user wants things stated.",
        "Diplomatic, softened", "Plain and direct",
        intent: ["choose how plainly to state things"],
        forbidden: ["being rude"]),
    // Control
    axis!("autonomy_preference", Control,
        "How much the user wants to make decisions themselves.",
        "Happy to delegate", "Wants to decide everything",
        intent: ["present options rather than decisions"],
        forbidden: ["acting on the user's behalf without approval"]),
    axis!("suggestion_tolerance", Control,
        "How welcome unrequested suggestions are.",
        "Only answer what was asked", "Suggestions welcome",
        intent: ["decide whether to make proactive suggestions"],
        forbidden: ["inserting promotional suggestions"]),
    axis!("interruption_tolerance", Control,
        "How acceptable it is to interrupt the user's flow.",
        "Never interrupt", "Interruptions are fine",
        intent: ["decide when to interject"],
        forbidden: ["interrupting to drive engagement"]),
    axis!("reflection_vs_action_bias", Control,
        "Whether the user wants time to think or prefers to move to action.",
        "Wants time to reflect", "Wants to act now",
        intent: ["pace the conversation"],
        forbidden: ["persuading during reflection time", "rushing decisions"]),
    // Safety
    axis!("stakes_awareness", Safety,
        "How consequential the user considers the matter.",
        "Low stakes", "High stakes",
        intent: ["be careful and thorough"],
        forbidden: ["inflating risk to sell protection"]),
    axis!("privacy_sensitivity", Safety,
        "How much the user wants to limit what is collected or repeated about them.",
        "Relaxed about data", "Very private",
        intent: ["minimise data collection and repetition of personal details"],
        forbidden: ["collecting additional personal data"]),
];

/// The axis called `name`.
pub fn get_axis(name: &str) -> Result<&'static Axis> {
    CANONICAL_AXES
        .iter()
        .find(|a| a.name == name)
        .ok_or_else(|| Error::new(ErrorCode::NotFound, format!("{name:?} is not a canonical axis")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twenty_three_axes_in_six_categories_with_unique_names() {
        assert_eq!(CANONICAL_AXES.len(), 23);
        let mut names: Vec<_> = CANONICAL_AXES.iter().map(|a| a.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), 23);
        for cat in [
            Category::Cognitive,
            Category::Emotional,
            Category::Social,
            Category::Preferences,
            Category::Control,
            Category::Safety,
        ] {
            assert!(CANONICAL_AXES.iter().any(|a| a.category == cat), "{cat:?}");
        }
    }

    #[test]
    fn every_axis_has_governance_data() {
        for a in CANONICAL_AXES {
            assert!(!a.intent.is_empty() && !a.forbidden_uses.is_empty(), "{}", a.name);
            assert!(!a.description.is_empty() && !a.low_anchor.is_empty() && !a.high_anchor.is_empty());
        }
    }

    #[test]
    fn unknown_axis_is_not_found() {
        assert_eq!(get_axis("mood").unwrap_err().code, ErrorCode::NotFound);
        assert_eq!(get_axis("warmth").unwrap().category, Category::Social);
    }
}
