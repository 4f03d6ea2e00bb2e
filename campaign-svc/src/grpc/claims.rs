//! Reading claims: a shopper their own, a merchant their shop's (with filters).

use memberhub_kit::error::{Failure, Violations};
use memberhub_kit::input;
use memberhub_proto::campaign as pb;
use tonic::{Request, Response};

use super::{Campaigns, Rpc, actor, next_page_token, one, page_token};
use crate::convert;
use crate::domain::types::{ClaimId, MAX_REF_CHARS, MAX_USER_ID_CHARS, ShopId};
use crate::store::claims::{self, ClaimFilter};

pub(super) async fn get(svc: &Campaigns, request: Request<pb::GetClaimRequest>) -> Rpc<pb::Claim> {
    let actor = actor(&request)?;
    let id = one(ClaimId::parse("claim_id", &request.get_ref().claim_id))?;
    let mut conn = svc.conn().await?;
    let claim = claims::get(&mut conn, id).await?;
    actor
        .ensure_user(&claim.user_id)
        .or_else(|_| actor.ensure_owns(&claim.shop_id.to_string(), &format!("claim {id}")))?;
    Ok(Response::new(convert::claim(&claim)))
}

pub(super) async fn list(
    svc: &Campaigns,
    request: Request<pb::ListClaimsRequest>,
) -> Rpc<pb::ListClaimsResponse> {
    let actor = actor(&request)?;
    let request = request.into_inner();
    let shop = one(ShopId::parse("shop_id", &request.shop_id))?;
    let mut v = Violations::new();
    let user = v
        .check(input::optional_text(
            "user_id",
            &request.user_id,
            MAX_USER_ID_CHARS,
        ))
        .flatten();
    let source_id = v
        .check(input::optional_text(
            "source_id",
            &request.source_id,
            MAX_REF_CHARS,
        ))
        .flatten();
    let state = v.check(input::enumeration("state", request.state));
    let limit = v.check(input::page_size("page_size", request.page_size));
    v.finish()?;
    match &user {
        Some(user) if actor.ensure_user(user).is_ok() => {}
        _ => actor.ensure_shop_admin(&shop.to_string())?,
    }
    let states = match state {
        Some(pb::ClaimState::Pending) => vec!["PENDING", "GRANTING"],
        Some(pb::ClaimState::Granted) => vec!["GRANTED"],
        Some(pb::ClaimState::Failed) => vec!["FAILED"],
        Some(pb::ClaimState::Unspecified) | None => Vec::new(),
    };
    let filter = ClaimFilter {
        user_id: user,
        source_id,
        states,
    };
    let limit = limit.ok_or(Failure::Internal)?;
    let before = page_token(&request.page_token)?;
    let mut conn = svc.conn().await?;
    let found = claims::list(&mut conn, shop, &filter, before, limit).await?;
    Ok(Response::new(pb::ListClaimsResponse {
        next_page_token: next_page_token(&found, limit, |c| c.id.to_string()),
        claims: found.iter().map(convert::claim).collect(),
    }))
}
