//! The service's one error enum, mapped once to the kit's vocabulary.

use memberhub_kit::error::Failure;

use crate::domain::ids::ShopId;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A rule or input problem already phrased for the client (validation, tenancy, MP-4).
    #[error(transparent)]
    Rejected(#[from] Failure),
    #[error("shop {0} not found")]
    ShopNotFound(ShopId),
    #[error("shopper is not a member of this shop")]
    NotAMember,
    #[error("budget reservation {0} not found")]
    ReservationNotFound(uuid::Uuid),
    #[error("card join hold of {holder} in shop {shop_id} not found")]
    HoldNotFound { shop_id: ShopId, holder: String },
    #[error("transfer key {0} already used")]
    TransferKeyUsed(String),
    #[error("sms code rejected: {0:?}")]
    SmsCode(crate::domain::sms::CodeRejection),
    #[error(transparent)]
    Replay(#[from] memberhub_kit::idempotency::Replay),
    #[error("row with an unknown value in {0}")]
    CorruptRow(&'static str),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        match error {
            Error::Rejected(failure) => failure,
            Error::ShopNotFound(id) => Failure::NotFound(format!("shop {id} not found")),
            Error::NotAMember => {
                Failure::NotFound("the shopper is not a member of this shop".into())
            }
            Error::ReservationNotFound(id) => {
                Failure::NotFound(format!("budget reservation {id} not found"))
            }
            Error::HoldNotFound { shop_id, holder } => {
                Failure::NotFound(format!("shop {shop_id} has no card join hold of {holder}"))
            }
            Error::TransferKeyUsed(_) => {
                Failure::AlreadyExists("this transfer has already been made".into())
            }
            Error::SmsCode(rejection) => rejection.failure(),
            Error::Replay(replay) => replay.failure(),
            Error::Database(e) => memberhub_kit::db::failure_from_sqlx(&e),
            Error::CorruptRow(_) => {
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
