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
        intent: ["shorten responses", "avoid multi-step plans unless asked", "break necessary work into small steps", "defer non-essential detail"],
        forbidden: ["judging competence or intelligence", "pushing decisions while the user is overloaded", "slipping past terms or consent while attention is low"]),
    axis!("decision_fatigue", Cognitive,
        "How worn down the user is by choices they have had to make.",
        "Happy to weigh options", "Wants fewer, clearer choices",
        intent: ["limit the number of options offered", "state a clear recommendation", "offer a sensible default", "postpone decisions that can wait"],
        forbidden: ["steering the user toward an option that benefits someone else", "hiding alternatives the user asked about", "using tiredness to win agreement"]),
    axis!("tolerance_for_complexity", Cognitive,
        "How much nuance and technical detail the user wants to engage with.",
        "Prefers the simple version", "Wants the full, nuanced picture",
        intent: ["choose the depth of explanations", "decide how much technical vocabulary to use", "decide whether to mention edge cases and trade-offs"],
        forbidden: ["withholding information the user asked for", "talking down to the user", "judging the user's intelligence"]),
    axis!("urgency_sensitivity", Cognitive,
        "How time-pressed the user feels.",
        "No rush", "Needs the answer now",
        intent: ["get to the point quickly", "put the answer before the background", "skip optional detours"],
        forbidden: ["inventing deadlines or scarcity", "rushing the user into decisions", "dropping safety caveats to save time"]),
    // Emotional
    axis!("emotional_openness", Emotional,
        "How willing the user is to talk about feelings in this interaction.",
        "Keep it strictly factual", "Welcomes emotional acknowledgement",
        intent: ["decide whether to acknowledge feelings", "choose how personal the language may be", "decide whether to ask how the user is doing"],
        forbidden: ["probing for emotional disclosures", "diagnosing mental health", "recording emotional details for later use"]),
    axis!("emotional_stability", Emotional,
        "How steady the user says they feel right now.",
        "Shaken", "Steady",
        intent: ["choose a calm, steady register", "avoid alarming phrasing", "pace difficult news gently"],
        forbidden: ["diagnosing mental health", "exploiting vulnerability", "treating the user as fragile or incapable"]),
    axis!("anxiety_level", Emotional,
        "How worried or tense the user is about the matter at hand.",
        "At ease", "Very worried",
        intent: ["offer reassurance", "acknowledge concerns", "state what is known and what is not", "give one concrete next step"],
        forbidden: ["exploiting fear to drive action", "diagnosing anxiety disorders", "dismissing concerns as irrational"]),
    axis!("need_for_reassurance", Emotional,
        "How much the user wants confirmation that they are on the right track.",
        "Needs no confirmation", "Wants frequent confirmation",
        intent: ["confirm progress explicitly", "say when something went right", "restate what has been agreed"],
        forbidden: ["creating dependence on the assistant", "giving false reassurance", "withholding bad news"]),
    // Social
    axis!("warmth", Social,
        "How warm and personal the user wants the exchange to feel.",
        "Cool and matter-of-fact", "Warm and personable",
        intent: ["choose the tone", "decide how much friendliness to express", "choose greetings and sign-offs"],
        forbidden: ["simulating intimacy or friendship to build attachment", "flattery to gain compliance", "withdrawing warmth as a form of pressure"]),
    axis!("formality", Social,
        "How formal the user wants the language to be.",
        "Casual", "Formal",
        intent: ["choose the register of language", "decide on forms of address", "choose between technical and everyday wording"],
        forbidden: ["inferring social status or background", "judging education or class", "treating informal users with less care"]),
    axis!("boundary_strength", Social,
        "How firmly the user wants the assistant to hold limits and not over-accommodate.",
        "Flexible, accommodating", "Firm limits expected",
        intent: ["maintain firm boundaries", "decline scope creep politely", "restate limits when asked to exceed them"],
        forbidden: ["refusing legitimate requests", "lecturing the user", "using limits as a pretext to avoid work"]),
    axis!("assertiveness", Social,
        "How directly the user wants disagreement and pushback expressed.",
        "Gentle, indirect pushback", "Blunt disagreement welcome",
        intent: ["calibrate how disagreement is phrased", "decide how firmly to state a recommendation", "decide how to push back on a mistake"],
        forbidden: ["pressuring the user", "overriding the user's decisions", "belittling the user's view"]),
    axis!("reciprocity_expectation", Social,
        "How much the user expects a back-and-forth conversational exchange.",
        "One-way answers are fine", "Expects a conversation",
        intent: ["decide whether to ask follow-up questions", "decide whether to share reasoning unprompted", "match the user's level of give and take"],
        forbidden: ["prolonging conversations for engagement", "inducing a sense of obligation", "asking for personal information in return"]),
    // Preferences
    axis!("ritual_need", Preferences,
        "How much the user values greetings, sign-offs and other conversational ritual.",
        "Skip the ceremony", "Values greetings and closings",
        intent: ["include or omit ceremonial gestures", "decide on greetings, thanks and closings", "keep familiar openings and summaries"],
        forbidden: ["flattery", "manufacturing emotional bonds", "using rituals to delay answers"]),
    axis!("transactional_preference", Preferences,
        "How strictly the user wants task-only exchanges.",
        "Open to relationship-building", "Task only",
        intent: ["keep interactions task-focused", "skip small talk", "end once the task is done"],
        forbidden: ["upselling", "cutting short help the user still needs", "treating the user as a sale"]),
    axis!("verbosity_preference", Preferences,
        "How long the user wants responses to be.",
        "As short as possible", "Long and detailed",
        intent: ["set the response length", "decide how many examples to give", "decide whether to summarise first"],
        forbidden: ["hiding important caveats to stay short", "padding answers to look thorough", "omitting risks the user should know"]),
    axis!("directness_preference", Preferences,
        "How plainly the user wants things stated.",
        "Diplomatic, softened", "Plain and direct",
        intent: ["choose how plainly to state things", "decide whether to soften bad news", "decide whether to lead with the conclusion"],
        forbidden: ["being rude", "harshness presented as honesty", "hiding uncertainty behind blunt claims"]),
    // Control
    axis!("autonomy_preference", Control,
        "How much the user wants to make decisions themselves.",
        "Happy to delegate", "Wants to decide everything",
        intent: ["present options rather than decisions", "explain trade-offs so the user can choose", "ask before acting"],
        forbidden: ["acting on the user's behalf without approval", "nudging through defaults chosen for someone else", "withholding options"]),
    axis!("suggestion_tolerance", Control,
        "How welcome unrequested suggestions are.",
        "Only answer what was asked", "Suggestions welcome",
        intent: ["decide whether to make proactive suggestions", "decide how many suggestions to offer", "decide when to mention alternatives"],
        forbidden: ["inserting promotional suggestions", "repeating suggestions the user declined", "nagging"]),
    axis!("interruption_tolerance", Control,
        "How acceptable it is to interrupt the user's flow.",
        "Never interrupt", "Interruptions are fine",
        intent: ["decide when to interject", "decide whether to raise issues mid-task", "batch remarks for natural pauses"],
        forbidden: ["interrupting to drive engagement", "staying silent about a safety problem", "cutting the user off"]),
    axis!("reflection_vs_action_bias", Control,
        "Whether the user wants time to think or prefers to move to action.",
        "Wants time to reflect", "Wants to act now",
        intent: ["pace the conversation", "decide whether to propose next actions", "decide how much room to leave for thinking"],
        forbidden: ["persuading during reflection time", "rushing decisions", "stalling a user who wants to act"]),
    // Safety
    axis!("stakes_awareness", Safety,
        "How consequential the user considers the matter.",
        "Low stakes", "High stakes",
        intent: ["be careful and thorough", "double-check facts and figures", "point out risks and irreversible steps", "suggest expert review where it matters"],
        forbidden: ["inflating risk to sell protection", "scaring the user", "refusing to help because the stakes are high"]),
    axis!("privacy_sensitivity", Safety,
        "How much the user wants to limit what is collected or repeated about them.",
        "Relaxed about data", "Very private",
        intent: ["minimise data collection and repetition of personal details", "avoid asking for identifying information", "explain why any personal data is needed"],
        forbidden: ["collecting additional personal data", "sharing details across contexts", "profiling the user"]),
];

/// The longest axis name.
pub const MAX_AXIS_NAME_CHARS: usize = 64;

/// Whether `name` is a well-formed axis name, as upstream has it: 1-64 characters of
/// `a-z`, `0-9` and `_`, neither starting nor ending with `_`. A well-formed name that is
/// not canonical is a custom axis: stored and passed through, with no governance entry
/// and no translation rules.
pub fn is_valid_axis_name(name: &str) -> bool {
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_';
    (1..=MAX_AXIS_NAME_CHARS).contains(&name.len())
        && name.chars().all(allowed)
        && !name.starts_with('_')
        && !name.ends_with('_')
}

/// The canonical axis called `name`.
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
            // Enough to audit a use against: several intents and several forbidden uses.
            assert!(a.intent.len() >= 3 && a.forbidden_uses.len() >= 3, "{}", a.name);
            assert!(!a.description.is_empty() && !a.low_anchor.is_empty() && !a.high_anchor.is_empty());
        }
    }

    #[test]
    fn axis_names_follow_upstreams_rule() {
        for good in ["warmth", "mood", "a", "x2", "focus_level", &"a".repeat(64)] {
            assert!(is_valid_axis_name(good), "{good}");
        }
        for bad in ["", "_mood", "mood_", "Mood", "mood level", "mood-level", "émotion", &"a".repeat(65)] {
            assert!(!is_valid_axis_name(bad), "{bad}");
        }
        assert!(CANONICAL_AXES.iter().all(|a| is_valid_axis_name(a.name)));
    }

    #[test]
    fn unknown_axis_is_not_found() {
        assert_eq!(get_axis("mood").unwrap_err().code, ErrorCode::NotFound);
        assert_eq!(get_axis("warmth").unwrap().category, Category::Social);
    }
}
