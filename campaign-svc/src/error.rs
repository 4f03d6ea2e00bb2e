//! The service's one error enum, mapped once to the kit's vocabulary. A refusal from a
//! peer service (membership-svc, coupon-svc) is relayed with its own code and details.

use memberhub_kit::error::Failure;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A rule or input problem already phrased for the client.
    #[error(transparent)]
    Rejected(#[from] Failure),
    /// A peer refused: its status (code, message, details) is the client's answer.
    #[error("peer refused: {0}")]
    PeerRefused(tonic::Status),
    /// A peer could not be reached or failed: worth retrying later.
    #[error("peer unavailable: {0}")]
    PeerUnavailable(tonic::Status),
    /// A refusal recorded earlier (a failed provisioning), replayed to a retry.
    #[error("{message}")]
    Replayed {
        code: tonic::Code,
        reason: String,
        message: String,
    },
    #[error("{what} {id} not found")]
    NotFound { what: &'static str, id: String },
    #[error(transparent)]
    Replay(#[from] memberhub_kit::idempotency::Replay),
    #[error("row with an unknown value in {0}")]
    CorruptRow(&'static str),
    #[error("claim steps cannot be read: {0}")]
    CorruptSteps(serde_json::Error),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

impl Error {
    pub fn not_found(what: &'static str, id: impl ToString) -> Self {
        Error::NotFound {
            what,
            id: id.to_string(),
        }
    }

    /// Sorts a peer's status: a user's mistake or a broken rule is relayed; the rest is
    /// transient from our side (retry later).
    pub fn from_peer(status: tonic::Status) -> Self {
        if is_refusal(status.code()) {
            Error::PeerRefused(status)
        } else {
            Error::PeerUnavailable(status)
        }
    }
}

/// Codes by which a peer says "no" for good (as opposed to "not now").
pub(crate) fn is_refusal(code: tonic::Code) -> bool {
    use tonic::Code;
    matches!(
        code,
        Code::InvalidArgument
            | Code::FailedPrecondition
            | Code::NotFound
            | Code::AlreadyExists
            | Code::ResourceExhausted
            | Code::PermissionDenied
            | Code::OutOfRange
    )
}

/// The `ErrorInfo.reason` a status carries, if any.
pub(crate) fn reason_of(status: &tonic::Status) -> Option<String> {
    use tonic_types::StatusExt;
    status
        .get_error_details()
        .error_info()
        .map(|i| i.reason.clone())
}

impl From<Error> for tonic::Status {
    fn from(error: Error) -> Self {
        match error {
            Error::PeerRefused(status) => status,
            Error::PeerUnavailable(status) => {
                tracing::warn!(code = ?status.code(), message = status.message(), "peer unavailable");
                Failure::Unavailable(
                    "a dependency is unavailable; retry with the same request id".into(),
                )
                .into()
            }
            Error::Replayed {
                code,
                reason,
                message,
            } => {
                use tonic_types::{ErrorDetails, StatusExt};
                let details = ErrorDetails::with_error_info(
                    reason,
                    memberhub_kit::error::ERROR_DOMAIN,
                    std::collections::HashMap::new(),
                );
                tonic::Status::with_error_details(code, message, details)
            }
            other => Failure::from(other).into(),
        }
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        match error {
            Error::Rejected(failure) => failure,
            Error::NotFound { what, id } => Failure::NotFound(format!("{what} {id} not found")),
            Error::Replay(replay) => replay.failure(),
            Error::Database(e) => memberhub_kit::db::failure_from_sqlx(&e),
            Error::PeerUnavailable(_) => {
                Failure::Unavailable("a dependency is unavailable; retry later".into())
            }
            Error::PeerRefused(_)
            | Error::Replayed { .. }
            | Error::CorruptRow(_)
            | Error::CorruptSteps(_) => {
                tracing::error!(error = %error, "internal error");
                Failure::Internal
            }
        }
    }
}
