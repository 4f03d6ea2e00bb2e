//! `/api/storefront/v1`: shoppers, on their own data.

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;
use memberhub_proto::membership as pb;

use crate::auth::ShopperCaller;
use crate::error::ErrorBody;
use crate::state::AppState;
use crate::upstream::{ApiResult, Reply, request};
use crate::views;

pub fn router() -> Router<AppState> {
    Router::new().route("/shops/{shop_id}/member-center", get(member_center))
}

/// MP-5: the shop's member center for the calling shopper.
#[utoipa::path(get, path = "/api/storefront/v1/shops/{shop_id}/member-center", tag = "storefront",
    params(("shop_id" = String, Path)),
    responses((status = 200, body = views::MemberCenter), (status = 404, body = ErrorBody)))]
pub async fn member_center(
    State(state): State<AppState>,
    shopper: ShopperCaller,
    Path(shop_id): Path<String>,
) -> ApiResult<views::MemberCenter> {
    let message = pb::GetMemberCenterRequest {
        shop_id,
        user_id: shopper.user_id.clone(),
    };
    let response = state
        .membership
        .clone()
        .get_member_center(request(&state, &shopper.actor, message))
        .await?;
    Ok(Reply::from_response(response))
}
