//! campaign-svc: open-card gifts, gift packs, sprint plans and their claims. Owns the `coupon` schema.
//!
//! Its contract (`memberhub.campaign.v1`) is declared; its RPCs are not served until the
//! campaign issue lands. Until then the process migrates its schema and serves health and
//! reflection only, so nothing pretends to work.

pub mod config;
pub mod domain;

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
    let pool = memberhub_kit::db::connect(
        &config.database_url,
        config.service.pool_size,
        "campaign-svc",
    )
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
    GrpcServer::new("campaign-svc", &config.service)?
        .advertise("memberhub.campaign.v1.CampaignService")
        .with_readiness(pool)
        .serve(listener, shutdown)
        .await
}
