//! The HTTP/JSON gateway: authenticates callers, enforces tenancy, and forwards to
//! the services over gRPC. Four surfaces: `/api/platform/v1` (operators),
//! `/api/backoffice/v1` (merchants), `/api/storefront/v1` (shoppers) and
//! `/api/internal/v1` (trusted services such as the order system). Holds no state.

mod auth;
mod body;
mod config;
pub mod constraints;
mod coupon_views;
mod error;
mod member_center;
mod openapi;
mod query;
mod routes;
mod state;
mod upstream;
mod views;

use std::time::Duration;

use axum::Router;
use axum::error_handling::HandleErrorLayer;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower::ServiceBuilder;
use tower_http::cors::CorsLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tracing::Instrument;
use utoipa::OpenApi;

pub use auth::{JwtConfig, Role};
pub use config::{Args, Config, GatewayArgs};
use error::ApiError;
pub use state::AppState;

/// The whole HTTP application.
pub fn app(state: AppState, config: &Config) -> Router {
    let mut platform = routes::platform::router();
    if state.sandbox.is_some() {
        platform = platform.nest("/sandbox", routes::sandbox::router());
    }
    let api = Router::new()
        .nest("/api/platform/v1", platform)
        .nest("/api/backoffice/v1", routes::backoffice::router())
        .nest("/api/storefront/v1", routes::storefront::router())
        .nest("/api/internal/v1", routes::internal::router())
        .merge(routes::coupons::router())
        .merge(routes::campaigns::router())
        .merge(routes::sprint_plans::router())
        .fallback(not_found)
        .with_state(state);
    let docs = utoipa_swagger_ui::SwaggerUi::new("/api/docs")
        .url("/api/openapi.json", openapi::ApiDoc::openapi());
    let cors = CorsLayer::new()
        .allow_origin(config.backoffice_origins.clone())
        .allow_methods(tower_http::cors::Any)
        .allow_headers(tower_http::cors::Any);
    Router::new()
        .merge(docs)
        .merge(api)
        .merge(memberhub_kit::metrics::router())
        // liveness for orchestrators: the process answers HTTP (upstreams have their own probes)
        .route("/healthz", axum::routing::get(|| async { "ok" }))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        // the span (with the caller's W3C parent) wraps the handler and its upstream calls
        .layer(axum::middleware::from_fn(trace_request))
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
                .layer(PropagateRequestIdLayer::x_request_id())
                // Past the limit a request is refused at once (503, Retry-After) instead of
                // queueing behind the others and spending its deadline waiting.
                .layer(HandleErrorLayer::new(overloaded))
                .load_shed()
                .layer(tower::limit::GlobalConcurrencyLimitLayer::new(
                    config.concurrency_limit,
                ))
                .layer(TimeoutLayer::with_status_code(
                    http::StatusCode::GATEWAY_TIMEOUT,
                    config.request_timeout,
                ))
                .layer(cors),
        )
}

/// The largest request body a route reads (413 beyond).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// What an overloaded gateway asks a client to wait before retrying, in seconds.
pub(crate) const RETRY_AFTER_SECONDS: u32 = 1;

async fn overloaded(_: tower::BoxError) -> Response {
    metrics::counter!("http_server_shed_total").increment(1);
    // 503, with Retry-After like every UNAVAILABLE
    ApiError::from(tonic::Status::unavailable(
        "the gateway is overloaded: retry later",
    ))
    .into_response()
}

/// Traces every request and records RED metrics labelled by the route template (never the
/// raw path, whose ids would make every request a new series).
async fn trace_request(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let method = request.method().to_string();
    let started = std::time::Instant::now();
    let span = tracing::info_span!(
        "http",
        http.method = %method,
        http.route = %route,
        http.path = %request.uri().path(),
        request_id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or(""),
        otel.kind = "server",
    );
    memberhub_kit::telemetry::set_parent_from_headers(&span, request.headers());
    let mut response = next.run(request).instrument(span.clone()).await;
    // Every answer names its trace, so a caller can quote it (errors from a service carry
    // the service's, which is the same trace).
    if !response.headers().contains_key("x-trace-id")
        && let Some(value) = memberhub_kit::telemetry::trace_id(&span)
            .and_then(|t| http::HeaderValue::from_str(&t).ok())
    {
        response.headers_mut().insert("x-trace-id", value);
    }
    let status = response.status().as_u16();
    tracing::info!(parent: &span, status, "handled");
    let labels = [
        ("method", method),
        ("route", route),
        ("status", status.to_string()),
    ];
    metrics::counter!("http_server_requests_total", &labels).increment(1);
    metrics::histogram!("http_server_request_seconds", &labels[..2])
        .record(started.elapsed().as_secs_f64());
    response
}

async fn not_found() -> Response {
    let mut error = ApiError::from(tonic::Status::not_found("no such route"));
    error.trace_id = None;
    error.into_response()
}

/// Lazily connected clients to the services (each balanced over the endpoints its URL
/// lists): the gateway starts before them and reconnects by itself.
pub fn state(config: &Config) -> Result<AppState, tonic::transport::Error> {
    let membership = memberhub_kit::peer::channel(&config.membership_url)?;
    let coupon = memberhub_kit::peer::channel(&config.coupon_url)?;
    let campaign = memberhub_kit::peer::channel(&config.campaign_url)?;
    Ok(AppState {
        jwt: config.jwt.clone(),
        signer: config.signer.clone(),
        membership:
            memberhub_proto::membership::membership_service_client::MembershipServiceClient::new(
                membership,
            ),
        coupon: memberhub_proto::coupon::coupon_service_client::CouponServiceClient::new(coupon),
        campaign: memberhub_proto::campaign::campaign_service_client::CampaignServiceClient::new(
            campaign,
        ),
        sandbox: config
            .sandbox_url
            .as_deref()
            .map(memberhub_kit::peer::channel)
            .transpose()?
            .map(memberhub_proto::sandbox::sandbox_service_client::SandboxServiceClient::new),
        upstream_timeout: config.request_timeout,
        compose_deadline: config.compose_deadline,
        compose_critical_deadline: config.compose_critical_deadline,
    })
}

/// Serves the gateway on `listener` until `shutdown` completes, then lets open requests
/// finish for at most the drain timeout. A client that does not finish sending its headers
/// within the header-read timeout is disconnected (a slow-loris holds no connection).
pub async fn serve(
    config: Config,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), memberhub_kit::BoxError> {
    let app = app(state(&config)?, &config);
    tracing::info!(address = ?listener.local_addr().ok(), "serving HTTP gateway");
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(config.header_read_timeout);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // e.g. out of file descriptors: back off instead of spinning
                    tracing::warn!(error = %error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        let connection = http.serve_connection(hyper_util::rt::TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(error = %error, "connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(config.drain_timeout, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("drain timeout: closing open connections");
    }
    Ok(())
}
