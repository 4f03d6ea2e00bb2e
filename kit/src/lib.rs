//! Shared service plumbing for every memberhub process. Nothing domain-specific lives here.
//!
//! - [`config`]: typed configuration from the environment.
//! - [`telemetry`]: tracing (pretty or JSON) with optional OTLP export, W3C trace context.
//! - [`server`]: the one gRPC server builder (health, reflection v1 + v1alpha, tower layers).
//! - [`metrics`]: the Prometheus `/metrics` endpoint and RED metrics per RPC.
//! - [`db`]: Postgres discovery, pools and per-service schema migrations.
//! - [`idempotency`]: the X-2 key and request fingerprint.
//! - [`error`]: the error vocabulary every service maps to, and its `tonic::Status` form.
//! - [`input`]: checks of caller input: text, enum numbers, page sizes, list lengths.
//! - [`actor`]: who is calling.
//! - [`auth`]: signed internal tokens proving the actor between processes.
//! - [`clock`]: the injectable clock.
//! - [`testing`]: a fresh migrated database per test.

pub mod actor;
pub mod auth;
pub mod background;
pub mod clock;
pub mod config;
pub mod db;
pub mod error;
pub mod idempotency;
pub mod input;
pub mod macros;
pub mod metrics;
pub mod peer;
pub mod pg_cluster;
pub mod random;
pub mod roles;
pub mod server;
pub mod telemetry;
pub mod testing;

/// A boxed error for `serve` functions that may fail for several reasons at start-up.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
