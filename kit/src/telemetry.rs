//! Tracing for every process: pretty logs locally, JSON with `MEMBERHUB_LOG_FORMAT=json`
//! ([`LogFormat`], a setting of each binary),
//! OTLP trace export when `OTEL_EXPORTER_OTLP_ENDPOINT` is set, and W3C trace context
//! carried across process boundaries (HTTP headers and gRPC metadata).

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer as _;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Keeps the tracer provider alive; flushes spans when dropped.
#[derive(Debug)]
pub struct TelemetryGuard {
    provider: SdkTracerProvider,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        // Nothing useful can be done with a flush error at exit.
        let _ = self.provider.shutdown();
    }
}

/// Telemetry could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("cannot build the OTLP exporter: {0}")]
    Exporter(String),
    #[error("a global tracing subscriber is already installed")]
    AlreadyInstalled,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One readable line per event, for people.
    #[default]
    Pretty,
    /// One JSON object per event, for log collectors (production).
    Json,
}

/// Installs the global subscriber. Call once per process, from `main`.
pub fn init(
    service_name: &'static str,
    format: LogFormat,
) -> Result<TelemetryGuard, TelemetryError> {
    let provider = tracer_provider(service_name)?;
    let tracer = provider.tracer(service_name);
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,h2=warn,tower=warn,hyper=warn"));
    let registry = tracing_subscriber::registry().with(otel_layer(tracer));
    let installed = if format == LogFormat::Json {
        let logs = tracing_subscriber::fmt::layer().json().flatten_event(true);
        registry.with(logs.with_filter(filter)).try_init()
    } else {
        let logs = tracing_subscriber::fmt::layer().compact();
        registry.with(logs.with_filter(filter)).try_init()
    };
    installed.map_err(|_| TelemetryError::AlreadyInstalled)?;
    Ok(TelemetryGuard { provider })
}

/// Installs telemetry for a test process; later calls are no-ops.
pub fn init_for_tests() {
    static ONCE: std::sync::OnceLock<Option<TelemetryGuard>> = std::sync::OnceLock::new();
    ONCE.get_or_init(|| {
        if std::env::var_os("RUST_LOG").is_none() {
            // Keep test output quiet unless asked.
            return init_quiet().ok();
        }
        init("memberhub-test", LogFormat::Pretty).ok()
    });
}

fn init_quiet() -> Result<TelemetryGuard, TelemetryError> {
    let provider = SdkTracerProvider::builder().build();
    let tracer = provider.tracer("memberhub-test");
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let logs = tracing_subscriber::fmt::layer()
        .compact()
        .with_test_writer();
    tracing_subscriber::registry()
        .with(otel_layer(tracer))
        .with(logs.with_filter(EnvFilter::new("warn,sqlx=error")))
        .try_init()
        .map_err(|_| TelemetryError::AlreadyInstalled)?;
    Ok(TelemetryGuard { provider })
}

/// The OpenTelemetry layer has its own filter: request spans must exist (to carry trace
/// context across services) even when the log filter hides them.
fn otel_layer<S>(tracer: opentelemetry_sdk::trace::Tracer) -> impl tracing_subscriber::Layer<S>
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
{
    tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_filter(tracing_subscriber::filter::LevelFilter::INFO)
}

fn tracer_provider(service_name: &'static str) -> Result<SdkTracerProvider, TelemetryError> {
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(service_name)
        .build();
    let builder = SdkTracerProvider::builder().with_resource(resource);
    // Without an endpoint spans still get ids, so trace context propagates; nothing is exported.
    if std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT").is_err() {
        return Ok(builder.build());
    }
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .build()
        .map_err(|e| TelemetryError::Exporter(e.to_string()))?;
    Ok(builder.with_batch_exporter(exporter).build())
}

/// Makes `span` a child of the W3C trace context in `headers`, when there is one.
pub fn set_parent_from_headers(span: &tracing::Span, headers: &http::HeaderMap) {
    let parent = TraceContextPropagator::new().extract(&HeaderExtractor(headers));
    if parent.span().span_context().is_valid() {
        let _ = span.set_parent(parent);
    }
}

/// Writes the current span's W3C trace context into outgoing HTTP/gRPC headers.
pub fn inject_current_context(headers: &mut http::HeaderMap) {
    let context = tracing::Span::current().context();
    TraceContextPropagator::new().inject_context(&context, &mut HeaderInjector(headers));
}

/// The trace id of `span` as 32 hex digits, or `None` when it has no valid context.
pub fn trace_id(span: &tracing::Span) -> Option<String> {
    let context = span.context();
    let span_context = context.span().span_context().clone();
    span_context
        .is_valid()
        .then(|| span_context.trace_id().to_string())
}

struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

struct HeaderInjector<'a>(&'a mut http::HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(key.as_bytes()),
            http::HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}
