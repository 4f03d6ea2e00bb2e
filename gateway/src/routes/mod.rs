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
