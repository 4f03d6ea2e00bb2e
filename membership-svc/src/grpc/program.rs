//! MP-1..MP-6: shops and their programs.

use memberhub_kit::actor::Actor;
use memberhub_kit::error::{Failure, Violations};
use memberhub_kit::idempotency::IdempotencyKey;
use memberhub_proto::membership as pb;
use tonic::{Request, Response, Status};

use super::{Membership, shop_id};
use crate::convert;
use crate::domain::ids::{ShopId, UserId};
use crate::domain::program::{self, CardFaceChange, SettingsChange};
use crate::domain::shop::{NewShop, ShopChanges, ShopFilter, ShopPageToken, ShopValues};
use crate::store::{holds, ledger, levels, members, programs, shops};

pub(super) async fn create_shop(
    svc: &Membership,
    request: Request<pb::CreateShopRequest>,
) -> Result<Response<pb::Shop>, Status> {
    let actor = Actor::from_request(&request)?;
    actor.ensure_operator()?;
    let request = request.into_inner();
    let key = IdempotencyKey::new(&actor, "CreateShop", &request.request_id, &request)?;
    let shop_type = convert::shop_type(request.r#type);
    let new = NewShop::parse(
        &request.name,
        shop_type,
        &request.logo_url,
        &request.time_zone,
        request.gift_items,
    )?;
    let now = svc.clock.now();
    let shop = svc
        .store
        .idempotent(&key, now, async |tx| {
            shops::insert(tx, new.clone(), now)
                .await
                .map(pb::Shop::from)
        })
        .await?;
    Ok(Response::new(shop))
}

pub(super) async fn get_shop(
    svc: &Membership,
    request: Request<pb::GetShopRequest>,
) -> Result<Response<pb::Shop>, Status> {
    let actor = Actor::from_request(&request)?;
    let id = shop_id(&request.get_ref().shop_id)?;
    actor.ensure_shop_admin(&id.to_string())?;
    let mut conn = svc.conn().await?;
    let shop = shops::get(&mut conn, id)
        .await?
        .ok_or(crate::error::Error::ShopNotFound(id))?;
    Ok(Response::new(shop.into()))
}

/// SP-2: a shop's member count and last year's sales, for its merchant, operators and the
/// services allowed to read them (campaign-svc checks sprint plan thresholds).
pub(super) async fn get_shop_statistics(
    svc: &Membership,
    request: Request<pb::GetShopStatisticsRequest>,
) -> Result<Response<pb::ShopStatistics>, Status> {
    let actor = Actor::from_request(&request)?;
    let id = shop_id(&request.get_ref().shop_id)?;
    actor.ensure_shop_admin(&id.to_string())?;
    let mut conn = svc.conn().await?;
    shops::get(&mut conn, id)
        .await?
        .ok_or(crate::error::Error::ShopNotFound(id))?;
    let now = svc.clock.now();
    let (member_count, sales_fen) =
        shops::statistics(&mut conn, id, now - chrono::Duration::days(365)).await?;
    Ok(Response::new(pb::ShopStatistics {
        shop_id: id.to_string(),
        member_count,
        sales_fen,
        as_of_time: Some(memberhub_kit::clock::to_timestamp(now)),
    }))
}

/// MP-1: operators list and search shops, newest first, with a cursor that stays stable
/// while shops are added.
pub(super) async fn list_shops(
    svc: &Membership,
    request: Request<pb::ListShopsRequest>,
) -> Result<Response<pb::ListShopsResponse>, Status> {
    let actor = Actor::from_request(&request)?;
    actor.ensure_operator()?;
    let request = request.into_inner();
    let mut violations = Violations::new();
    let size = violations.check(memberhub_kit::input::page_size(
        "page_size",
        request.page_size,
    ));
    let after = violations
        .check(ShopPageToken::parse(&request.page_token))
        .flatten();
    let name_contains = violations
        .check(memberhub_kit::input::optional_text(
            "name_contains",
            &request.name_contains,
            crate::domain::shop::MAX_SHOP_NAME_CHARS,
        ))
        .flatten();
    let shop_type = match request.r#type {
        0 => None,
        raw => {
            let parsed = convert::shop_type(raw);
            if parsed.is_none() {
                violations.add("type", "must be SHOP_TYPE_POP or SHOP_TYPE_SELF_OPERATED");
            }
            parsed
        }
    };
    let mut time = |field: &str, at: Option<&prost_types::Timestamp>| {
        at.and_then(|t| {
            let parsed = convert::api_time(t);
            if parsed.is_none() {
                violations.add(field, "must be a valid time");
            }
            parsed
        })
    };
    let created_from = time("create_time_from", request.create_time_from.as_ref());
    let created_to = time("create_time_to", request.create_time_to.as_ref());
    violations.finish()?;
    let size = size.ok_or(Failure::Internal)?;
    let filter = ShopFilter {
        name_contains,
        shop_type,
        created_from,
        created_to,
    };
    let mut conn = svc.conn().await?;
    let mut page = shops::list(&mut conn, &filter, after, size + 1).await?;
    let more = page.len() as i64 > size;
    page.truncate(size as usize);
    let next_page_token = match (more, page.last()) {
        (true, Some(last)) => ShopPageToken::after(last).encode(),
        _ => String::new(),
    };
    Ok(Response::new(pb::ListShopsResponse {
        shops: page.into_iter().map(pb::Shop::from).collect(),
        next_page_token,
    }))
}

/// MP-1: operators change the fields `update_mask` names (see [`ShopChanges`] for when the
/// type may change).
pub(super) async fn update_shop(
    svc: &Membership,
    request: Request<pb::UpdateShopRequest>,
) -> Result<Response<pb::Shop>, Status> {
    let actor = Actor::from_request(&request)?;
    actor.ensure_operator()?;
    let request = request.into_inner();
    let key = IdempotencyKey::new(&actor, "UpdateShop", &request.request_id, &request)?;
    let shop = request.shop.clone().unwrap_or_default();
    let id = ShopId::parse("shop.shop_id", &shop.shop_id)
        .map_err(|v| Failure::InvalidArgument(vec![v]))?;
    let mask = request.update_mask.map(|m| m.paths).unwrap_or_default();
    let values = ShopValues {
        name: &shop.name,
        logo_url: &shop.logo_url,
        time_zone: &shop.time_zone,
        shop_type: convert::shop_type(shop.r#type),
        gift_items: shop.gift_items,
    };
    let changes = ShopChanges::parse(values, &mask)?;
    let now = svc.clock.now();
    let updated = svc
        .store
        .idempotent(&key, now, async |tx| {
            shops::update(tx, id, &changes).await.map(pb::Shop::from)
        })
        .await?;
    Ok(Response::new(updated))
}

pub(super) async fn get_program(
    svc: &Membership,
    request: Request<pb::GetProgramRequest>,
) -> Result<Response<pb::Program>, Status> {
    let actor = Actor::from_request(&request)?;
    let id = shop_id(&request.get_ref().shop_id)?;
    actor.ensure_shop_admin(&id.to_string())?;
    let mut conn = svc.conn().await?;
    Ok(Response::new(programs::get(&mut conn, id).await?.into()))
}

pub(super) async fn set_join_policy(
    svc: &Membership,
    request: Request<pb::SetJoinPolicyRequest>,
) -> Result<Response<pb::Program>, Status> {
    let actor = Actor::from_request(&request)?;
    let request = request.into_inner();
    let id = shop_id(&request.shop_id)?;
    actor.ensure_shop_admin(&id.to_string())?;
    let key = IdempotencyKey::new(&actor, "SetJoinPolicy", &request.request_id, &request)?;
    let policy = convert::join_policy(request.join_policy).ok_or_else(|| {
        Failure::invalid(
            "join_policy",
            "must be ORDER, CARD, ORDER_OR_CARD or ORDER_AND_CARD",
        )
    })?;
    let now = svc.clock.now();
    let program = svc
        .store
        .idempotent(&key, now, async |tx| {
            programs::set_join_policy(tx, id, policy, now)
                .await
                .map(pb::Program::from)
        })
        .await?;
    Ok(Response::new(program))
}

/// OC-3: campaign-svc holds card joining open while an open-card gift may run (until
/// `end_time`); refused with `CARD_JOIN_DISABLED` under the `ORDER` policy.
pub(super) async fn hold_card_join(
    svc: &Membership,
    request: Request<pb::HoldCardJoinRequest>,
) -> Result<Response<pb::CardJoinHold>, Status> {
    let actor = Actor::from_request(&request)?;
    actor.ensure_operator()?;
    let request = request.into_inner();
    let key = IdempotencyKey::new(&actor, "HoldCardJoin", &request.request_id, &request)?;
    let mut violations = Violations::new();
    let id = violations.check(ShopId::parse("shop_id", &request.shop_id));
    let holder = violations.check(program::parse_holder("holder", &request.holder));
    let end_time = request.end_time.as_ref().and_then(convert::api_time);
    if end_time.is_none() {
        violations.add("end_time", "required: when the open-card gift ends");
    }
    violations.finish()?;
    let (Some(id), Some(holder), Some(end_time)) = (id, holder, end_time) else {
        return Err(Failure::Internal.into());
    };
    let now = svc.clock.now();
    let hold = svc
        .store
        .idempotent(&key, now, async |tx| {
            holds::hold(tx, id, &holder, end_time, now)
                .await
                .map(pb::CardJoinHold::from)
        })
        .await?;
    Ok(Response::new(hold))
}

/// OC-3: the open-card gift no longer holds card joining open (closed or ended early).
pub(super) async fn release_card_join_hold(
    svc: &Membership,
    request: Request<pb::ReleaseCardJoinHoldRequest>,
) -> Result<Response<pb::CardJoinHold>, Status> {
    let actor = Actor::from_request(&request)?;
    actor.ensure_operator()?;
    let request = request.into_inner();
    let key = IdempotencyKey::new(&actor, "ReleaseCardJoinHold", &request.request_id, &request)?;
    let mut violations = Violations::new();
    let id = violations.check(ShopId::parse("shop_id", &request.shop_id));
    let holder = violations.check(program::parse_holder("holder", &request.holder));
    violations.finish()?;
    let (Some(id), Some(holder)) = (id, holder) else {
        return Err(Failure::Internal.into());
    };
    let now = svc.clock.now();
    let hold = svc
        .store
        .idempotent(&key, now, async |tx| {
            holds::release(tx, id, &holder, now)
                .await
                .map(pb::CardJoinHold::from)
        })
        .await?;
    Ok(Response::new(hold))
}

pub(super) async fn update_card_face(
    svc: &Membership,
    request: Request<pb::UpdateCardFaceRequest>,
) -> Result<Response<pb::Program>, Status> {
    let actor = Actor::from_request(&request)?;
    let request = request.into_inner();
    let id = shop_id(&request.shop_id)?;
    actor.ensure_shop_admin(&id.to_string())?;
    let key = IdempotencyKey::new(&actor, "UpdateCardFace", &request.request_id, &request)?;
    let images: Vec<(i32, &str)> = request
        .level_images
        .iter()
        .map(|i| (i.level, i.image_url.as_str()))
        .collect();
    let change = CardFaceChange::parse(
        request.card_name.as_deref(),
        request.logo_url.as_deref(),
        request.opening_image_url.as_deref(),
        &images,
    )?;
    let now = svc.clock.now();
    let program = svc
        .store
        .idempotent(&key, now, async |tx| {
            programs::update_card_face(tx, id, change.clone(), now)
                .await
                .map(pb::Program::from)
        })
        .await?;
    Ok(Response::new(program))
}

pub(super) async fn activate_sms_service(
    svc: &Membership,
    request: Request<pb::ActivateSmsServiceRequest>,
) -> Result<Response<pb::Program>, Status> {
    let actor = Actor::from_request(&request)?;
    let request = request.into_inner();
    let id = shop_id(&request.shop_id)?;
    actor.ensure_shop_admin(&id.to_string())?;
    let key = IdempotencyKey::new(&actor, "ActivateSmsService", &request.request_id, &request)?;
    let now = svc.clock.now();
    let program = svc
        .store
        .idempotent(&key, now, async |tx| {
            programs::activate_sms_service(tx, id, now)
                .await
                .map(pb::Program::from)
        })
        .await?;
    Ok(Response::new(program))
}

pub(super) async fn set_sms_verification(
    svc: &Membership,
    request: Request<pb::SetSmsVerificationRequest>,
) -> Result<Response<pb::Program>, Status> {
    let actor = Actor::from_request(&request)?;
    let request = request.into_inner();
    let id = shop_id(&request.shop_id)?;
    actor.ensure_shop_admin(&id.to_string())?;
    let key = IdempotencyKey::new(&actor, "SetSmsVerification", &request.request_id, &request)?;
    let (enable, now) = (request.enabled, svc.clock.now());
    let program = svc
        .store
        .idempotent(&key, now, async |tx| {
            programs::set_sms_verification(tx, id, enable, now)
                .await
                .map(pb::Program::from)
        })
        .await?;
    Ok(Response::new(program))
}

pub(super) async fn update_program_settings(
    svc: &Membership,
    request: Request<pb::UpdateProgramSettingsRequest>,
) -> Result<Response<pb::UpdateProgramSettingsResponse>, Status> {
    let actor = Actor::from_request(&request)?;
    let request = request.into_inner();
    let id = shop_id(&request.shop_id)?;
    actor.ensure_shop_admin(&id.to_string())?;
    let key = IdempotencyKey::new(
        &actor,
        "UpdateProgramSettings",
        &request.request_id,
        &request,
    )?;
    let change = SettingsChange::parse(
        request.points_per_yuan,
        request.points_expiry_enabled,
        request.member_tab_position,
    )?;
    let now = svc.clock.now();
    let response = svc
        .store
        .idempotent(&key, now, async |tx| {
            let program = programs::update_settings(tx, id, change.clone(), now).await?;
            let warnings = convert::setup_warnings(&program);
            Ok(pb::UpdateProgramSettingsResponse {
                program: Some(program.into()),
                warnings,
            })
        })
        .await?;
    Ok(Response::new(response))
}

/// MP-5: the card and how to open it; for a member also their level, benefits and points.
pub(super) async fn get_member_center(
    svc: &Membership,
    request: Request<pb::GetMemberCenterRequest>,
) -> Result<Response<pb::MemberCenter>, Status> {
    let actor = Actor::from_request(&request)?;
    let request = request.into_inner();
    let mut violations = Violations::new();
    let id = violations.check(ShopId::parse("shop_id", &request.shop_id));
    let user = violations.check(UserId::parse("user_id", &request.user_id));
    violations.finish()?;
    let (Some(id), Some(user)) = (id, user) else {
        return Err(Failure::Internal.into());
    };
    actor.ensure_user(user.as_str())?;
    let mut conn = svc.conn().await?;
    let program = programs::get(&mut conn, id).await?;
    let member = members::get(&mut conn, id, &user).await?;
    let points =
        ledger::balance(&mut conn, id, &user, crate::domain::ledger::Asset::Points).await?;
    let rules = levels::get(&mut conn, id).await?;
    let level = member
        .as_ref()
        .and_then(|m| rules.levels.iter().find(|(d, _)| d.level == m.level))
        .map(|(d, b)| (d.name.as_str(), b));
    Ok(Response::new(convert::member_center(
        &program,
        member.as_ref().map(|m| (m, points)),
        level,
    )))
}
