//! Calling the services: the caller's actor and W3C trace context go in the metadata,
//! the gateway's deadline becomes `grpc-timeout`, and the service's `x-trace-id` comes
//! back out so HTTP clients can quote it.

use axum::Json;
use axum::response::{IntoResponse, Response};
use memberhub_kit::actor::Actor;
use serde::Serialize;

use crate::error::ApiError;
use crate::state::AppState;

/// A tonic request for `actor` (signed with the gateway's key, X-1), traced and with the
/// gateway's deadline.
pub(crate) fn request<T>(state: &AppState, actor: &Actor, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if let Err(error) = state.signer.authorize(actor, request.metadata_mut()) {
        // The service then answers UNAUTHENTICATED; the cause is ours, so log it here.
        tracing::error!(error = %error, "cannot sign the upstream call");
    }
    let mut headers = http::HeaderMap::new();
    memberhub_kit::telemetry::inject_current_context(&mut headers);
    for (name, value) in &headers {
        if let (Ok(key), Ok(value)) = (
            tonic::metadata::MetadataKey::from_bytes(name.as_str().as_bytes()),
            value.to_str().map(tonic::metadata::MetadataValue::try_from),
        ) && let Ok(value) = value
        {
            request.metadata_mut().insert(key, value);
        }
    }
    request.set_timeout(state.upstream_timeout);
    request
}

/// A JSON reply carrying the upstream trace id.
#[derive(Debug)]
pub(crate) struct Reply<T> {
    pub body: T,
    pub trace_id: Option<String>,
}

impl<T> Reply<T> {
    /// Converts a tonic response, keeping its `x-trace-id`.
    pub(crate) fn from_response<M>(response: tonic::Response<M>) -> Self
    where
        T: From<M>,
    {
        let trace_id = response
            .metadata()
            .get("x-trace-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        Self {
            body: T::from(response.into_inner()),
            trace_id,
        }
    }
}

impl<T: Serialize> IntoResponse for Reply<T> {
    fn into_response(self) -> Response {
        let mut response = Json(self.body).into_response();
        if let Some(value) = self
            .trace_id
            .and_then(|t| http::HeaderValue::from_str(&t).ok())
        {
            response.headers_mut().insert("x-trace-id", value);
        }
        response
    }
}

/// What a handler returns.
pub(crate) type ApiResult<T> = Result<Reply<T>, ApiError>;
