//! Errors of the Rust host: the component's own errors, traps, and host failures.

use crate::bindings::exports::agentcell::core::types::{Error as WitError, ErrorCode};

/// Everything a call into agentcell can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The component returned an error (WIT `types.error`).
    #[error("{message}")]
    Component { code: ErrorCode, message: String, field: Option<String> },
    /// The component trapped; the runtime has replaced the instance already.
    #[error("the component trapped in {function}: {detail}")]
    Trap { function: String, detail: String },
    /// A call ran past a limit of its instance (its deadline or its memory cap) and was
    /// stopped; as after a trap, the instance has been replaced.
    #[error("{function} ran past its {limit} limit ({detail}) and was stopped")]
    ResourceLimit { function: String, limit: crate::Limit, detail: String },
    /// A plugin reported a failure: `kind` is `invalid-input`, `permanent` or `retryable`.
    #[error("plugin {plugin}: {message}")]
    Plugin { plugin: String, kind: String, message: String },
    /// A call that could not be made: an unknown export or arguments of the wrong type.
    #[error("invalid call: {0}")]
    Call(String),
    /// The component could not be loaded or instantiated.
    #[error("cannot load the agentcell component: {0}")]
    Load(String),
    /// The storage backend could not be opened.
    #[error("storage at {path}: {message}")]
    Storage { path: String, message: String },
}

impl Error {
    /// The WIT error code as kebab-case text (`invalid-argument`), or `trap`/`load`/`storage`.
    pub fn code(&self) -> String {
        match self {
            Error::Component { code, .. } => error_code_name(*code).to_string(),
            Error::Trap { .. } => "trap".into(),
            Error::ResourceLimit { .. } => "resource-limit".into(),
            Error::Plugin { .. } => "plugin".into(),
            Error::Call(_) => "call".into(),
            Error::Load(_) => "load".into(),
            Error::Storage { .. } => "storage".into(),
        }
    }
}

pub fn error_code_name(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::InvalidArgument => "invalid-argument",
        ErrorCode::NotFound => "not-found",
        ErrorCode::Storage => "storage",
        ErrorCode::HttpDenied => "http-denied",
        ErrorCode::HttpTimeout => "http-timeout",
        ErrorCode::HttpFailed => "http-failed",
        ErrorCode::Internal => "internal",
        ErrorCode::Unauthorized => "unauthorized",
        ErrorCode::RateLimited => "rate-limited",
        ErrorCode::ServerError => "server-error",
        ErrorCode::Transport => "transport",
    }
}

impl From<WitError> for Error {
    fn from(e: WitError) -> Self {
        Error::Component { code: e.code, message: e.message, field: e.field }
    }
}
