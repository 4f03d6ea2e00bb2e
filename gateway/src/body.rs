//! A JSON body extractor whose rejections use the API's error shape.

use axum::extract::{FromRequest, Request};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// Like `axum::Json`, but a malformed body is INVALID_ARGUMENT with field `body` (HTTP 400,
/// or 413 when it is larger than [`crate::MAX_BODY_BYTES`]).
#[derive(Debug, Clone)]
pub(crate) struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        axum::Json::<T>::from_request(request, state)
            .await
            .map(|axum::Json(value)| ApiJson(value))
            .map_err(|rejection| {
                let too_large = rejection.status() == http::StatusCode::PAYLOAD_TOO_LARGE;
                let mut response =
                    ApiError::invalid_field("body", &rejection.body_text()).into_response();
                if too_large {
                    *response.status_mut() = http::StatusCode::PAYLOAD_TOO_LARGE;
                }
                response
            })
    }
}
