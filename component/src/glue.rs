//! The only module that knows about WIT: maps WIT types to domain types and implements
//! the ports with the host imports. Compiled for wasm32 only.

wit_bindgen::generate!({
    world: "agentcell",
    path: "../wit",
});

use crate::error::{Error, ErrorCode};
use crate::ports::{self, HttpError, HttpRequest, HttpResponse, StorageError, SystemClock};
use agentcell::core::{http_client as wit_http, storage as wit_storage};
use exports::agentcell::core::types as wit_types;
use exports::agentcell::core::{bench, diagnostics, meta};

struct Component;
export!(Component);

impl From<Error> for wit_types::Error {
    fn from(e: Error) -> Self {
        let code = match e.code {
            ErrorCode::InvalidArgument => wit_types::ErrorCode::InvalidArgument,
            ErrorCode::NotFound => wit_types::ErrorCode::NotFound,
            ErrorCode::Storage => wit_types::ErrorCode::Storage,
            ErrorCode::HttpDenied => wit_types::ErrorCode::HttpDenied,
            ErrorCode::HttpTimeout => wit_types::ErrorCode::HttpTimeout,
            ErrorCode::HttpFailed => wit_types::ErrorCode::HttpFailed,
            ErrorCode::Internal => wit_types::ErrorCode::Internal,
            ErrorCode::Unauthorized => wit_types::ErrorCode::Unauthorized,
            ErrorCode::RateLimited => wit_types::ErrorCode::RateLimited,
            ErrorCode::ServerError => wit_types::ErrorCode::ServerError,
        };
        wit_types::Error { code, message: e.message, field: e.field, retry_after_ms: e.retry_after_ms }
    }
}

fn wit_result<T>(r: crate::error::Result<T>) -> Result<T, wit_types::Error> {
    r.map_err(Into::into)
}

/// [`ports::Storage`] over the WIT `storage` import.
struct HostStorage;

impl From<wit_storage::StorageError> for StorageError {
    fn from(e: wit_storage::StorageError) -> Self {
        match e {
            wit_storage::StorageError::InvalidKey(m) => StorageError::InvalidKey(m),
            wit_storage::StorageError::TooLarge(m) => StorageError::TooLarge(m),
            wit_storage::StorageError::Unavailable(m) => StorageError::Unavailable(m),
        }
    }
}

impl ports::Storage for HostStorage {
    fn get(&self, namespace: &str, key: &str) -> Result<Option<String>, StorageError> {
        Ok(wit_storage::get(namespace, key)?)
    }
    fn set(&self, namespace: &str, key: &str, value: &str) -> Result<(), StorageError> {
        Ok(wit_storage::set(namespace, key, value)?)
    }
    fn delete(&self, namespace: &str, key: &str) -> Result<bool, StorageError> {
        Ok(wit_storage::delete(namespace, key)?)
    }
    fn list_keys(
        &self,
        namespace: &str,
        prefix: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<(Vec<String>, Option<String>), StorageError> {
        let page = wit_storage::list_keys(namespace, prefix, cursor, limit)?;
        Ok((page.keys, page.cursor))
    }
    fn set_many(&self, namespace: &str, entries: &[(String, String)]) -> Result<(), StorageError> {
        Ok(wit_storage::set_many(namespace, entries)?)
    }
    fn delete_many(&self, namespace: &str, keys: &[String]) -> Result<u32, StorageError> {
        Ok(wit_storage::delete_many(namespace, keys)?)
    }
    fn compare_and_set(
        &self,
        namespace: &str,
        key: &str,
        expected: Option<&str>,
        value: &str,
    ) -> Result<bool, StorageError> {
        Ok(wit_storage::compare_and_set(namespace, key, expected, value)?)
    }
}

/// [`ports::HttpClient`] over the WIT `http-client` import.
struct HostHttp;

fn request_to_wit(r: &HttpRequest) -> wit_http::Request {
    wit_http::Request {
        method: r.method.clone(),
        url: r.url.clone(),
        headers: r.headers.clone(),
        body: r.body.clone(),
        timeout_ms: r.timeout_ms,
    }
}

fn http_error_from_wit(e: wit_http::HttpError) -> HttpError {
    match e {
        wit_http::HttpError::Denied(m) => HttpError::Denied(m),
        wit_http::HttpError::Timeout(m) => HttpError::Timeout(m),
        wit_http::HttpError::InvalidRequest(m) => HttpError::InvalidRequest(m),
        wit_http::HttpError::Failed(m) => HttpError::Failed(m),
    }
}

fn response_from_wit(response: wit_http::Response) -> Result<HttpResponse, HttpError> {
    let body = match response.body_encoding {
        wit_http::BodyEncoding::Utf8 => response.body.into_bytes(),
        wit_http::BodyEncoding::Base64 => crate::blob::decode_base64("response.body", &response.body)
            .map_err(|e| HttpError::Failed(format!("host sent a bad body: {}", e.message)))?,
    };
    Ok(HttpResponse { status: response.status, headers: response.headers, body })
}

impl ports::HttpClient for HostHttp {
    fn send(&self, r: &HttpRequest) -> Result<HttpResponse, HttpError> {
        response_from_wit(wit_http::send(&request_to_wit(r)).map_err(http_error_from_wit)?)
    }
}

impl meta::Guest for Component {
    fn version() -> String {
        crate::meta::version()
    }
    fn rust_version() -> String {
        crate::meta::rust_version()
    }
    fn health_check() -> bool {
        crate::meta::health_check()
    }
    fn describe_build() -> meta::BuildInfo {
        let b = crate::meta::build_info();
        meta::BuildInfo {
            version: b.version,
            rustc: b.rustc,
            git_commit: b.git_commit,
            target: b.target,
            profile: b.profile,
            features: b.features,
            wit_package: b.wit_package,
        }
    }
}

impl diagnostics::Guest for Component {
    fn counter_add(name: String, delta: i64) -> Result<i64, wit_types::Error> {
        wit_result(crate::diagnostics::counter_add(&HostStorage, &name, delta))
    }
    fn counter_get(name: String) -> Result<i64, wit_types::Error> {
        wit_result(crate::diagnostics::counter_get(&HostStorage, &name))
    }
    fn probe_url(url: String, timeout_ms: u32) -> Result<diagnostics::Probe, wit_types::Error> {
        let p = wit_result(crate::diagnostics::probe_url(&HostHttp, &SystemClock, &url, timeout_ms))?;
        Ok(diagnostics::Probe {
            url: p.url,
            status: p.status,
            healthy: p.healthy,
            elapsed_ms: p.elapsed_ms,
            body_bytes: p.body_bytes,
        })
    }
    fn trap(message: String) {
        panic!("deliberate trap: {message}");
    }
}

impl bench::Guest for Component {
    fn noop() {}
    fn blob_in(data: String) -> Result<(u32, u32), wit_types::Error> {
        wit_result(crate::bench::blob_in(&data))
    }
    fn blob_out(len: u32, seed: u32) -> String {
        crate::bench::blob_out(len, seed)
    }
    fn bytes_in(data: Vec<u8>) -> (u32, u32) {
        crate::bench::checksum(&data)
    }
    fn bytes_out(len: u32, seed: u32) -> Vec<u8> {
        crate::bench::pattern(len, seed)
    }
    fn sum_f32_blob(data: String) -> Result<f32, wit_types::Error> {
        wit_result(crate::bench::sum_f32_blob(&data))
    }
    fn sum_f32_list(data: Vec<f32>) -> f32 {
        crate::bench::sum_f32(&data)
    }
    fn text_len(data: String) -> u32 {
        data.len() as u32
    }
}

use exports::agentcell::core::attune as w;

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

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

impl exports::agentcell::core::attune_service::Guest for Component {
    fn handle(
        req: exports::agentcell::core::attune_service::ServiceRequest,
    ) -> exports::agentcell::core::attune_service::ServiceResponse {
        let (status, body) =
            crate::attune::service::handle(&HostStorage, &req.method, &req.path, &req.body, now_ms);
        exports::agentcell::core::attune_service::ServiceResponse { status, body }
    }
}

mod client_glue {
    use super::exports::agentcell::core::attune_client as c;
    use super::*;
    use crate::attune::client::{self, ClientConfig, ClientResult, Operation, Outcome};

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

use exports::agentcell::core::{code_analysis as wc, memory as wm, principles as wp};

thread_local! {
    /// The open memory stores of this instance.
    static STORES: std::cell::RefCell<crate::memory::Stores> = std::cell::RefCell::new(Default::default());
    /// Tells this instance's segments apart from other writers' (random per instance).
    static WRITER: u64 = {
        use std::hash::{BuildHasher, Hasher};
        std::collections::hash_map::RandomState::new().build_hasher().finish()
    };
}

fn with_store<T>(
    handle: u32,
    f: impl FnOnce(&mut crate::memory::MemoryStore) -> crate::error::Result<T>,
) -> Result<T, wit_types::Error> {
    wit_result(STORES.with(|s| f(s.borrow_mut().get(handle)?)))
}

impl wm::Guest for Component {
    fn open(name: String, options: wm::StoreOptions) -> Result<u32, wit_types::Error> {
        let index = match options.index {
            wm::IndexKind::Flat => crate::memory::IndexKind::Flat,
            wm::IndexKind::Ivf => crate::memory::IndexKind::Ivf,
        };
        let options =
            crate::memory::Options { dimension: options.dimension, shard_count: options.shard_count, index };
        let writer = WRITER.with(|w| *w);
        wit_result(STORES.with(|s| s.borrow_mut().open(&HostStorage, &name, options, writer)))
    }
    fn close(handle: u32) -> Result<(), wit_types::Error> {
        wit_result(STORES.with(|s| s.borrow_mut().close(handle)))
    }
    fn destroy(handle: u32) -> Result<(), wit_types::Error> {
        with_store(handle, |s| s.destroy(&HostStorage))?;
        Self::close(handle)
    }
    fn put(handle: u32, entries_json: String, embeddings: Vec<String>) -> Result<u32, wit_types::Error> {
        with_store(handle, |s| s.put(&HostStorage, &entries_json, &embeddings, now_ms()))
    }
    fn check_entries(entries_json: Vec<String>) -> Result<u32, wit_types::Error> {
        wit_result(crate::memory::check_entries(&entries_json))
    }
    fn get(handle: u32, key: String) -> Result<Option<wm::Entry>, wit_types::Error> {
        with_store(handle, |s| {
            Ok(s.get(&key).map(|e| wm::Entry {
                key: e.record.key.into(),
                embedding: crate::blob::encode_f32(&e.embedding),
                metadata_json: e.record.metadata.into(),
                diff_ops_json: e.record.diff_ops.map(Into::into),
                stored_at_ms: e.record.stored_at_ms,
            }))
        })
    }
    fn delete(handle: u32, keys: Vec<String>) -> Result<u32, wit_types::Error> {
        with_store(handle, |s| s.delete(&HostStorage, &keys))
    }
    fn count(handle: u32) -> Result<u64, wit_types::Error> {
        with_store(handle, |s| Ok(s.len() as u64))
    }
    fn keys_json(handle: u32) -> Result<String, wit_types::Error> {
        with_store(handle, |s| Ok(s.keys_json()))
    }
    fn search(handle: u32, query: String, options: wm::SearchOptions) -> Result<String, wit_types::Error> {
        let options = crate::memory::SearchOptions {
            limit: options.limit,
            min_similarity: options.min_similarity,
            filter_json: options.filter_json,
            exact: options.exact,
            probes: options.probes,
        };
        with_store(handle, |s| s.search(&query, &options))
    }
    fn resonance(a: String, b: String) -> Result<f32, wit_types::Error> {
        wit_result(crate::memory::resonance(&a, &b))
    }
    fn query_by_resonance(
        handle: u32,
        min_resonance: f32,
        max_results: Option<u32>,
        query: Option<String>,
    ) -> Result<String, wit_types::Error> {
        with_store(handle, |s| s.query_by_resonance(min_resonance, max_results, query.as_deref()))
    }
    fn direction_sum(handle: u32) -> Result<Option<String>, wit_types::Error> {
        with_store(handle, |s| {
            Ok(s.direction_sum().map(|sum| {
                let sum: Vec<f32> = sum.into_iter().map(|x| x as f32).collect();
                crate::blob::encode_f32(&sum)
            }))
        })
    }
    fn build_index(handle: u32, lists: Option<u32>) -> Result<(), wit_types::Error> {
        with_store(handle, |s| {
            s.build_index(lists);
            Ok(())
        })
    }
    fn stats_json(handle: u32) -> Result<String, wit_types::Error> {
        with_store(handle, |s| Ok(s.stats_json()))
    }
    fn garbage_collect(handle: u32, aggressive: bool) -> Result<String, wit_types::Error> {
        with_store(handle, |s| s.garbage_collect(&HostStorage, aggressive))
    }
    fn clear_cache(handle: u32) -> Result<(), wit_types::Error> {
        with_store(handle, |s| {
            s.clear_cache();
            Ok(())
        })
    }
    fn set_profiling(handle: u32, enabled: bool) -> Result<(), wit_types::Error> {
        with_store(handle, |s| {
            s.profile_mut().set_enabled(enabled);
            Ok(())
        })
    }
    fn profiling_json(handle: u32) -> Result<String, wit_types::Error> {
        with_store(handle, |s| Ok(s.profile().to_json().to_string()))
    }
}

fn wit_check(c: crate::principles::Check) -> wp::Check {
    wp::Check {
        axiom_id: c.axiom_id,
        is_valid: c.is_valid,
        resonance_score: c.resonance_score,
        ethical_tension: c.ethical_tension,
        reasons: c.reasons,
    }
}

fn registry(json: &str) -> Result<crate::principles::Registry, wit_types::Error> {
    wit_result(crate::principles::Registry::parse(json))
}

impl wp::Guest for Component {
    fn default_registry() -> String {
        crate::principles::default_registry_json().into()
    }
    fn normalize_registry(registry_json: String) -> Result<String, wit_types::Error> {
        Ok(registry(&registry_json)?.to_json())
    }
    fn validate(
        registry_json: String,
        axiom_id: String,
        context: Vec<String>,
    ) -> Result<wp::Check, wit_types::Error> {
        wit_result(registry(&registry_json)?.validate(&axiom_id, &context)).map(wit_check)
    }
    fn validate_batch(
        registry_json: String,
        ids: Vec<String>,
        context: Vec<String>,
    ) -> Result<wp::BatchCheck, wit_types::Error> {
        let b = wit_result(registry(&registry_json)?.validate_batch(&ids, &context))?;
        Ok(wp::BatchCheck {
            results: b.results.into_iter().map(wit_check).collect(),
            batch_valid: b.batch_valid,
            overall_resonance: b.overall_resonance,
            overall_tension: b.overall_tension,
        })
    }
    fn resonance(registry_json: String, ids: Vec<String>) -> Result<f64, wit_types::Error> {
        wit_result(registry(&registry_json)?.resonance(&ids))
    }
    fn tension(
        registry_json: String,
        proposed: Vec<String>,
        context: Vec<String>,
    ) -> Result<f64, wit_types::Error> {
        wit_result(registry(&registry_json)?.tension(&proposed, &context))
    }
    fn recommend(
        registry_json: String,
        text: String,
        limit: u32,
    ) -> Result<Vec<(String, f64)>, wit_types::Error> {
        Ok(registry(&registry_json)?.recommend(&text, limit as usize))
    }
}

impl wc::Guest for Component {
    fn analyze(path: String, text: String) -> wc::FileMetrics {
        let m = crate::code::analyze(&path, &text);
        wc::FileMetrics {
            language: m.language,
            line_count: m.line_count,
            code_lines: m.code_lines,
            functions: m.functions,
            branches: m.branches,
            complexity_score: m.complexity_score,
            size_bytes: m.size_bytes,
        }
    }
    fn analyze_batch(files_json: String) -> Result<String, wit_types::Error> {
        wit_result(crate::code::analyze_batch(&files_json))
    }
    fn lexical_embedding(text: String, dimension: u32) -> Result<String, wit_types::Error> {
        wit_result(crate::code::lexical::embed(&text, dimension)).map(|v| crate::blob::encode_f32(&v))
    }
    fn lexical_embeddings(texts_json: String, dimension: u32) -> Result<String, wit_types::Error> {
        wit_result(crate::code::lexical::embed_many(&texts_json, dimension))
    }
}
