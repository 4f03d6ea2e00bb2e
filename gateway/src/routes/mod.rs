//! The four surfaces: platform (operators), back-office (merchants), storefront (shoppers)
//! and internal (trusted services such as the order system).

pub mod backoffice;
pub mod campaigns;
pub mod coupons;
pub mod internal;
pub mod platform;
pub mod storefront;

use memberhub_kit::actor::Actor;
use memberhub_proto::membership as pb;

use crate::state::AppState;
use crate::upstream::{ApiResult, Reply, request};
use crate::views;

/// MP-4: activating the SMS service, shared by the platform and back-office routes.
async fn activate_sms_service(
    state: &AppState,
    actor: &Actor,
    key: String,
    shop_id: String,
) -> ApiResult<views::Program> {
    let message = pb::ActivateSmsServiceRequest {
        request_id: key,
        shop_id,
    };
    let response = state
        .membership
        .clone()
        .activate_sms_service(request(state, actor, message))
        .await?;
    Ok(Reply::from_response(response))
}

/// the shopper's membership of the shop, as `actor` may read it: NOT_FOUND when the
/// shopper is not the shop's member (whatever they are elsewhere), so a back-office route
/// naming a user never tells whether that user exists in another shop.
async fn member_of(
    state: &AppState,
    actor: &Actor,
    shop_id: &str,
    user_id: &str,
) -> Result<pb::Membership, crate::error::ApiError> {
    let message = pb::GetMembershipRequest {
        shop_id: shop_id.to_string(),
        user_id: user_id.to_string(),
    };
    let response = state
        .membership
        .clone()
        .get_membership(request(state, actor, message))
        .await?;
    Ok(response.into_inner())
}

/// MP-1..MP-4: a shop's program, for its merchant or an operator.
async fn program(state: &AppState, actor: &Actor, shop_id: String) -> ApiResult<views::Program> {
    let response = state
        .membership
        .clone()
        .get_program(request(state, actor, pb::GetProgramRequest { shop_id }))
        .await?;
    Ok(Reply::from_response(response))
}

/// LV-1..LV-6: a shop's level ladder, for its merchant or an operator.
async fn level_rules(
    state: &AppState,
    actor: &Actor,
    shop_id: String,
) -> ApiResult<views::LevelRules> {
    let message = pb::GetLevelRulesRequest { shop_id };
    let response = state
        .membership
        .clone()
        .get_level_rules(request(state, actor, message))
        .await?;
    Ok(Reply::from_response(response))
}

/// MB-4: a shop's members, filtered and paged, for its merchant or an operator.
async fn members(
    state: &AppState,
    actor: &Actor,
    shop_id: String,
    filters: views::ListMembersQuery,
) -> ApiResult<views::MemberPage> {
    let message = filters.into_request(shop_id)?;
    let response = state
        .membership
        .clone()
        .list_members(request(state, actor, message))
        .await?;
    Ok(Reply::from_response(response))
}

/// MB-1, MB-4: one shopper's membership of a shop (no phone), for its merchant or an
/// operator.
async fn member(
    state: &AppState,
    actor: &Actor,
    shop_id: String,
    user_id: String,
) -> ApiResult<views::Membership> {
    let message = pb::GetMembershipRequest { shop_id, user_id };
    let response = state
        .membership
        .clone()
        .get_membership(request(state, actor, message))
        .await?;
    Ok(Reply::from_response(response))
}
