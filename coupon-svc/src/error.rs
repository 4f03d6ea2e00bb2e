//! The service's one error enum, mapped once to the kit's vocabulary.

use memberhub_kit::error::Failure;

#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// A rule or input problem already phrased for the client (validation, tenancy, CP-*).
    #[error(transparent)]
    Rejected(#[from] Failure),
    #[error("batch {0} not found")]
    BatchNotFound(String),
    #[error("allocation {0} not found")]
    AllocationNotFound(String),
    #[error(transparent)]
    Replay(#[from] memberhub_kit::idempotency::Replay),
    #[error("row with an unknown value in {0}")]
    CorruptRow(&'static str),
    #[error("no unique batch key after several attempts")]
    KeySpaceCrowded,
    #[error("the issuer stopped before answering")]
    IssuerGone,
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        match error {
            Error::Rejected(failure) => failure,
            Error::BatchNotFound(id) => Failure::NotFound(format!("batch {id} not found")),
            Error::AllocationNotFound(id) => {
                Failure::NotFound(format!("allocation {id} not found"))
            }
            Error::Replay(replay) => replay.failure(),
            Error::Database(e) => memberhub_kit::db::failure_from_sqlx(&e),
            Error::CorruptRow(_) | Error::KeySpaceCrowded | Error::IssuerGone => {
                tracing::error!(error = %error, "internal error");
                Failure::Internal
            }
        }
    }
}

impl From<Error> for tonic::Status {
    fn from(error: Error) -> Self {
        Failure::from(error).into()
    }
}
