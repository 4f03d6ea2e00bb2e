//! campaign-svc: open-card gifts, gift packs, points exchanges and their claims
//! (OC-1..OC-10, GP-1..GP-9, PT-3), and member sprint plans (SP-1..SP-8). Owns the `campaign` schema.
//!
//! Data flows one way: `grpc` (decode, authorise) -> `domain` (pure rules) -> `store` (SQL,
//! transactions). A claim is a saga (`saga`): planned by `domain::claim`, recorded once in
//! this schema, then granted by idempotent calls to coupon-svc and membership-svc (`peers`)
//! from the runner (`saga::runner`). Background tasks run beside the server:
//! `saga::consumer` follows membership-svc's events (cards opened -> open-card gift claims;
//! confirmed and refunded orders -> sprint spend), `sprint_award` runs sprint plans' awards
//! when their phase comes (SP-6), and `saga::reconciler` resumes unfinished claims and settles or gives back what
//! `provisioning` (open-card gifts, gift packs) holds in the other services.

pub mod config;
mod convert;
mod domain;
mod error;
mod grpc;
mod peers;
mod provisioning;
mod saga;
mod sprint_award;
mod store;

/// The limits campaign-svc enforces on its inputs, for the gateway's published schema to be
/// checked against (not the service's API).
pub mod limits {
    pub use crate::domain::gift_pack::{
        MAX_BATCHES, MAX_LEVEL, MAX_NAME_CHARS as MAX_PACK_NAME_CHARS, MAX_SKU_CHARS,
        MAX_TITLE_CHARS,
    };
    pub use crate::domain::open_card_gift::{
        MAX_AMOUNT, MAX_NAME_CHARS as MAX_GIFT_NAME_CHARS, MAX_PRIZES,
    };
    pub use crate::domain::types::{MAX_REF_CHARS, MAX_USER_ID_CHARS};
}

/// What the fault tests reach inside the service to stage a crash or a stale runner (not
/// the service's API).
#[doc(hidden)]
pub mod testing {
    pub use crate::domain::claim::{ClaimState, Claimed, plan};
    pub use crate::domain::types::{ClaimId, PackId, ShopId};
    pub use crate::peers::Peers;
    pub use crate::provisioning::gift_pack::reserve;
    pub use crate::store::claims::{ClaimKind, Lease, NewClaim};
    pub use crate::store::gift_pack_provisionings::Provisioning;

    /// Claim records, written as a runner writes them (fenced by its lease).
    pub mod claims {
        pub use crate::store::claims::{get, insert, postpone, save, take_lease};
    }

    /// A gift pack's provisioning record, as `CreateGiftPack` writes it.
    pub mod gift_pack_provisionings {
        pub use crate::store::gift_pack_provisionings::{begin, mark_recorded};
    }
}

use memberhub_kit::background::supervise;
use memberhub_kit::clock::SharedClock;
use memberhub_kit::server::{GrpcServer, ServeError};
use memberhub_proto::campaign::campaign_service_server::CampaignServiceServer;

pub use config::Config;

/// This service's migrations (schema `campaign`, history in `campaign._sqlx_migrations`).
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Connects, migrates, then serves on `listener` until `shutdown` completes.
pub async fn serve(
    config: Config,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), memberhub_kit::BoxError> {
    let pool = memberhub_kit::db::connect(
        &config.process.database_url,
        config.process.service.pool_size,
        "campaign-svc",
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
/// load generator and tests), with the event consumer and the reconciler running beside
/// the server until it stops.
pub async fn serve_migrated(
    config: &Config,
    pool: sqlx::PgPool,
    clock: SharedClock,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServeError> {
    let peers = peers::Peers::connect_lazy(
        &config.membership_url,
        &config.coupon_url,
        config.signer.clone(),
    )?;
    let store = store::Store::new(pool.clone());
    let saga = saga::Saga::new(
        store.clone(),
        peers.clone(),
        clock.clone(),
        config.saga,
        config.faults.clone(),
    );
    let consumer_health = saga::consumer::ConsumerHealth::new();
    let mut background = tokio::task::JoinSet::new();
    {
        let (store, peers, saga, health) = (
            store.clone(),
            peers.clone(),
            saga.clone(),
            consumer_health.clone(),
        );
        background.spawn(supervise("event consumer", move || {
            saga::consumer::run(store.clone(), peers.clone(), saga.clone(), health.clone())
        }));
    }
    {
        let (store, peers, saga, every) = (store.clone(), peers.clone(), saga.clone(), config.saga);
        background.spawn(supervise("reconciler", move || {
            let (store, peers, saga) = (store.clone(), peers.clone(), saga.clone());
            async move {
                saga::reconciler::run(store, peers, saga, every).await;
                Ok::<(), std::convert::Infallible>(())
            }
        }));
    }
    {
        let (pool, clock) = (pool.clone(), clock.clone());
        background.spawn(supervise("idempotency key pruning", move || {
            let (pool, clock) = (pool.clone(), clock.clone());
            async move {
                memberhub_kit::idempotency::prune_hourly(pool, "campaign.idempotency_keys", clock)
                    .await;
                Ok::<(), std::convert::Infallible>(())
            }
        }));
    }
    {
        let awards = sprint_award::Awards {
            store: store.clone(),
            peers: peers.clone(),
            clock: clock.clone(),
            lease: config.saga.lease,
            faults: config.faults.clone(),
            holder: uuid::Uuid::now_v7(),
        };
        let every = config.saga.award_every;
        background.spawn(supervise("sprint award", move || {
            let awards = awards.clone();
            async move {
                sprint_award::run(awards, every).await;
                Ok::<(), std::convert::Infallible>(())
            }
        }));
    }
    let lag_limit = config.saga.consumer_lag_limit;
    let service = CampaignServiceServer::new(grpc::Campaigns::new(store, peers, saga, clock));
    let served = GrpcServer::new("campaign-svc", &config.process.service)?
        .with_readiness(pool)
        .with_readiness_check(std::sync::Arc::new(move || {
            consumer_health.check(lag_limit)
        }))
        .add_service(service)
        .serve(listener, shutdown)
        .await;
    background.abort_all();
    served
}
