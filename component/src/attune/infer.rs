//! Inference of axes from a message's text: linguistic features, then estimates that
//! each declare their source, the features they used and a capped confidence, combined
//! over a history by a precision-weighted (Bayesian) update. Deterministic: the same
//! text always gives the same estimates. Our own lexicons and formulas, documented here
//! and in docs/attune.md; a self report always outranks an inference (the store's
//! merge rule), so these estimates never override what a user said.
//!
//! Features: words are maximal runs of letters, digits and apostrophes (any script),
//! sentences end at `.`, `!` or `?` (a text with words and no terminator is one
//! sentence). `rate(x) = x / words`. Reading grade is Flesch-Kincaid
//! (`0.39 * words/sentences + 11.8 * syllables/words - 15.59`, syllables counted as
//! vowel groups, at least one a word), clamped to [0, 20].
//!
//! Derived scores, each clamped to [0, 1]:
//! - complexity = (grade - 2) / 14
//! - uncertainty = 12 rate(hedges) - 6 rate(certainty) + 0.25 min(1, questions/sentences)
//! - emotional intensity = 10 rate(negative) + 8 rate(absolutist)
//!   + 0.5 min(1, exclamations/sentences) + 1.5 caps ratio
//! - anxiety = 0.6 min(1, 15 rate(negative)) + 0.4 uncertainty
//! - urgency = 15 rate(urgency) + 0.3 min(1, exclamations/sentences)
//!   + 0.2 imperatives/sentences
//! - formality = 0.5 + 8 rate(politeness) + 0.08 (average word length - 4.5)
//!   - 2 rate(first person) - 0.5 caps ratio - 0.2 min(1, exclamations/sentences)
//!
//! Estimates (value = score): anxiety_level = anxiety, urgency_sensitivity = urgency,
//! formality = formality, tolerance_for_complexity = complexity, emotional_stability =
//! 1 - emotional intensity. Confidence = min(cap, 0.15 + 0.55 (1 - e^(-words/50))): more
//! text, more confidence, never above the cap (0.7 by default, upstream's); variance =
//! 0.25 (1 - confidence). An empty text gives no estimates.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// The longest text inferred from.
pub const MAX_TEXT_BYTES: usize = 1024 * 1024;
/// The default cap on an inferred confidence, as upstream's.
pub const DEFAULT_CONFIDENCE_CAP: f32 = 0.7;
/// Every estimate's source.
pub const SOURCE: &str = "inferred";

const HEDGES: &[&str] = &[
    "maybe",
    "perhaps",
    "possibly",
    "might",
    "probably",
    "seems",
    "seem",
    "guess",
    "unsure",
    "apparently",
    "somewhat",
    "roughly",
    "suppose",
];
/// Two-word hedges, matched on consecutive words.
const HEDGE_PAIRS: &[(&str, &str)] = &[("i", "think"), ("not", "sure"), ("kind", "of"), ("sort", "of")];
const CERTAINTY: &[&str] = &[
    "definitely",
    "certainly",
    "clearly",
    "obviously",
    "undoubtedly",
    "surely",
    "sure",
    "certain",
    "absolutely",
];
const NEGATIVE: &[&str] = &[
    "worried",
    "worry",
    "anxious",
    "afraid",
    "scared",
    "nervous",
    "upset",
    "stressed",
    "stress",
    "frustrated",
    "angry",
    "sad",
    "panic",
    "panicking",
    "overwhelmed",
    "terrible",
    "awful",
    "fear",
    "hate",
    "hurt",
    "lost",
    "confused",
    "desperate",
    "miserable",
    "dread",
];
const ABSOLUTIST: &[&str] = &[
    "always",
    "never",
    "nothing",
    "everything",
    "completely",
    "totally",
    "entirely",
    "all",
    "every",
    "none",
    "nobody",
    "everyone",
];
const URGENCY: &[&str] = &[
    "asap",
    "urgent",
    "urgently",
    "immediately",
    "now",
    "quickly",
    "hurry",
    "deadline",
    "emergency",
    "today",
    "fast",
    "soon",
    "critical",
];
/// Verbs that start an imperative sentence.
const IMPERATIVE: &[&str] = &[
    "do", "make", "give", "tell", "show", "send", "fix", "stop", "help", "explain", "write", "list", "find",
    "check", "let", "get", "call", "go", "put", "update", "add", "remove",
];
const POLITENESS: &[&str] =
    &["please", "thank", "thanks", "appreciate", "kindly", "sorry", "regards", "grateful", "pardon"];
const FIRST_PERSON: &[&str] = &["i", "me", "my", "mine", "myself", "i'm", "i've", "i'd", "i'll"];

// Each word is looked up once, in one table of the lexicons above (a word may be in
// several: "sure" is certainty, "now" urgency).
const IS_HEDGE: u8 = 1;
const IS_CERTAINTY: u8 = 2;
const IS_NEGATIVE: u8 = 4;
const IS_ABSOLUTIST: u8 = 8;
const IS_URGENCY: u8 = 16;
const IS_IMPERATIVE: u8 = 32;
const IS_POLITENESS: u8 = 64;
const IS_FIRST_PERSON: u8 = 128;

fn lexicon() -> &'static rustc_hash::FxHashMap<&'static str, u8> {
    static TABLE: std::sync::OnceLock<rustc_hash::FxHashMap<&'static str, u8>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let mut table = rustc_hash::FxHashMap::default();
        let lists: [(&[&str], u8); 8] = [
            (HEDGES, IS_HEDGE),
            (CERTAINTY, IS_CERTAINTY),
            (NEGATIVE, IS_NEGATIVE),
            (ABSOLUTIST, IS_ABSOLUTIST),
            (URGENCY, IS_URGENCY),
            (IMPERATIVE, IS_IMPERATIVE),
            (POLITENESS, IS_POLITENESS),
            (FIRST_PERSON, IS_FIRST_PERSON),
        ];
        for (words, bit) in lists {
            for w in words {
                *table.entry(*w).or_insert(0) |= bit;
            }
        }
        table
    })
}

/// What a text is made of, counted and scored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinguisticFeatures {
    pub word_count: u32,
    pub sentence_count: u32,
    pub avg_word_length: f32,
    pub avg_sentence_length: f32,
    pub reading_grade: f32,
    pub hedge_count: u32,
    pub certainty_count: u32,
    pub negative_emotion_count: u32,
    pub absolutist_count: u32,
    pub urgency_count: u32,
    pub imperative_count: u32,
    pub politeness_count: u32,
    pub first_person_count: u32,
    pub caps_ratio: f32,
    pub exclamation_ratio: f32,
    pub question_ratio: f32,
    pub complexity: f32,
    pub emotional_intensity: f32,
    pub uncertainty: f32,
    pub anxiety: f32,
    pub urgency: f32,
    pub formality: f32,
}

/// One axis estimated from text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AxisEstimate {
    pub axis: String,
    pub value: f32,
    pub confidence: f32,
    pub variance: f32,
    pub source: String,
    /// The features the estimate was computed from.
    pub features: Vec<String>,
}

/// The estimates of one text, or of a history of texts combined.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct InferredState {
    pub estimates: Vec<AxisEstimate>,
}

fn clamp01(x: f32) -> f32 {
    if x.is_nan() {
        0.0
    } else {
        x.clamp(0.0, 1.0)
    }
}

fn syllables(word: &str) -> u32 {
    let mut count = 0;
    let mut in_vowel = false;
    for c in word.chars() {
        let vowel = matches!(c, 'a' | 'e' | 'i' | 'o' | 'u' | 'y');
        if vowel && !in_vowel {
            count += 1;
        }
        in_vowel = vowel;
    }
    count.max(1)
}

/// Checks a text's size.
pub fn check_text(text: &str) -> Result<()> {
    if text.len() > MAX_TEXT_BYTES {
        return Err(Error::invalid("text", format_args!("must be at most {MAX_TEXT_BYTES} bytes")));
    }
    Ok(())
}

/// The features of `text`.
pub fn extract_features(text: &str) -> Result<LinguisticFeatures> {
    check_text(text)?;
    let mut words = 0u32;
    let mut letters = 0u32;
    let mut upper = 0u32;
    let mut word_chars = 0u32;
    let mut syllable_total = 0u32;
    let (mut hedges, mut certainty, mut negative, mut absolutist) = (0u32, 0u32, 0u32, 0u32);
    let (mut urgency, mut imperatives, mut politeness, mut first_person) = (0u32, 0u32, 0u32, 0u32);
    let (mut sentences, mut exclamations, mut questions) = (0u32, 0u32, 0u32);
    let mut sentence_open = false; // a sentence has words and no terminator yet
    let mut sentence_start = true; // the next word is a sentence's first
    let table = lexicon();
    let mut previous = String::new();
    let mut word = String::new();
    let mut finish_word = |word: &mut String, previous: &mut String, sentence_start: &mut bool| {
        if word.is_empty() {
            return;
        }
        let w = word.as_str();
        words += 1;
        word_chars += w.chars().count() as u32;
        syllable_total += syllables(w);
        let kinds = table.get(w).copied().unwrap_or(0);
        let is = |bit: u8| u32::from(kinds & bit != 0);
        hedges += is(IS_HEDGE);
        hedges += u32::from(HEDGE_PAIRS.iter().any(|(a, b)| *a == previous.as_str() && *b == w));
        certainty += is(IS_CERTAINTY);
        negative += is(IS_NEGATIVE);
        absolutist += is(IS_ABSOLUTIST);
        urgency += is(IS_URGENCY);
        politeness += is(IS_POLITENESS);
        first_person += is(IS_FIRST_PERSON);
        if *sentence_start {
            imperatives += is(IS_IMPERATIVE);
            *sentence_start = false;
        }
        std::mem::swap(previous, word);
        word.clear();
    };
    for c in text.chars() {
        if c.is_alphanumeric() || c == '\'' {
            if c.is_alphabetic() {
                letters += 1;
                upper += u32::from(c.is_uppercase());
            }
            match c.is_ascii() {
                true => word.push(c.to_ascii_lowercase()),
                false => word.extend(c.to_lowercase()),
            }
            sentence_open = true;
            continue;
        }
        finish_word(&mut word, &mut previous, &mut sentence_start);
        if matches!(c, '.' | '!' | '?') {
            exclamations += u32::from(c == '!');
            questions += u32::from(c == '?');
            if sentence_open {
                sentences += 1;
                sentence_open = false;
                sentence_start = true;
            }
        }
    }
    finish_word(&mut word, &mut previous, &mut sentence_start);
    if sentence_open {
        sentences += 1;
    }
    let per_word = |n: u32| if words == 0 { 0.0 } else { n as f32 / words as f32 };
    let per_sentence = |n: u32| if sentences == 0 { 0.0 } else { n as f32 / sentences as f32 };
    let avg_word_length = per_word(word_chars);
    let avg_sentence_length = per_sentence(words);
    let reading_grade = match words {
        0 => 0.0,
        _ => (0.39 * avg_sentence_length + 11.8 * per_word(syllable_total) - 15.59).clamp(0.0, 20.0),
    };
    let caps_ratio = if letters == 0 { 0.0 } else { upper as f32 / letters as f32 };
    let exclamation_ratio = per_sentence(exclamations);
    let question_ratio = per_sentence(questions);
    let uncertainty =
        clamp01(12.0 * per_word(hedges) - 6.0 * per_word(certainty) + 0.25 * question_ratio.min(1.0));
    let emotional_intensity = clamp01(
        10.0 * per_word(negative)
            + 8.0 * per_word(absolutist)
            + 0.5 * exclamation_ratio.min(1.0)
            + 1.5 * caps_ratio,
    );
    let formality = if words == 0 {
        0.5
    } else {
        clamp01(
            0.5 + 8.0 * per_word(politeness) + 0.08 * (avg_word_length - 4.5)
                - 2.0 * per_word(first_person)
                - 0.5 * caps_ratio
                - 0.2 * exclamation_ratio.min(1.0),
        )
    };
    Ok(LinguisticFeatures {
        word_count: words,
        sentence_count: sentences,
        avg_word_length,
        avg_sentence_length,
        reading_grade,
        hedge_count: hedges,
        certainty_count: certainty,
        negative_emotion_count: negative,
        absolutist_count: absolutist,
        urgency_count: urgency,
        imperative_count: imperatives,
        politeness_count: politeness,
        first_person_count: first_person,
        caps_ratio,
        exclamation_ratio,
        question_ratio,
        complexity: clamp01((reading_grade - 2.0) / 14.0),
        emotional_intensity,
        uncertainty,
        anxiety: clamp01(0.6 * (15.0 * per_word(negative)).min(1.0) + 0.4 * uncertainty),
        urgency: clamp01(
            15.0 * per_word(urgency) + 0.3 * exclamation_ratio.min(1.0) + 0.2 * per_sentence(imperatives),
        ),
        formality,
    })
}

/// Checks a confidence cap: in (0, 1].
pub fn check_cap(cap: f32) -> Result<f32> {
    if !(cap > 0.0 && cap <= 1.0) {
        return Err(Error::invalid("confidence_cap", format_args!("must be in (0, 1], got {cap}")));
    }
    Ok(cap)
}

/// The axes a text is inferred on, in order, with the features each is computed from.
const INFERRED: [(&str, &[&str]); 5] = [
    ("anxiety_level", &["negative_emotion_count", "hedge_count", "question_ratio"]),
    ("urgency_sensitivity", &["urgency_count", "exclamation_ratio", "imperative_count"]),
    ("formality", &["politeness_count", "avg_word_length", "caps_ratio"]),
    ("tolerance_for_complexity", &["reading_grade"]),
    (
        "emotional_stability",
        &["negative_emotion_count", "absolutist_count", "exclamation_ratio", "caps_ratio"],
    ),
];

/// A text's estimates as numbers: the value of each axis of `INFERRED` and the one
/// confidence they share; `None` for a text without words.
fn scores(text: &str, cap: f32) -> Result<Option<([f32; 5], f32)>> {
    let f = extract_features(text)?;
    if f.word_count == 0 {
        return Ok(None);
    }
    let evidence = 1.0 - (-(f.word_count as f32) / 50.0).exp();
    let confidence = (0.15 + 0.55 * evidence).min(cap);
    let values = [f.anxiety, f.urgency, f.formality, f.complexity, 1.0 - f.emotional_intensity].map(clamp01);
    Ok(Some((values, confidence)))
}

fn variance(confidence: f32) -> f32 {
    0.25 * (1.0 - confidence)
}

/// The estimates a text gives, each with a confidence of at most `cap`.
pub fn infer(text: &str, cap: f32) -> Result<InferredState> {
    let cap = check_cap(cap)?;
    let Some((values, confidence)) = scores(text, cap)? else { return Ok(InferredState::default()) };
    let estimates = INFERRED
        .iter()
        .zip(values)
        .map(|((axis, features), value)| AxisEstimate {
            axis: axis.to_string(),
            value,
            confidence,
            variance: variance(confidence),
            source: SOURCE.to_string(),
            features: features.iter().map(|f| f.to_string()).collect(),
        })
        .collect();
    Ok(InferredState { estimates })
}

/// `infer` of many texts, in the compact JSON form the WIT's `infer-batch-json`
/// documents: the catalogue of (axis, source, features) once, then per text its
/// estimates as `[catalogue index, value, confidence, variance]`.
pub fn infer_batch_json(texts: &[String], cap: f32) -> Result<String> {
    #[derive(Serialize)]
    struct Entry<'a> {
        axis: &'a str,
        source: &'a str,
        features: &'a [&'a str],
    }
    #[derive(Serialize)]
    struct Batch<'a> {
        catalogue: Vec<Entry<'a>>,
        states: Vec<Vec<(usize, f32, f32, f32)>>,
    }
    let cap = check_cap(cap)?;
    let catalogue: Vec<Entry> =
        INFERRED.iter().map(|(axis, features)| Entry { axis, source: SOURCE, features }).collect();
    let mut states = Vec::with_capacity(texts.len());
    for text in texts {
        states.push(match scores(text, cap)? {
            None => Vec::new(),
            Some((values, c)) => values.iter().enumerate().map(|(i, v)| (i, *v, c, variance(c))).collect(),
        });
    }
    Ok(serde_json::to_string(&Batch { catalogue, states }).expect("estimates serialise"))
}

/// A history's estimates updated with a new text's: for an axis in both, the
/// precision-weighted mean (`v = 1 / (1/v0 + 1/v1)`, `m = v (m0/v0 + m1/v1)`), the
/// confidence that variance implies (`1 - v / 0.25`) capped, and the features of both;
/// an axis in one only is kept as it is. Estimates come out sorted by axis.
pub fn combine(prior: &InferredState, update: &InferredState, cap: f32) -> Result<InferredState> {
    let cap = check_cap(cap)?;
    let mut out: std::collections::BTreeMap<String, AxisEstimate> =
        prior.estimates.iter().map(|e| (e.axis.clone(), e.clone())).collect();
    for new in &update.estimates {
        let merged = match out.get(&new.axis) {
            None => new.clone(),
            Some(old) => {
                let (v0, v1) = (old.variance.max(1e-6), new.variance.max(1e-6));
                let variance = 1.0 / (1.0 / v0 + 1.0 / v1);
                let value = clamp01(variance * (old.value / v0 + new.value / v1));
                let confidence = clamp01(1.0 - variance / 0.25).min(cap);
                let mut features = old.features.clone();
                features.extend(new.features.iter().filter(|f| !old.features.contains(f)).cloned());
                AxisEstimate {
                    axis: new.axis.clone(),
                    value,
                    confidence,
                    variance: 0.25 * (1.0 - confidence),
                    source: SOURCE.to_string(),
                    features,
                }
            }
        };
        out.insert(new.axis.clone(), merged);
    }
    Ok(InferredState { estimates: out.into_values().collect() })
}

/// How far each axis of `current` has moved from `baseline` (`current - baseline`), for
/// the axes both estimate, sorted by axis.
pub fn deltas(baseline: &InferredState, current: &InferredState) -> Vec<(String, f32)> {
    let mut out: Vec<(String, f32)> = current
        .estimates
        .iter()
        .filter_map(|c| {
            let b = baseline.estimates.iter().find(|b| b.axis == c.axis)?;
            Some((c.axis.clone(), c.value - b.value))
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(s: &InferredState, axis: &str) -> f32 {
        s.estimates.iter().find(|e| e.axis == axis).unwrap().value
    }

    #[test]
    fn features_are_counted_as_documented() {
        let f = extract_features("I think I'm worried. Please help me now! Is it ALWAYS like this?").unwrap();
        assert_eq!((f.word_count, f.sentence_count), (13, 3));
        assert_eq!((f.hedge_count, f.negative_emotion_count, f.politeness_count), (1, 1, 1));
        assert_eq!((f.urgency_count, f.absolutist_count, f.first_person_count), (1, 1, 3));
        assert_eq!(f.imperative_count, 0, "\"Please help\" starts with please");
        assert!(
            (f.exclamation_ratio - 1.0 / 3.0).abs() < 1e-6 && (f.question_ratio - 1.0 / 3.0).abs() < 1e-6
        );
        let f = extract_features("Fix it. Send the report.").unwrap();
        assert_eq!(f.imperative_count, 2);
        assert_eq!(extract_features("").unwrap().word_count, 0);
        assert_eq!(extract_features("no terminator here").unwrap().sentence_count, 1);
    }

    #[test]
    fn anxious_urgent_and_formal_texts_move_their_axes() {
        let calm = infer("The quarterly report is attached for your review.", 0.7).unwrap();
        let anxious =
            infer("I'm so worried and scared, maybe I did everything wrong? I'm not sure.", 0.7).unwrap();
        assert!(value(&anxious, "anxiety_level") > value(&calm, "anxiety_level") + 0.3);
        let urgent = infer("Fix this now! Urgent, deadline today!", 0.7).unwrap();
        assert!(value(&urgent, "urgency_sensitivity") > value(&calm, "urgency_sensitivity") + 0.3);
        let polite = infer("Would you kindly review the attached documentation? Thank you.", 0.7).unwrap();
        let casual = infer("lol i dunno man, my thing broke!!", 0.7).unwrap();
        assert!(value(&polite, "formality") > value(&casual, "formality"));
    }

    #[test]
    fn every_estimate_declares_its_source_and_features_and_the_cap_holds() {
        let long = "word ".repeat(5000);
        for cap in [0.7, 0.5, 0.1] {
            for text in ["short", "a few more words here", long.as_str()] {
                for e in infer(text, cap).unwrap().estimates {
                    assert_eq!(e.source, "inferred");
                    assert!(!e.features.is_empty());
                    assert!(e.confidence <= cap && e.confidence > 0.0, "{} {}", e.confidence, cap);
                    assert!((0.0..=1.0).contains(&e.value));
                }
            }
        }
        assert!(infer("x", 0.0).is_err() && infer("x", 1.5).is_err() && infer("x", f32::NAN).is_err());
    }

    /// Property: any text (random bytes as Unicode, up to the limit) infers without
    /// a panic, deterministically, with values and confidences in range.
    #[test]
    fn property_any_text_infers_deterministically_within_bounds() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let alphabet: Vec<char> = "aZ éß中😀 .!?'\n\t-_0".chars().collect();
        for len in [0usize, 1, 7, 100, 3000] {
            for _ in 0..30 {
                let text: String =
                    (0..len).map(|_| alphabet[(next() % alphabet.len() as u64) as usize]).collect();
                let a = infer(&text, 0.7).unwrap();
                assert_eq!(a, infer(&text, 0.7).unwrap());
                for e in &a.estimates {
                    assert!((0.0..=1.0).contains(&e.value) && e.confidence <= 0.7, "{text:?}: {e:?}");
                }
            }
        }
        let huge = "ü".repeat(MAX_TEXT_BYTES / 2);
        assert!(infer(&huge, 0.7).is_ok(), "1 MiB of Unicode is inferred");
        let too_big = "a".repeat(MAX_TEXT_BYTES + 1);
        assert_eq!(infer(&too_big, 0.7).unwrap_err().field.as_deref(), Some("text"));
    }

    #[test]
    fn combining_narrows_the_variance_and_never_passes_the_cap() {
        let a = infer("I am worried about this.", 0.7).unwrap();
        let b = infer("I am still worried and scared about everything.", 0.7).unwrap();
        let both = combine(&a, &b, 0.7).unwrap();
        for e in &both.estimates {
            let ea = a.estimates.iter().find(|x| x.axis == e.axis).unwrap();
            assert!(e.variance <= ea.variance && e.confidence <= 0.7);
            let lo = ea.value.min(value(&b, &e.axis)) - 1e-6;
            let hi = ea.value.max(value(&b, &e.axis)) + 1e-6;
            assert!((lo..=hi).contains(&e.value), "the mean lies between the two");
        }
        assert_eq!(combine(&InferredState::default(), &a, 0.7).unwrap().estimates.len(), 5);
        let d = deltas(&a, &b);
        assert_eq!(d.len(), 5);
        assert!(d.iter().find(|(axis, _)| axis == "anxiety_level").unwrap().1 >= 0.0);
    }
}
