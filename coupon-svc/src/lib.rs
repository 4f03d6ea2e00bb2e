//! coupon-svc: coupon batches, allocations, issued coupons, locks and redemptions. Owns the `coupon` schema.
//!
//! Its contract (`memberhub.coupon.v1`) is declared; its RPCs are not served until the
//! coupon issue lands. Until then the process migrates its schema and serves health and
//! reflection only, so nothing pretends to work.

pub mod config;

use memberhub_kit::server::{GrpcServer, ServeError};

pub use config::Config;

/// This service's migrations (schema `coupon`, history in `coupon._sqlx_migrations`).
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Connects, migrates, then serves on `listener` until `shutdown` completes.
pub async fn serve(
    config: Config,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), memberhub_kit::BoxError> {
    let pool =
        memberhub_kit::db::connect(&config.database_url, config.service.pool_size, "coupon-svc")
            .await?;
    memberhub_kit::db::migrate(&pool, &MIGRATOR).await?;
    serve_migrated(&config, pool, listener, shutdown).await?;
    Ok(())
}

/// Serves over a pool whose schema is migrated (used in-process by `memberhub dev` and tests).
pub async fn serve_migrated(
    config: &Config,
    pool: sqlx::PgPool,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServeError> {
    GrpcServer::new("coupon-svc", &config.service)?
        .advertise("memberhub.coupon.v1.CouponService")
        .with_readiness(pool)
        .serve(listener, shutdown)
        .await
}
