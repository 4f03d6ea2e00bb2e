//! GP-4: a shopper's entitlements (the right to buy a gift item for 0.01 yuan, or exchanged
//! goods for free) and their consumption by the order system.

use memberhub_kit::error::Failure;
use memberhub_kit::idempotency::IdempotencyKey;
use memberhub_kit::input;
use memberhub_proto::campaign as pb;
use tonic::{Request, Response};
use uuid::Uuid;

use super::gift_packs::user_id;
use super::{Campaigns, Rpc, actor, one};
use crate::convert;
use crate::domain::types::{MAX_REF_CHARS, ShopId};
use crate::store::entitlements;

/// The shopper themself, or the shop's merchant.
pub(super) async fn list(
    svc: &Campaigns,
    request: Request<pb::ListEntitlementsRequest>,
) -> Rpc<pb::ListEntitlementsResponse> {
    let actor = actor(&request)?;
    let request = request.into_inner();
    let shop = one(ShopId::parse("shop_id", &request.shop_id))?;
    let user = user_id(&request.user_id)?;
    actor
        .ensure_user(&user)
        .or_else(|_| actor.ensure_shop_admin(&shop.to_string()))?;
    let mut conn = svc.conn().await?;
    let found = entitlements::list(&mut conn, shop, &user).await?;
    Ok(Response::new(pb::ListEntitlementsResponse {
        entitlements: found.iter().map(convert::entitlement).collect(),
    }))
}

/// The order system (a service) consumes an entitlement once, for one order.
pub(super) async fn consume(
    svc: &Campaigns,
    request: Request<pb::ConsumeEntitlementRequest>,
) -> Rpc<pb::Entitlement> {
    let actor = actor(&request)?;
    actor.ensure_service()?;
    let request = request.into_inner();
    let id = Uuid::parse_str(request.entitlement_id.trim())
        .map_err(|_| Failure::invalid("entitlement_id", "must be an entitlement id (UUID)"))?;
    let order = one(input::text("order_id", &request.order_id, MAX_REF_CHARS))?;
    let key = IdempotencyKey::new(&actor, "ConsumeEntitlement", &request.request_id, &request)?;
    let now = svc.clock.now();
    let consumed = svc
        .store
        .idempotent(&key, now, async |tx| {
            Ok(convert::entitlement(
                &entitlements::consume(tx, id, &order, now).await?,
            ))
        })
        .await?;
    tracing::info!(entitlement_id = %id, order_id = %order, "entitlement consumed");
    Ok(Response::new(consumed))
}
