//! GP-8: the shop's new-member exclusive coupon and/or gift, and a new member's one claim of
//! one of them (independent of the new-member pack).

use memberhub_kit::error::Failure;
use memberhub_kit::idempotency::IdempotencyKey;
use memberhub_proto::campaign as pb;
use tonic::{Request, Response};

use super::gift_packs::{batches, gift_item, member, prefixed, user_id};
use super::open_card_gifts::shop_view;
use super::{Campaigns, Rpc, actor, one};
use crate::convert;
use crate::domain::claim::{Claimed, CouponGrant, plan};
use crate::domain::gift_pack::{ExclusiveChoice, ExclusiveOffer, check_exclusive_claim};
use crate::domain::types::{ClaimId, ShopId};
use crate::error::Error;
use crate::store::claims::{self, ClaimKind, Lease, NewClaim};
use crate::store::exclusives::{self, ExclusiveRecord};

/// GP-8: a shopper's one exclusive claim in the shop.
pub(super) fn once_key(shop: ShopId, user: &str) -> String {
    format!("exclusive:{shop}:{user}")
}

pub(super) async fn set(
    svc: &Campaigns,
    request: Request<pb::SetNewMemberExclusiveRequest>,
) -> Rpc<pb::NewMemberExclusive> {
    let actor = actor(&request)?;
    let request = request.into_inner();
    let raw = request.exclusive.clone().unwrap_or_default();
    let shop = one(ShopId::parse("exclusive.shop_id", &raw.shop_id))?;
    actor.ensure_shop_admin(&shop.to_string())?;
    let key = IdempotencyKey::new(
        &actor,
        "SetNewMemberExclusive",
        &request.request_id,
        &request,
    )?;
    let (view, _) = shop_view(svc, shop).await?;
    let keys: Vec<String> = [raw.batch_key.trim()]
        .into_iter()
        .filter(|k| !k.is_empty())
        .map(str::to_string)
        .collect();
    let coupon = batches(svc, "exclusive.batch_key", &keys).await?.pop();
    let gift = gift_item(svc, "exclusive.gift_item", shop, raw.gift_item.as_ref()).await?;
    let now = svc.clock.now();
    let offer =
        ExclusiveOffer::parse(&view, coupon.as_ref().map(|(b, _)| b), gift, now).map_err(|f| {
            match prefixed(f, "exclusive.") {
                // The domain names the coupon by the contract's older name.
                Failure::InvalidArgument(vs) => Failure::InvalidArgument(
                    vs.into_iter()
                        .map(|mut v| {
                            v.field = v.field.replace("coupon_batch_key", "batch_key");
                            v
                        })
                        .collect(),
                ),
                other => other,
            }
        })?;
    let batch_id = coupon.map(|(_, id)| id);
    let saved = svc
        .store
        .idempotent(&key, now, async |tx| {
            let record = exclusives::set(tx, shop, &offer, batch_id, now).await?;
            Ok(convert::exclusive(&record))
        })
        .await?;
    tracing::info!(shop_id = %shop, "new-member exclusive set");
    Ok(Response::new(saved))
}

async fn offer(svc: &Campaigns, shop: ShopId) -> Result<ExclusiveRecord, crate::error::Error> {
    let mut conn = svc.conn().await?;
    exclusives::get(&mut conn, shop)
        .await?
        .ok_or_else(|| crate::error::Error::not_found("new-member exclusive of shop", shop))
}

pub(super) async fn get(
    svc: &Campaigns,
    request: Request<pb::GetNewMemberExclusiveRequest>,
) -> Rpc<pb::NewMemberExclusive> {
    let actor = actor(&request)?;
    actor.ensure_any()?;
    let shop = one(ShopId::parse("shop_id", &request.get_ref().shop_id))?;
    Ok(Response::new(convert::exclusive(&offer(svc, shop).await?)))
}

pub(super) async fn claim(
    svc: &Campaigns,
    request: Request<pb::ClaimNewMemberExclusiveRequest>,
) -> Rpc<pb::Claim> {
    let actor = actor(&request)?;
    let request = request.into_inner();
    let shop = one(ShopId::parse("shop_id", &request.shop_id))?;
    let user = user_id(&request.user_id)?;
    actor.ensure_user(&user)?;
    let choice = match pb::ExclusiveChoice::try_from(request.choice) {
        Ok(pb::ExclusiveChoice::Coupon) => ExclusiveChoice::Coupon,
        Ok(pb::ExclusiveChoice::Gift) => ExclusiveChoice::Gift,
        _ => return Err(Failure::invalid("choice", "must be COUPON or GIFT").into()),
    };
    let key = IdempotencyKey::new(
        &actor,
        "ClaimNewMemberExclusive",
        &request.request_id,
        &request,
    )?;
    let mine = (ClaimId::new(), Lease::new());
    // a retry gets the first answer, even when the offer has changed since.
    let recorded = match svc.store.stored::<pb::Claim>(&key).await? {
        Some(first) => first,
        None => record_claim(svc, &key, shop, &user, choice, mine).await?,
    };
    let granted = svc.claim_reply(&recorded, mine).await?;
    tracing::info!(claim_id = %granted.id, shop_id = %shop, state = granted.progress.state().as_db(), "new-member exclusive claimed");
    Ok(Response::new(convert::claim(&granted)))
}

/// Checks the claim against the shop's offer and the shopper's membership, and records it.
async fn record_claim(
    svc: &Campaigns,
    key: &IdempotencyKey,
    shop: ShopId,
    user: &str,
    choice: ExclusiveChoice,
    (id, lease): (ClaimId, Lease),
) -> Result<pb::Claim, tonic::Status> {
    let record = offer(svc, shop).await.map_err(|e| match e {
        crate::error::Error::NotFound { .. } => Failure::precondition(
            "EXCLUSIVE_NOT_OFFERED",
            "the shop offers no new-member exclusive",
        )
        .into(),
        other => other,
    })?;
    let view = member(svc, shop, user).await?;
    let now = svc.clock.now();
    let lease_until = svc.saga.lease_until(now);
    let once = once_key(shop, user);
    // The offer's chosen half; `None` when the shop does not offer it (refused by the check
    // below). A coupon without its batch id is a malformed row, never zero steps.
    let coupon = match (&record.offer.coupon, record.batch_id) {
        (Some(batch_key), Some(batch_id)) => Some(CouponGrant {
            batch_key: batch_key.clone(),
            batch_id,
            allocation_id: None,
        }),
        (Some(_), None) => return Err(Error::CorruptRow("new_member_exclusives.batch_id").into()),
        (None, _) => None,
    };
    let steps = match choice {
        ExclusiveChoice::Coupon => coupon
            .as_ref()
            .map(|coupon| plan(id, &Claimed::ExclusiveCoupon { coupon })),
        ExclusiveChoice::Gift => record
            .offer
            .gift
            .as_ref()
            .map(|g| plan(id, &Claimed::ExclusiveGift { sku: &g.sku })),
    };
    let gift_sku = match choice {
        ExclusiveChoice::Gift => record.offer.gift.as_ref().map(|g| g.sku.clone()),
        ExclusiveChoice::Coupon => None,
    };
    Ok(svc
        .store
        .idempotent(key, now, async |tx| {
            let claimed = claims::by_once_key(tx, &once).await?.is_some();
            check_exclusive_claim(&record.offer, choice, &view, now, claimed)?;
            let steps = steps
                .clone()
                .ok_or(Error::CorruptRow("new-member exclusive offer"))?;
            let claim = NewClaim {
                id,
                shop_id: shop,
                user_id: user.to_string(),
                kind: ClaimKind::NewMemberExclusive,
                source_id: shop.to_string(),
                once_key: once.clone(),
                steps,
                lease,
            };
            exclusives::record_claim(tx, &claim, gift_sku.as_deref(), now, lease_until).await?;
            Ok(pb::Claim {
                claim_id: id.to_string(),
                ..Default::default()
            })
        })
        .await?)
}
