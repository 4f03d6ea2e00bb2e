//! coupon-svc: coupon batches, allocations, issued coupons, locks and redemptions
//! (CP-1..CP-9). Owns the `coupon` schema.
//!
//! Data flows one way: `grpc` (decode, authorise) -> `domain` (pure rules) -> `store` (SQL,
//! transactions). Issuing goes through `issuer`, which coalesces concurrent requests per
//! batch into set-based transactions; cart evaluation reads the shopper's level benefits from
//! membership-svc through `members` (LV-6); see `ARCHITECTURE.md`.

pub mod config;
mod convert;
mod domain;
mod error;
mod grpc;
mod issuer;
mod members;
mod store;

/// The limits coupon-svc enforces on its inputs, for the gateway's published schema to be
/// checked against (not the service's API).
pub mod limits {
    pub mod batch {
        pub use crate::domain::batch::{
            MAX_CODE_CHARS, MAX_FEN, MAX_INTERNAL_NAME_CHARS, MAX_PER_ISSUE, MAX_PER_USER_LIMIT,
            MAX_QUANTITY, MAX_REASON_CHARS, MAX_SCOPE_ENTRIES, RELATIVE_DAYS,
        };
    }
    pub mod coupon {
        pub use crate::domain::coupon::{MAX_COUPONS_PER_CALL, MAX_LINE_QUANTITY, MAX_LINES};
    }
}

use memberhub_kit::clock::SharedClock;
use memberhub_kit::server::{GrpcServer, ServeError};
use memberhub_proto::coupon::coupon_service_server::CouponServiceServer;

pub use config::Config;

/// This service's migrations (schema `coupon`, history in `coupon._sqlx_migrations`).
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// The gRPC service over an already-migrated pool.
fn service(
    pool: sqlx::PgPool,
    clock: SharedClock,
    members: members::Members,
) -> CouponServiceServer<grpc::Coupons> {
    let issuer = issuer::Issuer::new(pool.clone(), clock.clone());
    CouponServiceServer::new(grpc::Coupons::new(
        store::Store::new(pool),
        issuer,
        members,
        clock,
    ))
}

/// Connects, migrates, then serves on `listener` until `shutdown` completes. Health turns
/// SERVING only after migrations.
pub async fn serve(
    config: Config,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), memberhub_kit::BoxError> {
    let pool = memberhub_kit::db::connect(
        &config.process.database_url,
        config.process.service.pool_size,
        "coupon-svc",
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

/// Serves over a pool whose schema is migrated (used in-process by `memberhub dev`, the
/// load generator and tests).
pub async fn serve_migrated(
    config: &Config,
    pool: sqlx::PgPool,
    clock: SharedClock,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServeError> {
    let members =
        members::Members::connect_lazy(config.membership_url.as_deref(), config.signer.clone())?;
    let server = GrpcServer::new("coupon-svc", &config.process.service)?
        .with_readiness(pool.clone())
        .add_service(service(pool.clone(), clock.clone(), members))
        .serve(listener, shutdown);
    tokio::select! {
        served = server => served,
        () = memberhub_kit::idempotency::prune_hourly(pool, "coupon.idempotency_keys", clock) => Ok(()),
    }
}
