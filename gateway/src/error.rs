//! Errors as JSON `{code, reason, message, field_violations, metadata}`, with gRPC codes mapped to
//! HTTP the way Google's API mapping does (FAILED_PRECONDITION is 400).

use std::collections::BTreeMap;

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde::Serialize;
use tonic_types::StatusExt;

/// One bad field.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FieldViolation {
    pub field: String,
    pub description: String,
}

/// The error body of every route.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// The gRPC code name, e.g. `INVALID_ARGUMENT`.
    pub code: &'static str,
    /// A stable UPPER_SNAKE reason for rule failures, e.g. `SMS_SERVICE_NOT_ACTIVATED`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub message: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub field_violations: Vec<FieldViolation>,
    /// The `google.rpc.ErrorInfo` metadata of a rule failure: what the client needs to act
    /// on it, e.g. `next_allowed_at` (LV-4), the overlapping `campaign_id` or `pack_id`,
    /// `resend_allowed_at`, the failing `coupon_id`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
}

/// An error on its way to the HTTP client.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub code: tonic::Code,
    /// Boxed: every handler returns `Result<_, ApiError>`, so the error stays small.
    pub body: Box<ErrorBody>,
    pub trace_id: Option<String>,
}

impl ApiError {
    fn new(code: tonic::Code, message: String) -> Self {
        Self {
            code,
            body: Box::new(ErrorBody {
                code: memberhub_kit::error::code_name(code),
                reason: None,
                message,
                field_violations: Vec::new(),
                metadata: BTreeMap::new(),
            }),
            trace_id: None,
        }
    }

    pub fn unauthenticated(message: String) -> Self {
        Self::new(tonic::Code::Unauthenticated, message)
    }

    pub fn permission_denied(message: String) -> Self {
        Self::new(tonic::Code::PermissionDenied, message)
    }

    pub fn invalid_field(field: &str, description: &str) -> Self {
        let mut error = Self::new(
            tonic::Code::InvalidArgument,
            format!("invalid argument: {field}: {description}"),
        );
        error.body.field_violations.push(FieldViolation {
            field: field.into(),
            description: description.into(),
        });
        error
    }

    /// FAILED_PRECONDITION with a stable UPPER_SNAKE reason.
    pub fn precondition(reason: &str, message: String) -> Self {
        let mut error = Self::new(tonic::Code::FailedPrecondition, message);
        error.body.reason = Some(reason.into());
        error
    }

    /// INVALID_ARGUMENT naming every bad field at once.
    pub fn invalid_fields(violations: Vec<FieldViolation>) -> Self {
        let described: Vec<String> = violations
            .iter()
            .map(|v| format!("{}: {}", v.field, v.description))
            .collect();
        let mut error = Self::new(
            tonic::Code::InvalidArgument,
            format!("invalid argument: {}", described.join("; ")),
        );
        error.body.field_violations = violations;
        error
    }
}

/// What tonic's client says when the `grpc-timeout` it enforces itself runs out.
const TONIC_TIMEOUT_EXPIRED: &str = "Timeout expired";

impl From<tonic::Status> for ApiError {
    fn from(status: tonic::Status) -> Self {
        let details = status.get_error_details();
        // tonic reports its own client-side deadline as CANCELLED; for the HTTP caller it is
        // the upstream missing its deadline (504), not a client that went away (499). Any
        // other CANCELLED that reaches a response is not the caller's doing either (a caller
        // that goes away drops its handler, and no response is made): the connection to the
        // service closed before the call was answered, as when a replica drains on SIGTERM
        // and the call was sent after its GOAWAY. That is 503: retry (with the same key).
        let (code, message) = match status.code() {
            tonic::Code::Cancelled if status.message() == TONIC_TIMEOUT_EXPIRED => {
                (tonic::Code::DeadlineExceeded, status.message().to_string())
            }
            tonic::Code::Cancelled => (
                tonic::Code::Unavailable,
                "the service closed the connection before answering; retry".to_string(),
            ),
            code => (code, status.message().to_string()),
        };
        let mut error = Self::new(code, message);
        if let Some(info) = details.error_info() {
            error.body.reason = Some(info.reason.clone());
            error.body.metadata = info
                .metadata
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
        }
        error.body.field_violations = details
            .bad_request()
            .map(|b| {
                b.field_violations
                    .iter()
                    .map(|v| FieldViolation {
                        field: v.field.clone(),
                        description: v.description.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        error.trace_id = status
            .metadata()
            .get("x-trace-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        if status.code() == tonic::Code::Unknown || status.code() == tonic::Code::Internal {
            // Transport errors carry their cause in the message; do not pass it on.
            tracing::error!(code = ?status.code(), message = status.message(), "upstream failed");
            error.body.message = "internal error".into();
        }
        error
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = http_status(self.code);
        let mut response = (status, Json(*self.body)).into_response();
        // An overloaded or unreachable upstream (or gateway): tell the client when to retry.
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(
                http::header::RETRY_AFTER,
                http::HeaderValue::from(crate::RETRY_AFTER_SECONDS),
            );
        }
        if let Some(value) = self
            .trace_id
            .and_then(|t| http::HeaderValue::from_str(&t).ok())
        {
            response.headers_mut().insert("x-trace-id", value);
        }
        response
    }
}

/// Google's gRPC -> HTTP mapping.
pub(crate) fn http_status(code: tonic::Code) -> StatusCode {
    use tonic::Code;
    match code {
        Code::Ok => StatusCode::OK,
        Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => {
            StatusCode::BAD_REQUEST
        }
        Code::Unauthenticated => StatusCode::UNAUTHORIZED,
        Code::PermissionDenied => StatusCode::FORBIDDEN,
        Code::NotFound => StatusCode::NOT_FOUND,
        Code::AlreadyExists | Code::Aborted => StatusCode::CONFLICT,
        Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
        // 499 Client Closed Request
        Code::Cancelled => StatusCode::from_u16(499).unwrap_or(StatusCode::BAD_REQUEST),
        Code::Unimplemented => StatusCode::NOT_IMPLEMENTED,
        Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Code::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
        Code::Unknown | Code::Internal | Code::DataLoss => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tonics_own_timeout_is_a_gateway_timeout_and_a_lost_upstream_call_is_unavailable() {
        let error = ApiError::from(tonic::Status::cancelled(TONIC_TIMEOUT_EXPIRED));
        assert_eq!(
            (error.code, error.body.code),
            (tonic::Code::DeadlineExceeded, "DEADLINE_EXCEEDED")
        );
        // what hyper reports for a call sent on a connection the service was closing
        let error = ApiError::from(tonic::Status::cancelled("operation was canceled"));
        assert_eq!(
            (error.code, http_status(error.code)),
            (tonic::Code::Unavailable, StatusCode::SERVICE_UNAVAILABLE)
        );
    }

    #[test]
    fn x3_error_info_metadata_reaches_the_body() {
        let status = tonic::Status::from(memberhub_kit::error::Failure::FailedPrecondition {
            reason: "LEVEL_RULES_LOCKED",
            message: "locked".into(),
            metadata: vec![("next_allowed_at", "2026-02-01T00:00:00Z".into())],
        });
        let error = ApiError::from(status);
        assert_eq!(
            error
                .body
                .metadata
                .get("next_allowed_at")
                .map(String::as_str),
            Some("2026-02-01T00:00:00Z")
        );
        let json = serde_json::to_value(&error.body).ok();
        assert_eq!(
            json.as_ref()
                .and_then(|j| j.pointer("/metadata/next_allowed_at"))
                .and_then(|v| v.as_str()),
            Some("2026-02-01T00:00:00Z")
        );
    }

    #[test]
    fn x3_codes_map_like_googles_http_mapping() {
        assert_eq!(
            http_status(tonic::Code::FailedPrecondition),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            http_status(tonic::Code::ResourceExhausted),
            StatusCode::TOO_MANY_REQUESTS
        );
        assert_eq!(
            http_status(tonic::Code::Unavailable),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            http_status(tonic::Code::DeadlineExceeded),
            StatusCode::GATEWAY_TIMEOUT
        );
        assert_eq!(
            http_status(tonic::Code::AlreadyExists),
            StatusCode::CONFLICT
        );
    }
}
