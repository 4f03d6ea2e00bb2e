//! OC-3, OC-5, OC-6, OC-9: what an open-card gift holds in other services. Provisioning
//! takes the join hold, the budget and the coupon allocations, each under a key derived from
//! the campaign, so a retried create resumes instead of reserving twice; a refusal gives
//! back whatever was taken. Settling (after a close or the end, once no claim is granting)
//! gives back what is unused.

use chrono::{DateTime, Utc};
use memberhub_kit::clock::to_timestamp;
use memberhub_proto::common::{Asset, CouponChannel};
use memberhub_proto::coupon as coupon_pb;
use memberhub_proto::membership as membership_pb;
use uuid::Uuid;

use crate::domain::open_card_gift::{PrizeType, pack_stock};
use crate::domain::types::CampaignId;
use crate::error::{Error, reason_of};
use crate::peers::{self, Peers};
use crate::store::Store;
use crate::store::open_card_gifts::{self, GiftRecord, Phase, Provisioned, ProvisioningFailure};

/// How long after its end an open campaign is settled: card openings from its last moments
/// may still be on their way through the event stream.
pub(crate) const SETTLE_GRACE: chrono::Duration = chrono::Duration::minutes(1);

fn budget_asset(prize_type: PrizeType) -> Option<Asset> {
    match prize_type {
        PrizeType::Beans => Some(Asset::Beans),
        PrizeType::RedPacket => Some(Asset::RedPacket),
        PrizeType::DataPack => Some(Asset::DataPack),
        _ => None,
    }
}

/// What provisioning took so far (given back if a later step is refused).
#[derive(Default)]
struct Taken {
    hold: bool,
    provisioned: Vec<Provisioned>,
}

/// Provisions a PROVISIONING campaign and makes it READY; a refusal is compensated and
/// recorded (the campaign becomes FAILED) and returned.
pub(crate) async fn provision(
    store: &Store,
    peers: &Peers,
    gift: &GiftRecord,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let mut taken = Taken::default();
    match take(peers, gift, &mut taken).await {
        Ok(()) => {
            let capacities: Vec<Option<i64>> = gift.prizes.iter().map(|p| p.capacity).collect();
            let packs = pack_stock(gift.gift_quantity, &capacities);
            let mut tx = store.pool.begin().await?;
            let ready =
                open_card_gifts::mark_ready(&mut tx, gift.id, &taken.provisioned, packs).await?;
            tx.commit().await?;
            if ready {
                return Ok(());
            }
            // The reconciler gave up on this provisioning meanwhile: its answer stands.
            let mut conn = store.pool.acquire().await?;
            let current = open_card_gifts::get(&mut conn, gift.id).await?;
            Err(current
                .failure
                .as_ref()
                .map(replay)
                .unwrap_or(Error::CorruptRow("open_card_gifts.failure")))
        }
        Err(Error::PeerRefused(status)) => {
            let failure = refusal(gift, &status);
            give_back(peers, gift, &taken, "undo").await?;
            let mut conn = store.pool.acquire().await?;
            open_card_gifts::mark_failed(&mut conn, gift.id, &failure, now).await?;
            Err(replay(&failure))
        }
        Err(other) => Err(other),
    }
}

/// The refusal as the merchant reads it: OC-5 speaks of budget, not of the ledger.
fn refusal(gift: &GiftRecord, status: &tonic::Status) -> ProvisioningFailure {
    let reason = reason_of(status).unwrap_or_else(|| format!("{:?}", status.code()).to_uppercase());
    if reason == "BUDGET_EXHAUSTED" || status.code() == tonic::Code::ResourceExhausted {
        return ProvisioningFailure {
            code: tonic::Code::FailedPrecondition,
            reason: "INSUFFICIENT_BUDGET".into(),
            message: format!(
                "the shop's budget cannot cover gift quantity {} × the prize amount; recharge first ({})",
                gift.gift_quantity,
                status.message()
            ),
        };
    }
    ProvisioningFailure {
        code: status.code(),
        reason,
        message: status.message().to_string(),
    }
}

/// A recorded refusal as the error a (retried) create returns.
pub(crate) fn replay(failure: &ProvisioningFailure) -> Error {
    Error::Replayed {
        code: failure.code,
        reason: failure.reason.clone(),
        message: failure.message.clone(),
    }
}

async fn take(peers: &Peers, gift: &GiftRecord, taken: &mut Taken) -> Result<(), Error> {
    let mut membership = peers.membership.clone();
    let mut coupon = peers.coupon.clone();
    peers::answer(
        membership
            .hold_card_join(peers::request(membership_pb::HoldCardJoinRequest {
                request_id: format!("oc:{}:hold", gift.id),
                shop_id: gift.shop_id.to_string(),
                holder: gift.id.to_string(),
                end_time: Some(to_timestamp(gift.window.end())),
            }))
            .await,
    )?;
    taken.hold = true;
    for prize in &gift.prizes {
        let mut provisioned = Provisioned {
            position: prize.position,
            allocation_id: None,
            reservation_id: None,
        };
        if let Some(asset) = budget_asset(prize.prize_type) {
            let reservation = peers::answer(
                membership
                    .reserve_budget(peers::request(membership_pb::ReserveBudgetRequest {
                        request_id: format!("oc:{}:budget:{}", gift.id, prize.position),
                        shop_id: gift.shop_id.to_string(),
                        asset: asset as i32,
                        amount: prize.capacity.unwrap_or(0).saturating_mul(prize.amount),
                        purpose: format!("open-card gift {}", gift.id),
                    }))
                    .await,
            )?;
            provisioned.reservation_id = parse_id(&reservation.reservation_id)?;
        } else if let (true, Some(batch_id)) = (prize.prize_type.is_coupon(), prize.batch_id) {
            let allocation = peers::answer(
                coupon
                    .reserve_allocation(peers::request(coupon_pb::ReserveAllocationRequest {
                        request_id: format!("oc:{}:alloc:{}", gift.id, prize.position),
                        batch_id: batch_id.to_string(),
                        channel: CouponChannel::Interactive as i32,
                        holder: gift.id.to_string(),
                        quantity: prize.capacity.unwrap_or(0),
                        claim_start_time: Some(to_timestamp(gift.window.start())),
                        claim_end_time: Some(to_timestamp(gift.window.end())),
                        bind: true,
                    }))
                    .await,
            )?;
            provisioned.allocation_id = parse_id(&allocation.allocation_id)?;
        }
        taken.provisioned.push(provisioned);
    }
    Ok(())
}

fn parse_id(raw: &str) -> Result<Option<Uuid>, Error> {
    Uuid::parse_str(raw)
        .map(Some)
        .map_err(|_| Error::CorruptRow("peer returned a malformed id"))
}

/// Releases what `taken` holds, each under `oc:<id>:<stage>:<what>`.
async fn give_back(
    peers: &Peers,
    gift: &GiftRecord,
    taken: &Taken,
    stage: &str,
) -> Result<(), Error> {
    for p in &taken.provisioned {
        release_prize(
            peers,
            gift,
            p.position,
            p.reservation_id,
            p.allocation_id,
            stage,
        )
        .await?;
    }
    if taken.hold {
        release_hold(peers, gift, stage).await?;
    }
    Ok(())
}

async fn release_prize(
    peers: &Peers,
    gift: &GiftRecord,
    position: i32,
    reservation_id: Option<Uuid>,
    allocation_id: Option<Uuid>,
    stage: &str,
) -> Result<(), Error> {
    let request_id = format!("oc:{}:{stage}:{position}", gift.id);
    if let Some(reservation_id) = reservation_id {
        let mut membership = peers.membership.clone();
        peers::answer(
            membership
                .release_budget_reservation(peers::request(
                    membership_pb::ReleaseBudgetReservationRequest {
                        request_id: request_id.clone(),
                        reservation_id: reservation_id.to_string(),
                    },
                ))
                .await,
        )?;
    }
    if let Some(allocation_id) = allocation_id {
        let mut coupon = peers.coupon.clone();
        peers::answer(
            coupon
                .release_allocation(peers::request(coupon_pb::ReleaseAllocationRequest {
                    request_id,
                    allocation_id: allocation_id.to_string(),
                }))
                .await,
        )?;
    }
    Ok(())
}

async fn release_hold(peers: &Peers, gift: &GiftRecord, stage: &str) -> Result<(), Error> {
    let mut membership = peers.membership.clone();
    let released = membership
        .release_card_join_hold(peers::request(membership_pb::ReleaseCardJoinHoldRequest {
            request_id: format!("oc:{}:{stage}:hold", gift.id),
            shop_id: gift.shop_id.to_string(),
            holder: gift.id.to_string(),
        }))
        .await;
    match released {
        Ok(_) => Ok(()),
        Err(status) if status.code() == tonic::Code::NotFound => Ok(()),
        Err(status) => Err(Error::from_peer(status)),
    }
}

/// How long a campaign may stay PROVISIONING before the reconciler gives back what it took.
pub(crate) const ABANDON_AFTER: chrono::Duration = chrono::Duration::minutes(10);

/// Gives back what an abandoned provisioning holds and fails the campaign. Replaying the
/// provisioning's own requests (same keys) finds exactly what it took; anything that replay
/// takes anew is given back with the rest.
pub(crate) async fn abandon(
    store: &Store,
    peers: &Peers,
    id: CampaignId,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let failure = ProvisioningFailure {
        code: tonic::Code::Aborted,
        reason: "PROVISIONING_ABANDONED".into(),
        message:
            "the campaign's creation did not finish and was not retried in time; create it again"
                .into(),
    };
    let gift = {
        let mut conn = store.pool.acquire().await?;
        open_card_gifts::fence_abandoned(&mut conn, id, &failure).await?;
        open_card_gifts::get(&mut conn, id).await?
    };
    if gift.phase != Phase::Provisioning {
        return Ok(());
    }
    let mut taken = Taken::default();
    match take(peers, &gift, &mut taken).await {
        Ok(()) | Err(Error::PeerRefused(_)) => {}
        Err(other) => {
            // Not now: undo what this pass took; the next pass starts over.
            give_back(peers, &gift, &taken, "abandon").await?;
            return Err(other);
        }
    }
    give_back(peers, &gift, &taken, "abandon").await?;
    let mut conn = store.pool.acquire().await?;
    open_card_gifts::mark_failed(&mut conn, id, &failure, now).await?;
    tracing::warn!(campaign_id = %id, "abandoned provisioning given back");
    Ok(())
}

/// Whether a campaign is due for settling at `now`.
pub(crate) fn due_for_settling(gift: &GiftRecord, now: DateTime<Utc>) -> bool {
    gift.phase == Phase::Ready
        && gift.settled_at.is_none()
        && (gift.closed_at.is_some() || gift.window.end() + SETTLE_GRACE <= now)
}

/// OC-9: gives back what the campaign did not use, once no claim of it is granting. Returns
/// whether it is settled now.
pub(crate) async fn settle(
    store: &Store,
    peers: &Peers,
    id: CampaignId,
    now: DateTime<Utc>,
) -> Result<bool, Error> {
    let gift = {
        let mut tx = store.pool.begin().await?;
        let gift = open_card_gifts::lock(&mut tx, id).await?;
        if gift.settled_at.is_some() {
            return Ok(true);
        }
        if !due_for_settling(&gift, now)
            || open_card_gifts::has_unfinished_claims(&mut tx, id).await?
        {
            return Ok(false);
        }
        // No claim can start from here on: the packs are gone (OC-9).
        open_card_gifts::stop_claims(&mut tx, id).await?;
        tx.commit().await?;
        gift
    };
    for prize in gift.prizes.iter().filter(|p| !p.released) {
        release_prize(
            peers,
            &gift,
            prize.position,
            prize.reservation_id,
            prize.allocation_id,
            "settle",
        )
        .await?;
        let mut conn = store.pool.acquire().await?;
        open_card_gifts::mark_prize_released(&mut conn, id, prize.position, now).await?;
    }
    release_hold(peers, &gift, "settle").await?;
    let mut conn = store.pool.acquire().await?;
    open_card_gifts::mark_settled(&mut conn, id, now).await?;
    tracing::info!(campaign_id = %id, "open-card gift settled");
    Ok(true)
}
