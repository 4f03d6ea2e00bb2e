//! membership-svc: shops, membership programs, levels, members, order facts, the points
//! and asset ledger, and the domain-event feed. Owns the `membership` schema.

pub mod config;
mod convert;
pub mod domain;
pub mod error;
pub mod grpc;
pub mod store;

use memberhub_kit::clock::SharedClock;
use memberhub_kit::server::{GrpcServer, ServeError};
use memberhub_proto::membership::membership_service_server::MembershipServiceServer;

pub use config::Config;

/// This service's migrations (schema `membership`, history in `membership._sqlx_migrations`).
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// The gRPC service over an already-migrated pool.
pub fn service(
    pool: sqlx::PgPool,
    clock: SharedClock,
) -> MembershipServiceServer<grpc::Membership> {
    MembershipServiceServer::new(grpc::Membership::new(store::Store::new(pool), clock))
}

/// Connects, migrates, then serves on `listener` until `shutdown` completes. Health turns
/// SERVING only after migrations.
pub async fn serve(
    config: Config,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), memberhub_kit::BoxError> {
    let pool = memberhub_kit::db::connect(
        &config.database_url,
        config.service.pool_size,
        "membership-svc",
    )
    .await?;
    memberhub_kit::db::migrate(&pool, &MIGRATOR).await?;
    serve_migrated(
        &config,
        pool,
        memberhub_kit::clock::system(),
        listener,
        shutdown,
    )
    .await?;
    Ok(())
}

/// Serves over a pool whose schema is migrated (used in-process by `memberhub dev` and tests).
pub async fn serve_migrated(
    config: &Config,
    pool: sqlx::PgPool,
    clock: SharedClock,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServeError> {
    GrpcServer::new("membership-svc", &config.service)?
        .with_readiness(pool.clone())
        .add_service(service(pool, clock))
        .serve(listener, shutdown)
        .await
}
