//! membership-svc: shops, membership programs, levels, members, order facts, the points
//! and asset ledger, and the domain-event feed. Owns the `membership` schema.

pub mod config;
mod convert;
mod domain;
mod error;
mod grpc;
mod store;

/// The limits membership-svc enforces on its inputs, for the gateway's published schema to
/// be checked against (not the service's API).
pub mod limits {
    pub mod ledger {
        pub use crate::domain::ledger::MAX_AMOUNT;
    }
    pub mod levels {
        pub use crate::domain::levels::{
            MAX_ITEM_ID_CHARS, MAX_ITEM_TITLE_CHARS, MAX_LEVEL_NAME_CHARS,
        };
    }
    pub mod members {
        pub use crate::domain::members::MAX_NICKNAME_CHARS;
    }
    pub mod program {
        pub use crate::domain::program::{MAX_CARD_NAME_CHARS, MAX_LEVELS};
    }
    pub mod shop {
        pub use crate::domain::shop::MAX_SHOP_NAME_CHARS;
    }
}

/// The SMS messages the recording sender kept (MP-4), for `memberhub dev` to show and tests
/// to read the code from. The production sender keeps nothing.
pub mod sms {
    pub use crate::store::sms::{RecordedSms, latest_messages, recorded_messages};
}

/// PT-5 expiry and retention, run by hand (the benchmark, the tests) as the sweep runs them.
pub mod maintenance {
    pub use crate::store::ledger::{EXPIRY_CHUNK_MEMBERS, expire_due};
    pub use crate::store::retention::prune;
}

use memberhub_kit::clock::SharedClock;
use memberhub_kit::server::{GrpcServer, ServeError};
use memberhub_proto::membership::membership_service_server::MembershipServiceServer;

pub use config::Config;

/// This service's migrations (schema `membership`, history in `membership._sqlx_migrations`).
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// The gRPC service over an already-migrated pool.
pub(crate) fn service(
    config: &Config,
    pool: sqlx::PgPool,
    clock: SharedClock,
) -> MembershipServiceServer<grpc::Membership> {
    let key = config.phone_hash_key();
    let sender = std::sync::Arc::new(store::sms::RecordingSender { key: key.clone() });
    MembershipServiceServer::new(grpc::Membership::new(
        store::Store::new(pool),
        clock,
        key,
        sender,
    ))
}

/// PT-5: how often the service expires due points lots by itself.
pub const EXPIRY_SWEEP: std::time::Duration = std::time::Duration::from_secs(3600);

/// PT-5: expires due points lots every `every` (hourly in production), for as long as the
/// server runs, in bounded chunks (see `store::ledger::expire_due`); then prunes what has
/// outlived its retention. "Due" is judged by `clock`, in each shop's time zone.
async fn sweep(pool: sqlx::PgPool, clock: SharedClock, every: std::time::Duration) {
    let mut tick = memberhub_kit::clock::Ticker::new("points expiry", &clock, every);
    loop {
        tick.tick().await;
        match store::ledger::expire_due(&pool, None, clock.now()).await {
            Ok((lots, points)) if lots > 0 => tracing::info!(lots, points, "points expired"),
            Ok(_) => {}
            Err(error) => tracing::warn!(error = %error, "points expiry sweep failed"),
        }
        if let Err(error) = store::retention::prune(&pool, clock.now()).await {
            tracing::warn!(error = %error, "pruning failed");
        }
    }
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

/// Serves over a pool whose schema is migrated (used in-process by `memberhub dev` and tests),
/// sweeping expired points hourly.
pub async fn serve_migrated(
    config: &Config,
    pool: sqlx::PgPool,
    clock: SharedClock,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServeError> {
    serve_migrated_sweeping(config, pool, clock, EXPIRY_SWEEP, listener, shutdown).await
}

/// [`serve_migrated`] with the PT-5 sweep every `sweep_every` instead of hourly, so a test can
/// move the clock and see the service expire points by itself.
pub async fn serve_migrated_sweeping(
    config: &Config,
    pool: sqlx::PgPool,
    clock: SharedClock,
    sweep_every: std::time::Duration,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServeError> {
    let server = GrpcServer::new("membership-svc", &config.process.service)?
        .with_readiness(pool.clone())
        .add_service(service(config, pool.clone(), clock.clone()))
        .serve(listener, shutdown);
    tokio::select! {
        served = server => served,
        () = sweep(pool, clock, sweep_every) => Ok(()),
    }
}
