//! SP-1, SP-2, SP-3, SP-7: operators create plans and invite shops with thresholds; an
//! invited shop's merchant reads the invitation (the plan and its thresholds), joins with a
//! reward batch and may withdraw, all before registration starts.

use memberhub_kit::clock::from_timestamp;
use memberhub_kit::error::{Failure, Violations};
use memberhub_kit::idempotency::IdempotencyKey;
use memberhub_proto::campaign as pb;
use memberhub_proto::coupon as coupon_pb;
use memberhub_proto::membership as membership_pb;
use tonic::{Request, Response};

use super::{Campaigns, Rpc, actor, next_page_token, one, page_size, page_token};
use crate::convert;
use crate::domain::sprint_plan::{self, Join, NewPlan, Phase, PlanInput, Thresholds};
use crate::domain::types::{BatchKey, PlanId, ShopId};
use crate::error::Error;
use crate::peers;
use crate::store::sprint_plans::{self, PlanRecord, ShopRecord};

/// A timestamp field: `None` when absent; INVALID_ARGUMENT when out of range.
fn time(
    v: &mut Violations,
    field: &str,
    raw: Option<&prost_types::Timestamp>,
) -> Option<chrono::DateTime<chrono::Utc>> {
    let raw = raw?;
    let at = from_timestamp(raw);
    if at.is_none() {
        v.add(field, "must be a valid time");
    }
    at
}

fn phase_filter(raw: i32) -> Result<Option<Phase>, Failure> {
    let phase = one(memberhub_kit::input::enumeration::<pb::SprintPhase>(
        "phase", raw,
    ))?;
    Ok(match phase {
        pb::SprintPhase::Unspecified => None,
        pb::SprintPhase::Upcoming => Some(Phase::Upcoming),
        pb::SprintPhase::Registration => Some(Phase::Registration),
        pb::SprintPhase::Sprint => Some(Phase::Sprint),
        pb::SprintPhase::Award => Some(Phase::Award),
        pb::SprintPhase::Redemption => Some(Phase::Redemption),
        pb::SprintPhase::Ended => Some(Phase::Ended),
    })
}

async fn plan(svc: &Campaigns, id: PlanId) -> Result<PlanRecord, Error> {
    sprint_plans::get_plan(&mut *svc.conn().await?, id)
        .await?
        .ok_or_else(|| Error::not_found("sprint plan", id))
}

fn shop_reply(svc: &Campaigns, shop: &ShopRecord, plan: &PlanRecord) -> pb::SprintPlanShop {
    convert::sprint_plan_shop(shop, plan, svc.clock.now())
}

pub(super) async fn create(
    svc: &Campaigns,
    request: Request<pb::CreateSprintPlanRequest>,
) -> Rpc<pb::SprintPlan> {
    let actor = actor(&request)?;
    actor.ensure_operator()?;
    let request = request.into_inner();
    let key = IdempotencyKey::new(&actor, "CreateSprintPlan", &request.request_id, &request)?;
    let now = svc.clock.now();
    if let Some(stored) = svc.store.stored(&key).await? {
        return Ok(Response::new(stored));
    }
    let raw = request.plan.unwrap_or_default();
    let mut v = Violations::new();
    let input = PlanInput {
        name: &raw.name,
        registration_start: time(
            &mut v,
            "plan.registration_start_time",
            raw.registration_start_time.as_ref(),
        ),
        sprint_start: time(
            &mut v,
            "plan.sprint_start_time",
            raw.sprint_start_time.as_ref(),
        ),
        award_start: time(
            &mut v,
            "plan.award_start_time",
            raw.award_start_time.as_ref(),
        ),
        redemption_start: time(
            &mut v,
            "plan.redemption_start_time",
            raw.redemption_start_time.as_ref(),
        ),
        redemption_end: time(
            &mut v,
            "plan.redemption_end_time",
            raw.redemption_end_time.as_ref(),
        ),
        required_distribution: raw.required_distribution,
        min_face_value_fen: raw.min_face_value_fen,
        max_fold_percent: raw.max_fold_percent,
    };
    v.finish()?;
    let new = NewPlan::parse(input, now)?;
    let created = svc
        .store
        .idempotent(&key, now, async |tx| {
            let record = sprint_plans::insert_plan(tx, &new, now).await?;
            Ok(convert::sprint_plan(&record, now))
        })
        .await?;
    Ok(Response::new(created))
}

pub(super) async fn get(
    svc: &Campaigns,
    request: Request<pb::GetSprintPlanRequest>,
) -> Rpc<pb::SprintPlan> {
    actor(&request)?.ensure_operator()?;
    let id = one(PlanId::parse("plan_id", &request.get_ref().plan_id))?;
    let found = plan(svc, id).await?;
    Ok(Response::new(convert::sprint_plan(&found, svc.clock.now())))
}

pub(super) async fn list(
    svc: &Campaigns,
    request: Request<pb::ListSprintPlansRequest>,
) -> Rpc<pb::ListSprintPlansResponse> {
    actor(&request)?.ensure_operator()?;
    let request = request.into_inner();
    let limit = page_size(request.page_size)?;
    let before = page_token(&request.page_token)?.map(PlanId::from);
    let phase = phase_filter(request.phase)?;
    let now = svc.clock.now();
    let found =
        sprint_plans::list_plans(&mut *svc.conn().await?, phase, before, limit, now).await?;
    let next_page_token = next_page_token(&found, limit, |p| p.id.to_string());
    Ok(Response::new(pb::ListSprintPlansResponse {
        plans: found.iter().map(|p| convert::sprint_plan(p, now)).collect(),
        next_page_token,
    }))
}

pub(super) async fn invite(
    svc: &Campaigns,
    request: Request<pb::InviteSprintPlanShopRequest>,
) -> Rpc<pb::SprintPlanShop> {
    let actor = actor(&request)?;
    actor.ensure_operator()?;
    let request = request.into_inner();
    let key = IdempotencyKey::new(
        &actor,
        "InviteSprintPlanShop",
        &request.request_id,
        &request,
    )?;
    if let Some(stored) = svc.store.stored(&key).await? {
        return Ok(Response::new(stored));
    }
    let mut v = Violations::new();
    let id = v.check(PlanId::parse("plan_id", &request.plan_id));
    let shop = v.check(ShopId::parse("shop_id", &request.shop_id));
    let raw = request.thresholds.unwrap_or_default();
    let thresholds = Thresholds::parse(raw.min_member_count, raw.min_sales_fen);
    v.finish()?;
    let thresholds = thresholds?;
    let (Some(id), Some(shop)) = (id, shop) else {
        return Err(Failure::Internal.into());
    };
    // The shop must exist in membership-svc (NOT_FOUND relayed otherwise).
    let mut membership = svc.peers.membership.clone();
    peers::answer(
        membership
            .get_shop(peers::request(membership_pb::GetShopRequest {
                shop_id: shop.to_string(),
            }))
            .await,
    )?;
    let found = plan(svc, id).await?;
    let now = svc.clock.now();
    let invited = svc
        .store
        .idempotent(&key, now, async |tx| {
            let record = sprint_plans::invite(tx, id, shop, thresholds, now).await?;
            Ok(convert::sprint_plan_shop(&record, &found, now))
        })
        .await?;
    Ok(Response::new(invited))
}

/// The invitation of `shop` to `plan` as its merchant (or an operator) may read it;
/// NOT_FOUND for a shop not invited, as for an unknown plan.
async fn invitation(
    svc: &Campaigns,
    id: PlanId,
    shop: ShopId,
) -> Result<(ShopRecord, PlanRecord), Error> {
    let mut conn = svc.conn().await?;
    let record = sprint_plans::get_shop(&mut conn, id, shop)
        .await?
        .ok_or_else(|| Error::not_found("sprint plan", id))?;
    let found = sprint_plans::get_plan(&mut conn, id)
        .await?
        .ok_or(Error::CorruptRow("sprint_plan_shops.plan_id"))?;
    Ok((record, found))
}

pub(super) async fn get_shop(
    svc: &Campaigns,
    request: Request<pb::GetSprintPlanShopRequest>,
) -> Rpc<pb::SprintPlanShop> {
    let actor = actor(&request)?;
    let request = request.into_inner();
    let shop = one(ShopId::parse("shop_id", &request.shop_id))?;
    actor.ensure_shop_admin(&shop.to_string())?;
    let id = one(PlanId::parse("plan_id", &request.plan_id))?;
    let (record, found) = invitation(svc, id, shop).await?;
    Ok(Response::new(shop_reply(svc, &record, &found)))
}

pub(super) async fn list_shops(
    svc: &Campaigns,
    request: Request<pb::ListSprintPlanShopsRequest>,
) -> Rpc<pb::ListSprintPlanShopsResponse> {
    let actor = actor(&request)?;
    let request = request.into_inner();
    let mut v = Violations::new();
    let plan_filter = (!request.plan_id.is_empty())
        .then(|| v.check(PlanId::parse("plan_id", &request.plan_id)))
        .flatten();
    let shop_filter = (!request.shop_id.is_empty())
        .then(|| v.check(ShopId::parse("shop_id", &request.shop_id)))
        .flatten();
    if request.plan_id.is_empty() && request.shop_id.is_empty() {
        v.add("plan_id", "name a plan_id or a shop_id");
    }
    let limit = v.check(memberhub_kit::input::page_size(
        "page_size",
        request.page_size,
    ));
    let after = match request.page_token.split_once('|') {
        None if request.page_token.is_empty() => None,
        Some((p, s)) => match (
            PlanId::parse("page_token", p),
            ShopId::parse("page_token", s),
        ) {
            (Ok(p), Ok(s)) => Some((p, s)),
            _ => {
                v.add("page_token", "must be a token from a previous page");
                None
            }
        },
        None => {
            v.add("page_token", "must be a token from a previous page");
            None
        }
    };
    v.finish()?;
    let limit = limit.ok_or(Failure::Internal)?;
    match shop_filter {
        Some(shop) => actor.ensure_shop_admin(&shop.to_string())?,
        None => actor.ensure_operator()?,
    }
    let mut conn = svc.conn().await?;
    let found = sprint_plans::list_shops(&mut conn, plan_filter, shop_filter, after, limit).await?;
    let now = svc.clock.now();
    let mut shops = Vec::with_capacity(found.len());
    for record in &found {
        let plan = sprint_plans::get_plan(&mut conn, record.plan_id)
            .await?
            .ok_or(Error::CorruptRow("sprint_plan_shops.plan_id"))?;
        shops.push(convert::sprint_plan_shop(record, &plan, now));
    }
    let next_page_token =
        next_page_token(&found, limit, |r| format!("{}|{}", r.plan_id, r.shop_id));
    Ok(Response::new(pb::ListSprintPlanShopsResponse {
        shops,
        next_page_token,
    }))
}

pub(super) async fn withdraw(
    svc: &Campaigns,
    request: Request<pb::WithdrawSprintPlanShopRequest>,
) -> Rpc<pb::SprintPlanShop> {
    let actor = actor(&request)?;
    let request = request.into_inner();
    let shop = one(ShopId::parse("shop_id", &request.shop_id))?;
    actor.ensure_shop_admin(&shop.to_string())?;
    let key = IdempotencyKey::new(
        &actor,
        "WithdrawSprintPlanShop",
        &request.request_id,
        &request,
    )?;
    if let Some(stored) = svc.store.stored::<pb::SprintPlanShop>(&key).await? {
        end_reward_batch(svc, &stored).await?;
        return Ok(Response::new(stored));
    }
    let id = one(PlanId::parse("plan_id", &request.plan_id))?;
    let (_, found) = invitation(svc, id, shop).await?;
    let now = svc.clock.now();
    let withdrawn = svc
        .store
        .idempotent(&key, now, async |tx| {
            let record = sprint_plans::withdraw(tx, &found, shop, now).await?;
            Ok(convert::sprint_plan_shop(&record, &found, now))
        })
        .await?;
    end_reward_batch(svc, &withdrawn).await?;
    Ok(Response::new(withdrawn))
}

/// CP-7: a shop that withdrew after joining ends its reward batch (coupon-svc `EndBatch`,
/// idempotent per plan and shop). Run on every answer, the stored ones too, so a retry
/// finishes what a failed call left.
async fn end_reward_batch(svc: &Campaigns, shop: &pb::SprintPlanShop) -> Result<(), Error> {
    if shop.state() != pb::SprintShopState::Withdrawn || shop.batch_id.is_empty() {
        return Ok(());
    }
    let mut coupon = svc.peers.coupon.clone();
    peers::answer(
        coupon
            .end_batch(peers::request(coupon_pb::EndBatchRequest {
                request_id: format!("sp7:{}:{}", shop.plan_id, shop.shop_id),
                batch_id: shop.batch_id.clone(),
            }))
            .await,
    )?;
    Ok(())
}

pub(super) async fn join(
    svc: &Campaigns,
    request: Request<pb::JoinSprintPlanRequest>,
) -> Rpc<pb::SprintPlanShop> {
    let actor = actor(&request)?;
    let request = request.into_inner();
    let shop = one(ShopId::parse("shop_id", &request.shop_id))?;
    actor.ensure_shop_admin(&shop.to_string())?;
    let key = IdempotencyKey::new(&actor, "JoinSprintPlan", &request.request_id, &request)?;
    if let Some(stored) = svc.store.stored(&key).await? {
        return Ok(Response::new(stored));
    }
    let id = one(PlanId::parse("plan_id", &request.plan_id))?;
    let (record, found) = invitation(svc, id, shop).await?;
    let mut v = Violations::new();
    let batch_key = v.check(BatchKey::parse("batch_key", &request.batch_key));
    let join = Join::parse(
        &found.plan,
        request.spend_threshold_fen,
        request.distribution_quantity,
    );
    v.finish()?;
    let join = join?;
    let batch_key = batch_key.ok_or(Failure::Internal)?;
    let now = svc.clock.now();
    // Refused early when the phase or the shop's state rules it out; decided again on the
    // locked invitation below.
    sprint_plan::may_join(&found.plan.phases, record.state, now)?;
    // SP-2: the thresholds, against membership-svc's figures now.
    let mut membership = svc.peers.membership.clone();
    let stats = peers::answer(
        membership
            .get_shop_statistics(peers::request(membership_pb::GetShopStatisticsRequest {
                shop_id: shop.to_string(),
            }))
            .await,
    )?;
    sprint_plan::meets(&record.thresholds, stats.member_count, stats.sales_fen)?;
    // SP-3: the reward batch, as coupon-svc has it.
    let mut coupon = svc.peers.coupon.clone();
    let batch = coupon
        .get_batch(peers::request(coupon_pb::GetBatchRequest {
            shop_id: shop.to_string(),
            batch: batch_key.as_str().to_string(),
        }))
        .await;
    let batch = match batch {
        Ok(found) => found.into_inner(),
        Err(status) if status.code() == tonic::Code::NotFound => {
            return Err(Failure::invalid("batch_key", "no such batch in the shop").into());
        }
        Err(status) => return Err(Error::from_peer(status).into()),
    };
    let reward = convert::reward_batch(&batch, shop);
    sprint_plan::check_reward_batch(&found.plan, &join, &reward)?;
    let batch_id = uuid::Uuid::parse_str(&batch.batch_id)
        .map_err(|_| Error::CorruptRow("coupon-svc batch_id"))?;
    let joined = svc
        .store
        .idempotent(&key, now, async |tx| {
            let record =
                sprint_plans::join(tx, &found, shop, join, (&batch_key, batch_id), now).await?;
            Ok(convert::sprint_plan_shop(&record, &found, now))
        })
        .await?;
    Ok(Response::new(joined))
}
