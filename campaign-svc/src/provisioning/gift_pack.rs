//! GP-3/GP-9: what a gift pack holds in coupon-svc. Creating a pack reserves, per batch, an
//! allocation of the pack quantity (CRM channel), so that every claim's coupon steps are
//! issued against units set aside for it and a claimed pack is always granted whole.
//! Settling (after a close or the end, once no claim is granting) releases what is unused.

use chrono::{DateTime, Utc};
use memberhub_proto::common::CouponChannel;
use memberhub_proto::coupon as coupon_pb;
use uuid::Uuid;

use crate::domain::types::PackId;
use crate::error::Error;
use crate::peers::{self, Peers};
use crate::store::gift_pack_provisionings::{self, Provisioning};
use crate::store::{Store, gift_packs};

/// How long a pack's provisioning may stay RESERVING before the reconciler takes its
/// creator for dead and gives the units back (a create takes well under a second).
pub(crate) const ABANDON_AFTER: chrono::Duration = chrono::Duration::minutes(10);

/// Reserves `quantity` units of each batch for the pack, under `pack:<id>:alloc:<i>`; a
/// refusal gives back what was reserved so far and is returned.
#[tracing::instrument(skip_all, fields(pack_id = %pack))]
pub async fn reserve(
    peers: &Peers,
    pack: PackId,
    batch_ids: &[Uuid],
    quantity: i64,
) -> Result<Vec<Uuid>, Error> {
    let mut taken = Vec::with_capacity(batch_ids.len());
    for (i, batch_id) in batch_ids.iter().enumerate() {
        let mut coupon = peers.coupon.clone();
        let reserved = peers::answer(
            coupon
                .reserve_allocation(peers::request(coupon_pb::ReserveAllocationRequest {
                    request_id: format!("pack:{pack}:alloc:{i}"),
                    batch_id: batch_id.to_string(),
                    channel: CouponChannel::Crm as i32,
                    holder: pack.to_string(),
                    quantity,
                    claim_start_time: None,
                    claim_end_time: None,
                    bind: false,
                }))
                .await,
        )
        .and_then(|a| {
            Uuid::parse_str(&a.allocation_id)
                .map_err(|_| Error::CorruptRow("peer returned a malformed allocation id"))
        });
        match reserved {
            Ok(id) => taken.push(id),
            Err(e) => {
                if let Err(undo) = release(peers, pack, &taken, "undo").await {
                    tracing::warn!(pack_id = %pack, error = %undo, "giving back allocations failed");
                }
                return Err(e);
            }
        }
    }
    Ok(taken)
}

/// Releases the pack's allocations, each under `pack:<id>:<stage>:<i>` (idempotent).
pub(crate) async fn release(
    peers: &Peers,
    pack: PackId,
    allocations: &[Uuid],
    stage: &str,
) -> Result<(), Error> {
    for (i, allocation) in allocations.iter().enumerate() {
        let mut coupon = peers.coupon.clone();
        peers::answer(
            coupon
                .release_allocation(peers::request(coupon_pb::ReleaseAllocationRequest {
                    request_id: format!("pack:{pack}:{stage}:{i}"),
                    allocation_id: allocation.to_string(),
                }))
                .await,
        )?;
    }
    Ok(())
}

/// Gives back what an abandoned provisioning reserved: replaying its reservations (same
/// keys) finds exactly the allocations it took (and a unit it never took is reserved and
/// given back at once), then each is released under the creator's own undo keys. Fenced
/// first, so a creator that wakes up late can no longer record the pack.
pub(crate) async fn abandon(
    store: &Store,
    peers: &Peers,
    provisioning: &Provisioning,
) -> Result<(), Error> {
    let pack = provisioning.pack_id;
    {
        let mut conn = store.pool.acquire().await?;
        if !gift_pack_provisionings::fence(&mut conn, pack).await? {
            return Ok(());
        }
    }
    match reserve(peers, pack, &provisioning.batch_ids, provisioning.quantity).await {
        Ok(allocations) => release(peers, pack, &allocations, "undo").await?,
        // A refused replay gave back what it found; nothing else was ever taken.
        Err(Error::PeerRefused(_)) => {}
        Err(other) => return Err(other),
    }
    let mut conn = store.pool.acquire().await?;
    gift_pack_provisionings::mark_abandoned(&mut conn, pack).await?;
    tracing::warn!(pack_id = %pack, "abandoned gift pack provisioning given back");
    Ok(())
}

/// Settles a closed or ended pack once no claim of it is granting: unused gift-item units
/// back to stock, allocations released. False when not yet possible (retried later).
pub(crate) async fn settle(
    store: &Store,
    peers: &Peers,
    id: PackId,
    now: DateTime<Utc>,
) -> Result<bool, Error> {
    let pack = {
        let mut tx = store.pool.begin().await?;
        let pack = gift_packs::begin_settle(&mut tx, id, now).await?;
        tx.commit().await?;
        pack
    };
    let Some(pack) = pack else {
        return Ok(false);
    };
    release(peers, id, &pack.allocation_ids, "settle").await?;
    let mut conn = store.pool.acquire().await?;
    gift_packs::mark_settled(&mut conn, id, now).await?;
    tracing::info!(pack_id = %id, "gift pack settled");
    Ok(true)
}
