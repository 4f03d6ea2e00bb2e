//! Prometheus `/metrics` per process, and RED metrics per RPC.

use std::sync::OnceLock;
use std::time::Instant;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process-wide Prometheus recorder (once) and returns its handle.
pub fn recorder() -> Option<PrometheusHandle> {
    HANDLE
        .get_or_init(|| PrometheusBuilder::new().install_recorder().ok())
        .clone()
}

/// An axum router serving `GET /metrics`.
pub fn router() -> axum::Router {
    let handle = recorder();
    axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let handle = handle.clone();
            async move { handle.map(|h| h.render()).unwrap_or_default() }
        }),
    )
}

/// Serves `/metrics` on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router())
        .with_graceful_shutdown(shutdown)
        .await
}

/// Records one finished RPC: count by code and latency.
pub fn record_rpc(service: &'static str, method: String, code: &'static str, started: Instant) {
    let labels = [
        ("service", service.to_string()),
        ("method", method),
        ("code", code.to_string()),
    ];
    metrics::counter!("grpc_server_handled_total", &labels).increment(1);
    metrics::histogram!("grpc_server_handling_seconds", &labels[..2])
        .record(started.elapsed().as_secs_f64());
}
