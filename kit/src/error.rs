//! the error vocabulary every service maps its own error enum into, and the one place
//! where it becomes a `tonic::Status` with `google.rpc` details.

use std::collections::HashMap;

use tonic::Code;
use tonic_types::{ErrorDetails, StatusExt};

/// The `ErrorInfo.domain` of every memberhub error.
pub const ERROR_DOMAIN: &str = "memberhub";

/// One bad field of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    pub field: String,
    pub description: String,
}

impl FieldViolation {
    pub fn new(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            description: description.into(),
        }
    }
}

/// What went wrong, in the terms a client can act on.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Failure {
    #[error("invalid argument: {}", describe(.0))]
    InvalidArgument(Vec<FieldViolation>),
    #[error("{message}")]
    FailedPrecondition {
        reason: &'static str,
        message: String,
        metadata: Vec<(&'static str, String)>,
    },
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    AlreadyExists(String),
    #[error("{message}")]
    ResourceExhausted {
        reason: &'static str,
        message: String,
    },
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    PermissionDenied(String),
    #[error("{0}")]
    Unavailable(String),
    /// Never carries detail: the cause is logged where it happened.
    #[error("internal error")]
    Internal,
}

fn describe(violations: &[FieldViolation]) -> String {
    violations
        .iter()
        .map(|v| format!("{}: {}", v.field, v.description))
        .collect::<Vec<_>>()
        .join("; ")
}

impl Failure {
    /// INVALID_ARGUMENT for one field.
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Self {
        Failure::InvalidArgument(vec![FieldViolation::new(field, description)])
    }

    /// FAILED_PRECONDITION with a stable UPPER_SNAKE reason.
    pub fn precondition(reason: &'static str, message: impl Into<String>) -> Self {
        Failure::FailedPrecondition {
            reason,
            message: message.into(),
            metadata: Vec::new(),
        }
    }

    /// The reason code of a FAILED_PRECONDITION or RESOURCE_EXHAUSTED.
    pub fn reason(&self) -> Option<&'static str> {
        match self {
            Failure::FailedPrecondition { reason, .. }
            | Failure::ResourceExhausted { reason, .. } => Some(reason),
            _ => None,
        }
    }

    /// The gRPC code of this failure.
    pub fn code(&self) -> Code {
        match self {
            Failure::InvalidArgument(_) => Code::InvalidArgument,
            Failure::FailedPrecondition { .. } => Code::FailedPrecondition,
            Failure::NotFound(_) => Code::NotFound,
            Failure::AlreadyExists(_) => Code::AlreadyExists,
            Failure::ResourceExhausted { .. } => Code::ResourceExhausted,
            Failure::Unauthenticated(_) => Code::Unauthenticated,
            Failure::PermissionDenied(_) => Code::PermissionDenied,
            Failure::Unavailable(_) => Code::Unavailable,
            Failure::Internal => Code::Internal,
        }
    }
}

impl From<Failure> for tonic::Status {
    fn from(failure: Failure) -> Self {
        let code = failure.code();
        let message = failure.to_string();
        match failure {
            Failure::InvalidArgument(violations) => {
                let violations = violations
                    .into_iter()
                    .map(|v| tonic_types::FieldViolation::new(v.field, v.description))
                    .collect::<Vec<_>>();
                tonic::Status::with_error_details(
                    code,
                    message,
                    ErrorDetails::with_bad_request(violations),
                )
            }
            Failure::FailedPrecondition {
                reason, metadata, ..
            } => {
                let metadata: HashMap<String, String> = metadata
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v))
                    .collect();
                let details = ErrorDetails::with_error_info(reason, ERROR_DOMAIN, metadata);
                tonic::Status::with_error_details(code, message, details)
            }
            Failure::ResourceExhausted { reason, .. } => {
                let details = ErrorDetails::with_error_info(reason, ERROR_DOMAIN, HashMap::new());
                tonic::Status::with_error_details(code, message, details)
            }
            Failure::NotFound(_)
            | Failure::AlreadyExists(_)
            | Failure::Unauthenticated(_)
            | Failure::PermissionDenied(_)
            | Failure::Unavailable(_)
            | Failure::Internal => tonic::Status::new(code, message),
        }
    }
}

/// Collects field violations while validating a request.
#[derive(Debug, Default)]
pub struct Violations(Vec<FieldViolation>);

impl Violations {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.0.push(FieldViolation::new(field, description));
    }

    /// Records the error of a parse, keeping its value when it succeeded.
    pub fn check<T>(&mut self, result: Result<T, FieldViolation>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(violation) => {
                self.0.push(violation);
                None
            }
        }
    }

    /// `Ok` when nothing was recorded, else INVALID_ARGUMENT with every violation.
    pub fn finish(self) -> Result<(), Failure> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(Failure::InvalidArgument(self.0))
        }
    }
}

/// The canonical UPPER_SNAKE name of a gRPC code.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn x3_invalid_argument_carries_each_field_as_bad_request() {
        let status =
            tonic::Status::from(Failure::invalid("card_name", "must be 1 to 20 characters"));
        assert_eq!(status.code(), Code::InvalidArgument);
        let details = status.get_error_details();
        let bad = details
            .bad_request()
            .map(|b| b.field_violations.clone())
            .unwrap_or_default();
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].field, "card_name");
    }

    #[test]
    fn x3_failed_precondition_carries_a_machine_readable_reason() {
        let status = tonic::Status::from(Failure::precondition(
            "SMS_SERVICE_INACTIVE",
            "activate the sms service",
        ));
        assert_eq!(status.code(), Code::FailedPrecondition);
        let details = status.get_error_details();
        assert_eq!(
            details.error_info().map(|i| i.reason.as_str()),
            Some("SMS_SERVICE_INACTIVE")
        );
    }

    #[test]
    fn x3_internal_never_leaks_its_cause() {
        let status = tonic::Status::from(Failure::Internal);
        assert_eq!(status.message(), "internal error");
    }
}
