//! MP-4, MB-1..MB-5.

use memberhub_kit::actor::Actor;
use memberhub_kit::clock::to_timestamp;
use memberhub_kit::error::{Failure, FieldViolation, Violations};
use memberhub_kit::idempotency::IdempotencyKey;
use memberhub_kit::input;
use memberhub_proto::membership as pb;
use tonic::{Request, Response};

use super::{Membership, Rpc, shop_and_user, shop_id};
use crate::convert;
use crate::domain::ids::{ShopId, UserId};
use crate::domain::ledger::Asset;
use crate::domain::members::{Profile, Source};
use crate::domain::sms::{self, Phone};
use crate::error::Error;
use crate::store::cards::{self, OpenCard};
use crate::store::ledger;
use crate::store::members::{self, MemberFilter, MemberPageToken};

fn phone(raw: &str) -> Result<Phone, Failure> {
    Phone::parse("phone", raw).map_err(|v| Failure::InvalidArgument(vec![v]))
}

/// MP-4: a code to the phone, when the shop verifies card openings by SMS.
pub(super) async fn send_card_sms_code(
    svc: &Membership,
    request: Request<pb::SendCardSmsCodeRequest>,
) -> Rpc<pb::SendCardSmsCodeResponse> {
    let actor = Actor::from_request(&request)?;
    let request = request.into_inner();
    let (shop, user) = shop_and_user(&request.shop_id, &request.user_id)?;
    actor.ensure_user(user.as_str())?;
    let key = IdempotencyKey::new(&actor, "SendCardSmsCode", &request.request_id, &request)?;
    let phone = phone(&request.phone)?;
    let now = svc.clock.now();
    let response = svc
        .store
        .idempotent(&key, now, async |tx| {
            let sent =
                cards::send_code(tx, &svc.key, svc.sender.as_ref(), shop, &user, &phone, now)
                    .await?;
            Ok(pb::SendCardSmsCodeResponse {
                expire_time: Some(to_timestamp(sent.expires_at)),
                resend_allowed_time: Some(to_timestamp(sent.sent_at + sms::RESEND_GAP)),
            })
        })
        .await?;
    Ok(Response::new(response))
}

/// MB-2: open the card (phone, plus the SMS code under MP-4).
pub(super) async fn open_card(
    svc: &Membership,
    request: Request<pb::OpenCardRequest>,
) -> Rpc<pb::Membership> {
    let actor = Actor::from_request(&request)?;
    let request = request.into_inner();
    let (shop, user) = shop_and_user(&request.shop_id, &request.user_id)?;
    actor.ensure_user(user.as_str())?;
    let key = IdempotencyKey::new(&actor, "OpenCard", &request.request_id, &request)?;
    let mut violations = Violations::new();
    let phone = violations.check(Phone::parse("phone", &request.phone));
    let code = match request.sms_code.trim() {
        "" => None,
        raw => violations.check(sms::parse_code("sms_code", raw)),
    };
    let source = violations
        .check(convert::source("source", request.source))
        .flatten()
        .unwrap_or(Source::Storefront);
    let profile = request
        .profile
        .as_ref()
        .map_or(Ok(Profile::default()), |p| {
            Profile::parse(&p.nickname, &p.gender, &p.birthday)
        });
    let profile = profile.unwrap_or_else(|errors| {
        errors
            .into_iter()
            .for_each(|v| violations.add(v.field, v.description));
        Profile::default()
    });
    violations.finish()?;
    let command = OpenCard {
        shop_id: shop,
        user_id: user.clone(),
        phone,
        code,
        source,
        profile,
    };
    let now = svc.clock.now();
    cards::count_wrong_code(&svc.store.pool, &svc.key, &command, now).await?;
    let result = svc
        .store
        .idempotent(&key, now, async |tx| {
            let member = cards::open_card(tx, &svc.key, command.clone(), now).await?;
            let points = ledger::balance(tx, shop, &user, Asset::Points).await?;
            Ok(convert::membership(&member, points))
        })
        .await;
    Ok(Response::new(result?))
}

/// MB-3: quit; history is kept and a rejoin is never a first join.
pub(super) async fn quit_membership(
    svc: &Membership,
    request: Request<pb::QuitMembershipRequest>,
) -> Rpc<pb::Membership> {
    let actor = Actor::from_request(&request)?;
    let request = request.into_inner();
    let (shop, user) = shop_and_user(&request.shop_id, &request.user_id)?;
    actor.ensure_user(user.as_str())?;
    let key = IdempotencyKey::new(&actor, "QuitMembership", &request.request_id, &request)?;
    let now = svc.clock.now();
    let response = svc
        .store
        .idempotent(&key, now, async |tx| {
            let member = cards::quit(tx, shop, &user, now).await?;
            let points = ledger::balance(tx, shop, &user, Asset::Points).await?;
            Ok(convert::membership(&member, points))
        })
        .await?;
    Ok(Response::new(response))
}

/// MB-1: the shopper's membership (the shopper, their shop's merchant, or a service).
pub(super) async fn get_membership(
    svc: &Membership,
    request: Request<pb::GetMembershipRequest>,
) -> Rpc<pb::Membership> {
    let actor = Actor::from_request(&request)?;
    let (shop, user) = shop_and_user(&request.get_ref().shop_id, &request.get_ref().user_id)?;
    actor
        .ensure_user(user.as_str())
        .or_else(|_| actor.ensure_shop_admin(&shop.to_string()))?;
    let mut conn = svc.conn().await?;
    let member = members::get(&mut conn, shop, &user)
        .await?
        .filter(|m| m.state != crate::domain::members::MemberState::None)
        .ok_or(Error::NotAMember)?;
    let points = ledger::balance(&mut conn, shop, &user, Asset::Points).await?;
    Ok(Response::new(convert::membership(&member, points)))
}

fn list_filter(
    request: &pb::ListMembersRequest,
) -> Result<(MemberFilter, Option<MemberPageToken>, i64), Failure> {
    let mut violations = Violations::new();
    if !(0..=5).contains(&request.level) {
        violations.add("level", "must be 1 to 5, or 0 for any");
    }
    let size = violations.check(input::page_size("page_size", request.page_size));
    let channel = violations.check(convert::join_channel("join_channel", request.join_channel));
    let source = violations.check(convert::source("source", request.source));
    let from = request.join_time_from.as_ref().map(|t| {
        convert::api_time(t).ok_or(FieldViolation::new(
            "join_time_from",
            "must be a valid time",
        ))
    });
    let to = request.join_time_to.as_ref().map(|t| {
        convert::api_time(t).ok_or(FieldViolation::new("join_time_to", "must be a valid time"))
    });
    let from = from.and_then(|r| violations.check(r));
    let to = to.and_then(|r| violations.check(r));
    let token = match request.page_token.split_once('|') {
        None if request.page_token.is_empty() => None,
        Some((at, user)) => chrono::DateTime::parse_from_rfc3339(at)
            .ok()
            .map(|at| MemberPageToken {
                joined_at: at.to_utc(),
                user_id: user.to_string(),
            })
            .or_else(|| {
                violations.add("page_token", "must be a page token returned by this list");
                None
            }),
        None => {
            violations.add("page_token", "must be a page token returned by this list");
            None
        }
    };
    violations.finish()?;
    let filter = MemberFilter {
        level: (request.level > 0).then_some(request.level),
        joined_from: from,
        joined_to: to,
        channel: channel.flatten(),
        source: source.flatten(),
    };
    Ok((filter, token, size.ok_or(Failure::Internal)?))
}

/// MB-4: the merchant's member list: filters, cursor paging, total; never a phone.
pub(super) async fn list_members(
    svc: &Membership,
    request: Request<pb::ListMembersRequest>,
) -> Rpc<pb::ListMembersResponse> {
    let actor = Actor::from_request(&request)?;
    let request = request.into_inner();
    let id = shop_id(&request.shop_id)?;
    actor.ensure_shop_admin(&id.to_string())?;
    let (filter, token, size) = list_filter(&request)?;
    let mut conn = svc.conn().await?;
    // An unknown shop is NOT_FOUND, not an empty page (operators may name any shop).
    crate::store::shops::get(&mut conn, id)
        .await?
        .ok_or(Error::ShopNotFound(id))?;
    let (rows, total) = members::list(&mut conn, id, &filter, token.as_ref(), size + 1).await?;
    let more = rows.len() as i64 > size;
    let rows: Vec<_> = rows.into_iter().take(size as usize).collect();
    let next_page_token = match (more, rows.last()) {
        (true, Some(last)) => last
            .member
            .joined_at
            .map(|at| {
                format!(
                    "{}|{}",
                    at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                    last.member.user_id.as_str()
                )
            })
            .unwrap_or_default(),
        _ => String::new(),
    };
    let members = rows
        .iter()
        .map(|r| convert::membership(&r.member, r.points_balance))
        .collect();
    Ok(Response::new(pb::ListMembersResponse {
        members,
        next_page_token,
        total_size: total,
    }))
}

/// MB-5.
pub(super) async fn follow_shop(
    svc: &Membership,
    request: Request<pb::FollowShopRequest>,
) -> Rpc<pb::FollowShopResponse> {
    let actor = Actor::from_request(&request)?;
    let request = request.into_inner();
    let key = IdempotencyKey::new(&actor, "FollowShop", &request.request_id, &request)?;
    set_following(
        svc,
        &actor,
        &key,
        shop_and_user(&request.shop_id, &request.user_id)?,
        true,
    )
    .await
}

/// MB-5.
pub(super) async fn unfollow_shop(
    svc: &Membership,
    request: Request<pb::UnfollowShopRequest>,
) -> Rpc<pb::FollowShopResponse> {
    let actor = Actor::from_request(&request)?;
    let request = request.into_inner();
    let key = IdempotencyKey::new(&actor, "UnfollowShop", &request.request_id, &request)?;
    set_following(
        svc,
        &actor,
        &key,
        shop_and_user(&request.shop_id, &request.user_id)?,
        false,
    )
    .await
}

async fn set_following(
    svc: &Membership,
    actor: &Actor,
    key: &IdempotencyKey,
    (shop, user): (ShopId, UserId),
    follow: bool,
) -> Rpc<pb::FollowShopResponse> {
    actor.ensure_user(user.as_str())?;
    let now = svc.clock.now();
    let response = svc
        .store
        .idempotent(key, now, async |tx| {
            let following = cards::set_following(tx, shop, &user, follow, now).await?;
            Ok(pb::FollowShopResponse { following })
        })
        .await?;
    Ok(Response::new(response))
}
