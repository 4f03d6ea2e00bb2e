//! SP-4, SP-8: shoppers register with a participating shop (opening its card when they are
//! not members yet and the join policy allows), read where they stand, and the shop reads
//! its counts.

use memberhub_kit::error::{Failure, Violations};
use memberhub_kit::idempotency::IdempotencyKey;
use memberhub_proto::campaign as pb;
use memberhub_proto::coupon as coupon_pb;
use memberhub_proto::membership as membership_pb;
use tonic::{Request, Response};

use super::gift_packs::{membership, user_id};
use super::open_card_gifts::shop_view;
use super::{Campaigns, Rpc, actor};
use crate::convert;
use crate::domain::sprint_registration::{self, Joining};
use crate::domain::types::{PlanId, ShopId};
use crate::error::Error;
use crate::peers;
use crate::store::sprint_plans::{self, PlanRecord, ShopRecord};
use crate::store::{sprint_awards, sprint_registrations};

/// The plan and the shop's place in it; NOT_FOUND when the shop was never invited.
async fn participation(
    svc: &Campaigns,
    plan: PlanId,
    shop: ShopId,
) -> Result<(PlanRecord, ShopRecord), Error> {
    let mut conn = svc.conn().await?;
    let found = sprint_plans::get_plan(&mut conn, plan)
        .await?
        .ok_or_else(|| Error::not_found("sprint plan", plan))?;
    let record = sprint_plans::get_shop(&mut conn, plan, shop)
        .await?
        .ok_or_else(|| Error::not_found("sprint plan shop", shop))?;
    Ok((found, record))
}

fn ids(plan_id: &str, shop_id: &str) -> Result<(PlanId, ShopId), Failure> {
    let mut v = Violations::new();
    let plan = v.check(PlanId::parse("plan_id", plan_id));
    let shop = v.check(ShopId::parse("shop_id", shop_id));
    v.finish()?;
    plan.zip(shop).ok_or(Failure::Internal)
}

async fn reply(
    svc: &Campaigns,
    registration: &sprint_registrations::RegistrationRecord,
    plan: &PlanRecord,
    shop: &ShopRecord,
) -> Result<pb::SprintRegistration, Error> {
    let (started, _) = sprint_awards::times(&mut *svc.conn().await?, plan.id, shop.shop_id).await?;
    Ok(convert::sprint_registration(
        registration,
        plan,
        shop,
        started.is_some(),
        svc.clock.now(),
    ))
}

pub(super) async fn register(
    svc: &Campaigns,
    request: Request<pb::RegisterSprintPlanRequest>,
) -> Rpc<pb::SprintRegistration> {
    let actor = actor(&request)?;
    let request = request.into_inner();
    let user = user_id(&request.user_id)?;
    actor.ensure_user(&user)?;
    // Validated for its shape; registration itself is idempotent per (plan, shop, shopper),
    // and the key is what the card opening is sent under.
    IdempotencyKey::new(&actor, "RegisterSprintPlan", &request.request_id, &request)?;
    let (plan, shop) = ids(&request.plan_id, &request.shop_id)?;
    let (found, record) = participation(svc, plan, shop).await?;
    // SP-4: registering twice answers the first registration, whatever the phase now.
    let existing = sprint_registrations::get(&mut *svc.conn().await?, plan, shop, &user).await?;
    if let Some(existing) = existing {
        return Ok(Response::new(reply(svc, &existing, &found, &record).await?));
    }
    sprint_registration::may_register(&found.plan.phases, record.state, svc.clock.now())?;
    let current = membership(svc, shop, &user).await?;
    let active = current
        .as_ref()
        .is_some_and(|m| m.state == membership_pb::MembershipState::Active as i32);
    let (view, _) = shop_view(svc, shop).await?;
    if sprint_registration::joining(active, view.join_policy)? == Joining::OpenCard {
        open_card(svc, &request, shop, &user).await?;
    }
    let registered =
        sprint_registrations::register(&mut *svc.conn().await?, plan, shop, &user, svc.clock.now())
            .await?;
    Ok(Response::new(
        reply(svc, &registered, &found, &record).await?,
    ))
}

/// SP-4 with MB-2: the non-member opens the shop's card with the phone (and SMS code) they
/// gave; membership-svc's refusals (a wrong code, MP-4) reach the shopper as they are.
async fn open_card(
    svc: &Campaigns,
    request: &pb::RegisterSprintPlanRequest,
    shop: ShopId,
    user: &str,
) -> Result<(), Error> {
    let card = request.card.clone().unwrap_or_default();
    if card.phone.trim().is_empty() {
        return Err(Failure::invalid(
            "card.phone",
            "required: the shopper is not a member yet and joins the shop by opening its card",
        )
        .into());
    }
    let mut client = svc.peers.membership.clone();
    let opened = peers::answer(
        client
            .open_card(peers::request(membership_pb::OpenCardRequest {
                request_id: format!("sp4:{}", request.request_id),
                shop_id: shop.to_string(),
                user_id: user.to_string(),
                phone: card.phone,
                sms_code: card.sms_code,
                source: membership_pb::MemberSource::Storefront.into(),
                profile: None,
            }))
            .await,
    )?;
    if opened.state != membership_pb::MembershipState::Active as i32 {
        return Err(sprint_registration::not_a_member().into());
    }
    Ok(())
}

pub(super) async fn get(
    svc: &Campaigns,
    request: Request<pb::GetSprintRegistrationRequest>,
) -> Rpc<pb::SprintRegistration> {
    let actor = actor(&request)?;
    let request = request.into_inner();
    let user = user_id(&request.user_id)?;
    actor.ensure_user(&user)?;
    let (plan, shop) = ids(&request.plan_id, &request.shop_id)?;
    let (found, record) = participation(svc, plan, shop).await?;
    let registration = sprint_registrations::get(&mut *svc.conn().await?, plan, shop, &user)
        .await?
        .ok_or_else(|| Error::not_found("sprint registration", &user))?;
    Ok(Response::new(
        reply(svc, &registration, &found, &record).await?,
    ))
}

pub(super) async fn shop_statistics(
    svc: &Campaigns,
    request: Request<pb::GetSprintPlanShopStatisticsRequest>,
) -> Rpc<pb::SprintPlanShopStatistics> {
    let actor = actor(&request)?;
    let request = request.into_inner();
    let (plan, shop) = ids(&request.plan_id, &request.shop_id)?;
    actor.ensure_shop_admin(&shop.to_string())?;
    let (_, record) = participation(svc, plan, shop).await?;
    let (counts, (started, finished)) = {
        let mut conn = svc.conn().await?;
        (
            sprint_registrations::counts(&mut conn, plan, shop).await?,
            sprint_awards::times(&mut conn, plan, shop).await?,
        )
    };
    // SP-8 "used": the reward batch's redemptions, as coupon-svc counts them.
    let (used, coupons_issued) = match &record.joined {
        Some(joined) => {
            let mut coupon = svc.peers.coupon.clone();
            let stats = peers::answer(
                coupon
                    .get_batch_statistics(peers::request(coupon_pb::GetBatchStatisticsRequest {
                        batch_id: joined.batch_id.to_string(),
                        shop_id: shop.to_string(),
                    }))
                    .await,
            )?;
            (stats.used, stats.issued)
        }
        None => (0, 0),
    };
    Ok(Response::new(pb::SprintPlanShopStatistics {
        plan_id: plan.to_string(),
        shop_id: shop.to_string(),
        registered: counts.registered,
        qualified: counts.qualified,
        awarded: counts.awarded,
        not_awarded: counts.not_awarded,
        used,
        distribution_quantity: record
            .joined
            .as_ref()
            .map_or(0, |j| j.join.distribution_quantity),
        award_start_time: convert::timestamp(started),
        award_finish_time: convert::timestamp(finished),
        coupons_issued,
    }))
}
