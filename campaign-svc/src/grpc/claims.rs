//! Reading claims: a shopper their own, a merchant their shop's (with filters).

use memberhub_proto::campaign as pb;
use tonic::{Request, Response};

use super::{Campaigns, Rpc, actor, next_page_token, one, page_size, page_token};
use crate::convert;
use crate::domain::types::{ClaimId, ShopId};
use crate::store::claims::{self, ClaimFilter};

pub(super) async fn get(svc: &Campaigns, request: Request<pb::GetClaimRequest>) -> Rpc<pb::Claim> {
    let actor = actor(&request)?;
    let id = one(ClaimId::parse("claim_id", &request.get_ref().claim_id))?;
    let mut conn = svc.conn().await?;
    let claim = claims::get(&mut conn, id).await?;
    actor
        .ensure_user(&claim.user_id)
        .or_else(|_| actor.ensure_shop_admin(&claim.shop_id.to_string()))?;
    Ok(Response::new(convert::claim(&claim)))
}

pub(super) async fn list(
    svc: &Campaigns,
    request: Request<pb::ListClaimsRequest>,
) -> Rpc<pb::ListClaimsResponse> {
    let actor = actor(&request)?;
    let request = request.into_inner();
    let shop = one(ShopId::parse("shop_id", &request.shop_id))?;
    let user = (!request.user_id.trim().is_empty()).then(|| request.user_id.trim().to_string());
    match &user {
        Some(user) if actor.ensure_user(user).is_ok() => {}
        _ => actor.ensure_shop_admin(&shop.to_string())?,
    }
    let states = match pb::ClaimState::try_from(request.state) {
        Ok(pb::ClaimState::Pending) => vec!["PENDING", "GRANTING"],
        Ok(pb::ClaimState::Granted) => vec!["GRANTED"],
        Ok(pb::ClaimState::Failed) => vec!["FAILED"],
        _ => Vec::new(),
    };
    let filter = ClaimFilter {
        user_id: user,
        source_id: (!request.source_id.trim().is_empty())
            .then(|| request.source_id.trim().to_string()),
        states,
    };
    let limit = page_size(request.page_size)?;
    let before = page_token(&request.page_token)?;
    let mut conn = svc.conn().await?;
    let found = claims::list(&mut conn, shop, &filter, before, limit).await?;
    Ok(Response::new(pb::ListClaimsResponse {
        next_page_token: next_page_token(&found, limit, |c| c.id.to_string()),
        claims: found.iter().map(convert::claim).collect(),
    }))
}
