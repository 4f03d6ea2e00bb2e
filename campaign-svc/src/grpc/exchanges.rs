//! PT-3: points for a coupon or for goods, as one claim: spend the points, then grant the
//! item; a grant refused for good refunds the points and fails the claim.

use memberhub_kit::error::Failure;
use memberhub_kit::idempotency::IdempotencyKey;
use memberhub_kit::input;
use memberhub_proto::campaign as pb;
use memberhub_proto::membership as membership_pb;
use tonic::{Request, Response};

use super::gift_packs::{batches, membership, user_id};
use super::{Campaigns, Rpc, actor, one};
use crate::convert;
use crate::domain::claim::{Claimed, CouponGrant, plan};
use crate::domain::exchange::{self, Target};
use crate::domain::types::{ClaimId, MAX_REF_CHARS, ShopId};
use crate::peers;
use crate::store::claims::{self, ClaimKind, Lease, NewClaim};

pub(super) async fn exchange(
    svc: &Campaigns,
    request: Request<pb::ExchangePointsRequest>,
) -> Rpc<pb::Claim> {
    let actor = actor(&request)?;
    let request = request.into_inner();
    let shop = one(ShopId::parse("shop_id", &request.shop_id))?;
    let user = user_id(&request.user_id)?;
    actor.ensure_user(&user)?;
    let item_id = one(input::text("item_id", &request.item_id, MAX_REF_CHARS))?;
    let key = IdempotencyKey::new(&actor, "ExchangePoints", &request.request_id, &request)?;
    // a retry gets the first answer, even when the points have been spent since.
    let mine = (ClaimId::new(), Lease::new());
    let recorded = match svc.store.stored::<pb::Claim>(&key).await? {
        Some(first) => first,
        None => record(svc, &key, shop, &user, &item_id, mine).await?,
    };
    let record = svc.claim_reply(&recorded, mine).await?;
    tracing::info!(claim_id = %record.id, shop_id = %shop, item_id = %item_id, state = record.progress.state().as_db(), "points exchanged");
    Ok(Response::new(convert::claim(&record)))
}

/// Checks the exchange against the member's level and balance and records its claim.
async fn record(
    svc: &Campaigns,
    key: &IdempotencyKey,
    shop: ShopId,
    user: &str,
    item_id: &str,
    (id, lease): (ClaimId, Lease),
) -> Result<pb::Claim, tonic::Status> {
    let member = membership(svc, shop, user)
        .await?
        .filter(|m| m.state == membership_pb::MembershipState::Active as i32)
        .ok_or_else(|| Failure::precondition("NOT_A_MEMBER", "only members may exchange points"))?;
    let mut client = svc.peers.membership.clone();
    let rules = peers::answer(
        client
            .get_level_rules(peers::request(membership_pb::GetLevelRulesRequest {
                shop_id: shop.to_string(),
            }))
            .await,
    )?;
    let items = convert::level_items(&rules, member.level);
    let exchange = exchange::check(&items, item_id, member.points_balance)?;
    let steps = match &exchange.target {
        Target::Coupon(batch_key) => {
            let found = batches(svc, "item_id", &[batch_key.as_str().to_string()]).await?;
            let (_, batch_id) = found
                .into_iter()
                .next()
                .ok_or(crate::error::Error::CorruptRow("exchange batch"))?;
            let coupon = CouponGrant {
                batch_key: batch_key.clone(),
                batch_id,
                allocation_id: None,
            };
            plan(
                id,
                &Claimed::PointsForCoupon {
                    points: exchange.points,
                    coupon: &coupon,
                },
            )
        }
        Target::Goods { sku } => plan(
            id,
            &Claimed::PointsForGoods {
                points: exchange.points,
                sku,
            },
        ),
    };
    let now = svc.clock.now();
    let lease_until = svc.saga.lease_until(now);
    // Each exchange is its own claim: "once" is the caller's request.
    let claim = NewClaim {
        id,
        shop_id: shop,
        user_id: user.to_string(),
        kind: ClaimKind::PointsExchange,
        source_id: item_id.to_string(),
        once_key: format!("exchange:{}:{}", key.scope, key.key),
        steps,
        lease,
    };
    Ok(svc
        .store
        .idempotent(key, now, async |tx| {
            if !claims::insert(tx, &claim, now, lease_until).await? {
                let first = claims::by_once_key(tx, &claim.once_key)
                    .await?
                    .ok_or(crate::error::Error::CorruptRow("claims.once_key"))?;
                return Ok(pb::Claim {
                    claim_id: first.id.to_string(),
                    ..Default::default()
                });
            }
            Ok(pb::Claim {
                claim_id: id.to_string(),
                ..Default::default()
            })
        })
        .await?)
}
