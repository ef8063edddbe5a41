//! The one error type of the core, mirrored by the WIT record `types.error`.

use std::fmt;

/// The kind of failure; mirrors WIT `types.error-code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidArgument,
    NotFound,
    Storage,
    HttpDenied,
    HttpTimeout,
    HttpFailed,
    Internal,
    Unauthorized,
    RateLimited,
    ServerError,
    Transport,
}

/// An error with a code, a sentence for people, and the field at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub code: ErrorCode,
    pub message: String,
    pub field: Option<String>,
    /// For `RateLimited`: how long the service asked us to wait.
    pub retry_after_ms: Option<u32>,
}

impl Error {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), field: None, retry_after_ms: None }
    }

    /// The same error, naming `field`.
    pub fn with_field(mut self, field: &str) -> Self {
        self.field = Some(field.to_string());
        self
    }

    /// An `invalid-argument` error naming `field` and the rule it broke.
    pub fn invalid(field: &str, rule: impl fmt::Display) -> Self {
        Self {
            code: ErrorCode::InvalidArgument,
            message: format!("{field}: {rule}"),
            field: Some(field.to_string()),
            retry_after_ms: None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.code, self.message)
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;
