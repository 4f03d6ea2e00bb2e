//! Resumes what a crash or an unavailable peer left unfinished: claims whose lease ran out
//! (OC-7, GP-9, PT-3), campaigns closed or ended but not yet settled (OC-9), and campaigns
//! whose provisioning was abandoned (their holds are given back).

use futures::StreamExt;

use crate::config::SagaConfig;
use crate::error::Error;
use crate::peers::Peers;
use crate::provisioning::open_card_gift;
use crate::saga::Saga;
use crate::store::{Store, claims, open_card_gifts};

/// Claims taken per pass.
const PASS: i64 = 256;

/// Runs until the task is dropped.
pub(crate) async fn run(store: Store, peers: Peers, saga: Saga, config: SagaConfig) {
    let mut tick =
        memberhub_kit::clock::Ticker::new("claim reconciler", saga.clock(), config.reconcile_every);
    loop {
        tick.tick().await;
        if let Err(e) = pass(&store, &peers, &saga, config.concurrency).await {
            tracing::warn!(error = %e, "reconciler pass failed");
        }
    }
}

/// One pass: every due claim, then every settleable campaign.
pub(crate) async fn pass(
    store: &Store,
    peers: &Peers,
    saga: &Saga,
    concurrency: usize,
) -> Result<(), Error> {
    let now = saga.clock().now();
    let due = {
        let mut conn = store.pool.acquire().await?;
        claims::due(&mut conn, now, PASS).await?
    };
    if !due.is_empty() {
        tracing::info!(claims = due.len(), "resuming unfinished claims");
    }
    futures::stream::iter(due)
        .for_each_concurrent(concurrency, |id| async move {
            if let Err(e) = saga.resume(id).await {
                tracing::warn!(claim_id = %id, error = %e, "claim resume failed");
            }
        })
        .await;
    let abandoned = {
        let mut conn = store.pool.acquire().await?;
        open_card_gifts::abandoned(&mut conn, now - open_card_gift::ABANDON_AFTER, PASS).await?
    };
    for id in abandoned {
        if let Err(e) = open_card_gift::abandon(store, peers, id, now).await {
            tracing::warn!(campaign_id = %id, error = %e, "giving back an abandoned campaign failed; retried next pass");
        }
    }
    let packs_abandoned = {
        let mut conn = store.pool.acquire().await?;
        crate::store::gift_pack_provisionings::abandoned(
            &mut conn,
            now - crate::provisioning::gift_pack::ABANDON_AFTER,
            PASS,
        )
        .await?
    };
    for provisioning in packs_abandoned {
        if let Err(e) = crate::provisioning::gift_pack::abandon(store, peers, &provisioning).await {
            tracing::warn!(pack_id = %provisioning.pack_id, error = %e, "giving back an abandoned pack provisioning failed; retried next pass");
        }
    }
    let settleable = {
        let mut conn = store.pool.acquire().await?;
        open_card_gifts::settleable(&mut conn, now - open_card_gift::SETTLE_GRACE, PASS).await?
    };
    for id in settleable {
        if let Err(e) = open_card_gift::settle(store, peers, id, now).await {
            tracing::warn!(campaign_id = %id, error = %e, "settling failed; retried next pass");
        }
    }
    // GP-3/GP-9: gift packs closed or ended, their allocations released once no claim grants.
    let packs = {
        let mut conn = store.pool.acquire().await?;
        crate::store::gift_packs::settleable(&mut conn, now, PASS).await?
    };
    for id in packs {
        if let Err(e) = crate::provisioning::gift_pack::settle(store, peers, id, now).await {
            tracing::warn!(pack_id = %id, error = %e, "settling a gift pack failed; retried next pass");
        }
    }
    Ok(())
}
