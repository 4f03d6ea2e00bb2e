//! The one gRPC server builder every service uses: health and reflection (v1 and v1alpha),
//! tower layers for request ids, tracing with W3C context, RED metrics, load shedding past a
//! concurrency limit, X-1 authentication ([`crate::auth`]) and a server-side deadline, and
//! graceful shutdown on a bound listener.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tonic::server::NamedService;
use tonic::service::RoutesBuilder;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tracing::Instrument;

use crate::config::ServiceConfig;
use crate::telemetry;

/// The server stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("gRPC transport: {0}")]
    Transport(#[from] tonic::transport::Error),
    #[error("cannot bind the metrics listener: {0}")]
    Metrics(std::io::Error),
    #[error("reflection: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
}

/// Builds and runs one service's gRPC server.
pub struct GrpcServer {
    name: &'static str,
    config: ServiceConfig,
    routes: RoutesBuilder,
    health: HealthReporter,
    services: Vec<&'static str>,
    /// Service names reflection lists: what is served plus declared contracts.
    advertised: Vec<&'static str>,
    readiness: Option<sqlx::PgPool>,
    checks: Vec<ReadinessCheck>,
}

impl GrpcServer {
    /// A server named `name` (for logs and metrics) with health and reflection registered.
    pub fn new(name: &'static str, config: &ServiceConfig) -> Result<Self, ServeError> {
        let (health, health_service) = tonic_health::server::health_reporter();
        let mut routes = RoutesBuilder::default();
        routes.add_service(health_service);
        Ok(Self {
            name,
            config: config.clone(),
            routes,
            health,
            services: Vec::new(),
            advertised: vec![
                "grpc.health.v1.Health",
                "grpc.reflection.v1.ServerReflection",
                "grpc.reflection.v1alpha.ServerReflection",
            ],
            readiness: None,
            checks: Vec::new(),
        })
    }

    /// Adds a service; its health turns SERVING when the server starts.
    pub fn add_service<S>(mut self, service: S) -> Self
    where
        S: tower::Service<
                http::Request<tonic::body::Body>,
                Response = http::Response<tonic::body::Body>,
                Error = Infallible,
            > + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        self.services.push(S::NAME);
        self.advertised.push(S::NAME);
        self.routes.add_service(service);
        self
    }

    /// Lists a declared contract in reflection before its RPCs are served, so `grpcurl
    /// describe` shows it; its calls answer UNIMPLEMENTED until then.
    pub fn advertise(mut self, service_name: &'static str) -> Self {
        self.advertised.push(service_name);
        self
    }

    /// Reports NOT_SERVING while `pool` cannot reach Postgres, SERVING again when it can.
    pub fn with_readiness(mut self, pool: sqlx::PgPool) -> Self {
        self.readiness = Some(pool);
        self
    }

    /// Reports NOT_SERVING also while `check` fails (e.g. an event consumer that is down or
    /// behind); checked with the database every 2 s.
    pub fn with_readiness_check(mut self, check: ReadinessCheck) -> Self {
        self.checks.push(check);
        self
    }

    /// Serves on `listener` until `shutdown` completes, then drains in-flight RPCs.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), ServeError> {
        let mut routes = self.routes;
        routes.add_service(reflection(&self.advertised).build_v1()?);
        // grpcurl 1.8 speaks only v1alpha.
        routes.add_service(reflection(&self.advertised).build_v1alpha()?);
        for service in std::iter::once("").chain(self.services.iter().copied()) {
            self.health
                .set_service_status(service, ServingStatus::Serving)
                .await;
        }
        if let Some(address) = self.config.metrics_listen {
            let listener = tokio::net::TcpListener::bind(address)
                .await
                .map_err(ServeError::Metrics)?;
            tokio::spawn(crate::metrics::serve(listener, std::future::pending()));
        }
        let watcher = (self.readiness.is_some() || !self.checks.is_empty()).then(|| {
            tokio::spawn(watch_readiness(
                self.readiness,
                self.checks,
                self.health.clone(),
                self.services.clone(),
            ))
        });
        let address = listener.local_addr().ok();
        tracing::info!(service = self.name, address = ?address, "serving gRPC");
        // Small RPCs: do not wait for Nagle.
        let incoming =
            tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
        // Graceful shutdown waits for every connection to finish, and a `WatchEvents` stream
        // never does: after the drain timeout the server is dropped, closing what is left.
        let (asked, shutdown_asked) = tokio::sync::oneshot::channel::<()>();
        let shutdown = async move {
            shutdown.await;
            let _ = asked.send(());
        };
        let drain = self.config.drain_timeout;
        let drained = async move {
            match shutdown_asked.await {
                Ok(()) => tokio::time::sleep(drain).await,
                Err(_) => std::future::pending().await,
            }
        };
        let server = tonic::transport::Server::builder()
            // honours grpc-timeout too: the smaller deadline wins
            .timeout(self.config.request_timeout)
            .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
            .layer(PropagateRequestIdLayer::x_request_id())
            // the span must exist before the limit so queued RPCs are traced too
            .layer(RpcTelemetryLayer {
                service: self.name,
                methods: std::sync::Arc::new(known_methods()),
            })
            .layer(ShedLayer::new(self.config.concurrency_limit))
            .layer(crate::auth::AuthLayer {
                verifier: self.config.verifier.clone(),
            })
            .add_routes(routes.routes())
            .serve_with_incoming_shutdown(incoming, shutdown);
        let result = tokio::select! {
            result = server => result,
            () = drained => {
                tracing::warn!(service = self.name, drain_ms = drain.as_millis() as u64, "drain timeout: closing open calls and streams");
                Ok(())
            }
        };
        if let Some(watcher) = watcher {
            watcher.abort();
        }
        tracing::info!(service = self.name, "gRPC server stopped");
        Ok(result?)
    }
}

fn reflection(advertised: &[&'static str]) -> tonic_reflection::server::Builder<'static> {
    let builder = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(memberhub_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET);
    advertised
        .iter()
        .fold(builder, |builder, name| builder.with_service_name(*name))
}

/// A readiness condition besides the database: `Err` says why the service is not ready.
pub type ReadinessCheck = std::sync::Arc<dyn Fn() -> Result<(), String> + Send + Sync>;

async fn watch_readiness(
    pool: Option<sqlx::PgPool>,
    checks: Vec<ReadinessCheck>,
    health: HealthReporter,
    services: Vec<&'static str>,
) {
    let mut serving = true;
    loop {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let database = match &pool {
            Some(pool) => tokio::time::timeout(
                Duration::from_secs(2),
                sqlx::query("SELECT 1").execute(pool),
            )
            .await
            .is_ok_and(|r| r.is_ok()),
            None => true,
        };
        let failing: Vec<String> = checks.iter().filter_map(|c| c().err()).collect();
        let ok = database && failing.is_empty();
        if ok != serving {
            serving = ok;
            let status = if ok {
                ServingStatus::Serving
            } else {
                ServingStatus::NotServing
            };
            tracing::warn!(database_reachable = database, failing = ?failing, "readiness changed");
            for service in std::iter::once("").chain(services.iter().copied()) {
                health.set_service_status(service, status).await;
            }
        }
    }
}

/// Every gRPC path this suite defines (`/package.Service/Method`), plus health and
/// reflection: the only values the metrics `method` label takes.
fn known_methods() -> std::collections::HashSet<String> {
    use prost::Message;
    let mut methods: std::collections::HashSet<String> = [
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
    ]
    .into_iter()
    .map(str::to_string)
    .collect();
    for encoded in [
        memberhub_proto::FILE_DESCRIPTOR_SET,
        tonic_health::pb::FILE_DESCRIPTOR_SET,
    ] {
        let Ok(set) = prost_types::FileDescriptorSet::decode(encoded) else {
            continue;
        };
        for file in &set.file {
            for service in &file.service {
                for method in &service.method {
                    methods.insert(format!(
                        "/{}.{}/{}",
                        file.package(),
                        service.name(),
                        method.name()
                    ));
                }
            }
        }
    }
    methods
}

/// Per RPC: a span parented on the caller's W3C trace context, RED metrics, and the
/// trace id echoed in the `x-trace-id` response header so callers can quote it. The metrics
/// `method` label is a defined method's path or `unknown`, never whatever path a caller sent.
#[derive(Debug, Clone)]
pub struct RpcTelemetryLayer {
    service: &'static str,
    methods: std::sync::Arc<std::collections::HashSet<String>>,
}

impl<S> tower::Layer<S> for RpcTelemetryLayer {
    type Service = RpcTelemetry<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RpcTelemetry {
            inner,
            service: self.service,
            methods: self.methods.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct RpcTelemetry<S> {
    inner: S,
    service: &'static str,
    methods: std::sync::Arc<std::collections::HashSet<String>>,
}

pub(crate) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B, RB> tower::Service<http::Request<B>> for RpcTelemetry<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<RB>> + Send,
    S::Future: Send + 'static,
    S::Error: 'static,
{
    type Response = http::Response<RB>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let path = request.uri().path();
        let method = if self.methods.contains(path) {
            path.to_string()
        } else {
            "unknown".to_string()
        };
        let request_id = request
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let span = tracing::info_span!("rpc", rpc.method = %method, request_id = %request_id, otel.kind = "server");
        telemetry::set_parent_from_headers(&span, request.headers());
        let trace_id = telemetry::trace_id(&span);
        let service = self.service;
        let started = Instant::now();
        let response = self.inner.call(request).instrument(span);
        Box::pin(async move {
            let mut response = response.await?;
            let code = grpc_code_name(response.headers().get("grpc-status"));
            crate::metrics::record_rpc(service, method, code, started);
            if let Some(value) = trace_id.and_then(|t| http::HeaderValue::from_str(&t).ok()) {
                response.headers_mut().insert("x-trace-id", value);
            }
            Ok(response)
        })
    }
}

/// Past `limit` RPCs in flight, refuses at once with UNAVAILABLE and a retry delay instead of
/// queueing: a queued call would spend its deadline waiting and the queue would grow without
/// bound under overload.
#[derive(Debug, Clone)]
pub struct ShedLayer {
    permits: std::sync::Arc<tokio::sync::Semaphore>,
}

impl ShedLayer {
    pub fn new(limit: usize) -> Self {
        Self {
            permits: std::sync::Arc::new(tokio::sync::Semaphore::new(limit)),
        }
    }
}

impl<S> tower::Layer<S> for ShedLayer {
    type Service = Shed<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Shed {
            inner,
            permits: self.permits.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Shed<S> {
    inner: S,
    permits: std::sync::Arc<tokio::sync::Semaphore>,
}

/// What an overloaded server asks a client to wait before retrying.
const RETRY_AFTER: Duration = Duration::from_millis(200);

impl<S, B, RB> tower::Service<http::Request<B>> for Shed<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<RB>> + Send,
    S::Future: Send + 'static,
    S::Error: 'static,
    RB: Default + Send + 'static,
{
    type Response = http::Response<RB>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let Ok(permit) = self.permits.clone().try_acquire_owned() else {
            use tonic_types::{ErrorDetails, StatusExt};
            metrics::counter!("rpc_shed_total").increment(1);
            let status = tonic::Status::with_error_details(
                tonic::Code::Unavailable,
                "server overloaded: retry later",
                ErrorDetails::with_retry_info(Some(RETRY_AFTER)),
            );
            let mut response = status.into_http::<RB>();
            if let Ok(value) = http::HeaderValue::from_str(&RETRY_AFTER.as_millis().to_string()) {
                response
                    .headers_mut()
                    .insert("grpc-retry-pushback-ms", value);
            }
            return Box::pin(async move { Ok(response) });
        };
        let response = self.inner.call(request);
        Box::pin(async move {
            let response = response.await;
            drop(permit);
            response
        })
    }
}

/// Errors come back trailers-only with `grpc-status` in the headers; success carries it
/// in the trailers, so a missing header means OK.
fn grpc_code_name(header: Option<&http::HeaderValue>) -> &'static str {
    let code = header
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i32>().ok())
        .unwrap_or(0);
    crate::error::code_name(tonic::Code::from(code))
}

/// Completes on SIGTERM or ctrl-c.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown requested");
}
