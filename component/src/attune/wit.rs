//! The `attune`, `attune-service` and `attune-client` interfaces over [`crate::attune`].

use crate::wit::exports::agentcell::core::attune as w;
use crate::wit::{now_ms, wit_result, wit_types, Component, HostStorage};

fn category(c: crate::attune::Category) -> w::Category {
    use crate::attune::Category as C;
    match c {
        C::Cognitive => w::Category::Cognitive,
        C::Emotional => w::Category::Emotional,
        C::Social => w::Category::Social,
        C::Preferences => w::Category::Preferences,
        C::Control => w::Category::Control,
        C::Safety => w::Category::Safety,
    }
}

fn wit_axis(a: &crate::attune::Axis) -> w::Axis {
    w::Axis {
        name: a.name.into(),
        category: category(a.category),
        description: a.description.into(),
        low_anchor: a.low_anchor.into(),
        high_anchor: a.high_anchor.into(),
        intent: a.intent.iter().map(|s| s.to_string()).collect(),
        forbidden_uses: a.forbidden_uses.iter().map(|s| s.to_string()).collect(),
        since: a.since.into(),
        deprecated: a.deprecated.as_ref().map(|d| w::Deprecation {
            since: d.since.into(),
            reason: d.reason.into(),
            replacement: d.replacement.map(str::to_string),
        }),
    }
}

fn source_from(s: w::Source) -> crate::attune::Source {
    use crate::attune::Source as S;
    match s {
        w::Source::SelfReport => S::SelfReport,
        w::Source::Inferred => S::Inferred,
        w::Source::Mixed => S::Mixed,
    }
}

fn source_to(s: crate::attune::Source) -> w::Source {
    use crate::attune::Source as S;
    match s {
        S::SelfReport => w::Source::SelfReport,
        S::Inferred => w::Source::Inferred,
        S::Mixed => w::Source::Mixed,
    }
}

fn snapshot_from(s: w::Snapshot) -> crate::error::Result<crate::attune::Snapshot> {
    crate::attune::Snapshot {
        user_id: s.user_id,
        updated_at_unix_ms: s.updated_at_unix_ms,
        source: source_from(s.source),
        confidence: s.confidence,
        axes: s.axes.into_iter().map(|a| (a.name, a.value)).collect(),
    }
    .validated(now_ms())
}

fn snapshot_to(s: crate::attune::Snapshot) -> w::Snapshot {
    w::Snapshot {
        user_id: s.user_id,
        updated_at_unix_ms: s.updated_at_unix_ms,
        source: source_to(s.source),
        confidence: s.confidence,
        axes: s.axes.into_iter().map(|(name, value)| w::AxisValue { name, value }).collect(),
    }
}

fn thresholds(t: Option<w::Thresholds>) -> crate::error::Result<crate::attune::Thresholds> {
    t.map(|t| crate::attune::Thresholds { hi: t.hi, lo: t.lo }).unwrap_or_default().validated()
}

use crate::attune::infer;

fn features_to(f: infer::LinguisticFeatures) -> w::LinguisticFeatures {
    w::LinguisticFeatures {
        word_count: f.word_count,
        sentence_count: f.sentence_count,
        avg_word_length: f.avg_word_length,
        avg_sentence_length: f.avg_sentence_length,
        reading_grade: f.reading_grade,
        hedge_count: f.hedge_count,
        certainty_count: f.certainty_count,
        negative_emotion_count: f.negative_emotion_count,
        absolutist_count: f.absolutist_count,
        urgency_count: f.urgency_count,
        imperative_count: f.imperative_count,
        politeness_count: f.politeness_count,
        first_person_count: f.first_person_count,
        caps_ratio: f.caps_ratio,
        exclamation_ratio: f.exclamation_ratio,
        question_ratio: f.question_ratio,
        complexity: f.complexity,
        emotional_intensity: f.emotional_intensity,
        uncertainty: f.uncertainty,
        anxiety: f.anxiety,
        urgency: f.urgency,
        formality: f.formality,
    }
}

fn inferred_to(s: infer::InferredState) -> w::InferredState {
    let estimates = s.estimates.into_iter().map(|e| w::AxisEstimate {
        axis: e.axis,
        value: e.value,
        confidence: e.confidence,
        variance: e.variance,
        source: e.source,
        features: e.features,
    });
    w::InferredState { estimates: estimates.collect() }
}

fn inferred_from(s: w::InferredState) -> infer::InferredState {
    let estimates = s.estimates.into_iter().map(|e| infer::AxisEstimate {
        axis: e.axis,
        value: e.value,
        confidence: e.confidence,
        variance: e.variance,
        source: e.source,
        features: e.features,
    });
    infer::InferredState { estimates: estimates.collect() }
}

fn context_from(c: w::PromptContext) -> crate::attune::PromptContext {
    use crate::attune::Verbosity as V;
    crate::attune::PromptContext {
        guidelines: c.guidelines,
        tone: c.tone,
        verbosity: match c.verbosity {
            w::Verbosity::Low => V::Low,
            w::Verbosity::Medium => V::Medium,
            w::Verbosity::High => V::High,
        },
        flags: c.flags,
    }
}

fn context_to(c: crate::attune::PromptContext) -> w::PromptContext {
    use crate::attune::Verbosity as V;
    w::PromptContext {
        guidelines: c.guidelines,
        tone: c.tone,
        verbosity: match c.verbosity {
            V::Low => w::Verbosity::Low,
            V::Medium => w::Verbosity::Medium,
            V::High => w::Verbosity::High,
        },
        flags: c.flags,
    }
}

impl w::Guest for Component {
    fn axes() -> Vec<w::Axis> {
        crate::attune::CANONICAL_AXES.iter().map(wit_axis).collect()
    }
    fn get_axis(name: String) -> Result<w::Axis, wit_types::Error> {
        wit_result(crate::attune::get_axis(&name).map(wit_axis))
    }
    fn is_valid_axis_name(name: String) -> bool {
        crate::attune::axes::is_valid_axis_name(&name)
    }
    fn validate(snapshot: w::Snapshot) -> Result<w::Snapshot, wit_types::Error> {
        wit_result(snapshot_from(snapshot).map(snapshot_to))
    }
    fn translate(
        snapshot: w::Snapshot,
        thresholds: Option<w::Thresholds>,
    ) -> Result<w::PromptContext, wit_types::Error> {
        wit_result((|| {
            let t = self::thresholds(thresholds)?;
            Ok(context_to(crate::attune::translator::translate(&snapshot_from(snapshot)?, t)))
        })())
    }
    fn translate_batch(
        snapshots: Vec<w::Snapshot>,
        thresholds: Option<w::Thresholds>,
    ) -> Result<Vec<w::PromptContext>, wit_types::Error> {
        wit_result((|| {
            let t = self::thresholds(thresholds)?;
            snapshots
                .into_iter()
                .map(|s| Ok(context_to(crate::attune::translator::translate(&snapshot_from(s)?, t))))
                .collect()
        })())
    }
    fn translate_batch_json(
        snapshots: String,
        thresholds: Option<w::Thresholds>,
    ) -> Result<String, wit_types::Error> {
        wit_result(
            self::thresholds(thresholds)
                .and_then(|t| crate::attune::wire::translate_batch_json(&snapshots, t, now_ms())),
        )
    }
    fn upsert_state(snapshot: w::Snapshot) -> Result<w::Snapshot, wit_types::Error> {
        wit_result(
            snapshot_from(snapshot)
                .and_then(|s| crate::attune::store::upsert(&HostStorage, s))
                .map(snapshot_to),
        )
    }
    fn get_state(user_id: String) -> Result<w::Snapshot, wit_types::Error> {
        wit_result(crate::attune::store::get(&HostStorage, &user_id).map(snapshot_to))
    }
    fn delete_state(user_id: String) -> Result<bool, wit_types::Error> {
        wit_result(crate::attune::store::delete(&HostStorage, &user_id))
    }
    fn extract_features(text: String) -> Result<w::LinguisticFeatures, wit_types::Error> {
        wit_result(infer::extract_features(&text).map(features_to))
    }
    fn infer(text: String, confidence_cap: Option<f32>) -> Result<w::InferredState, wit_types::Error> {
        let cap = confidence_cap.unwrap_or(infer::DEFAULT_CONFIDENCE_CAP);
        wit_result(infer::infer(&text, cap).map(inferred_to))
    }
    fn infer_batch_json(texts: String, confidence_cap: Option<f32>) -> Result<String, wit_types::Error> {
        let cap = confidence_cap.unwrap_or(infer::DEFAULT_CONFIDENCE_CAP);
        wit_result((|| {
            let texts: Vec<String> = serde_json::from_str(&texts).map_err(|e| {
                crate::error::Error::invalid("texts", format_args!("must be a JSON array of strings ({e})"))
            })?;
            infer::infer_batch_json(&texts, cap)
        })())
    }
    fn combine(
        prior: w::InferredState,
        update: w::InferredState,
        confidence_cap: Option<f32>,
    ) -> Result<w::InferredState, wit_types::Error> {
        let cap = confidence_cap.unwrap_or(infer::DEFAULT_CONFIDENCE_CAP);
        wit_result(infer::combine(&inferred_from(prior), &inferred_from(update), cap).map(inferred_to))
    }
    fn deltas(baseline: w::InferredState, current: w::InferredState) -> Vec<(String, f32)> {
        infer::deltas(&inferred_from(baseline), &inferred_from(current))
    }
    fn format_for_prompt(context: w::PromptContext) -> String {
        crate::attune::translator::format_for_prompt(&context_from(context))
    }
    fn get_context(
        user_id: String,
        thresholds: Option<w::Thresholds>,
    ) -> Result<w::PromptContext, wit_types::Error> {
        wit_result((|| {
            let t = self::thresholds(thresholds)?;
            let s = crate::attune::store::get(&HostStorage, &user_id)?;
            Ok(context_to(crate::attune::translator::translate(&s, t)))
        })())
    }
}

pub(crate) mod service_glue {
    use super::*;
    use crate::attune::service::{self, Refusal};
    use crate::wit::exports::agentcell::core::attune_service as s;

    /// The domain form of a WIT refusal (the AI Spine API words the same refusals).
    pub(crate) fn refusal_from(reason: s::Refusal) -> Refusal {
        match reason {
            s::Refusal::MissingKey => Refusal::MissingKey,
            s::Refusal::UnknownKey => Refusal::UnknownKey,
            s::Refusal::RateLimited(n) => Refusal::RateLimited(n),
            s::Refusal::PayloadTooLarge(n) => Refusal::PayloadTooLarge(n),
            s::Refusal::NotUtf8 => Refusal::NotUtf8,
            s::Refusal::AuthThrottled(n) => Refusal::AuthThrottled(n),
            s::Refusal::RequestTimeout(n) => Refusal::RequestTimeout(n),
            s::Refusal::UriTooLong(n) => Refusal::UriTooLong(n),
            s::Refusal::HeadersTooLarge(n) => Refusal::HeadersTooLarge(n),
            s::Refusal::MalformedRequest(m) => Refusal::MalformedRequest(m),
            s::Refusal::TooManyConnections(n) => Refusal::TooManyConnections(n),
            s::Refusal::ShuttingDown => Refusal::ShuttingDown,
            s::Refusal::Internal(m) => Refusal::Internal(m),
        }
    }

    impl s::Guest for Component {
        fn handle(req: s::ServiceRequest) -> s::ServiceResponse {
            let content_type = req.content_type.as_deref();
            let (status, body) =
                service::handle(&HostStorage, &req.method, &req.path, content_type, &req.body, now_ms);
            s::ServiceResponse { status, body }
        }
        fn public_paths() -> Vec<String> {
            service::PUBLIC_PATHS.iter().map(|p| p.to_string()).collect()
        }
        fn writer(req: s::ServiceRequest) -> Option<String> {
            service::writer(&req.method, &req.path, &req.body)
        }
        fn refuse(reason: s::Refusal) -> s::ServiceResponse {
            let reason = refusal_from(reason);
            let (status, body) = service::refuse(&reason);
            s::ServiceResponse { status, body }
        }
    }
}

mod client_glue {
    use super::*;
    use crate::attune::client::{self, ClientConfig, ClientResult, Operation, Outcome};
    use crate::wit::exports::agentcell::core::attune_client as c;
    use crate::wit::{http_error_from_wit, request_to_wit, response_from_wit, wit_http};

    fn config(c: c::ClientConfig) -> ClientConfig {
        ClientConfig {
            base_url: c.base_url,
            api_key: c.api_key,
            max_retries: c.max_retries,
            timeout_ms: c.timeout_ms,
        }
    }

    fn operation(op: c::Operation) -> crate::error::Result<Operation> {
        Ok(match op {
            c::Operation::UpsertState(s) => Operation::UpsertState(snapshot_from(s)?),
            c::Operation::GetState(u) => Operation::GetState(u),
            c::Operation::DeleteState(u) => Operation::DeleteState(u),
            c::Operation::GetContext(u) => Operation::GetContext(u),
            c::Operation::Translate(s) => Operation::Translate(snapshot_from(s)?),
            c::Operation::Health => Operation::Health,
        })
    }

    impl c::Guest for Component {
        fn prepare(cfg: c::ClientConfig, op: c::Operation) -> Result<wit_http::Request, wit_types::Error> {
            wit_result(
                operation(op).and_then(|op| client::prepare(&config(cfg), &op)).map(|r| request_to_wit(&r)),
            )
        }

        fn interpret(
            cfg: c::ClientConfig,
            op: c::Operation,
            attempt: u32,
            answer: Result<wit_http::Response, wit_http::HttpError>,
        ) -> Result<c::ClientOutcome, wit_types::Error> {
            let answer = answer.map_err(http_error_from_wit).and_then(response_from_wit);
            let outcome = operation(op).and_then(|op| client::interpret(&config(cfg), &op, attempt, answer));
            wit_result(outcome.map(|o| match o {
                Outcome::Retry(ms) => c::ClientOutcome::Retry(ms),
                Outcome::Done(r) => c::ClientOutcome::Done(match r {
                    ClientResult::Stored => c::ClientResult::Stored,
                    ClientResult::Deleted => c::ClientResult::Deleted,
                    ClientResult::Health(s) => c::ClientResult::Health(s),
                    ClientResult::State(s) => c::ClientResult::State(snapshot_to(s)),
                    ClientResult::Context(ctx) => c::ClientResult::Context(context_to(ctx)),
                }),
            }))
        }
    }
}
