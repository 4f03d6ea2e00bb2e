//! MP-5/OC-3/OC-8: what the storefront member center shows of campaigns to one shopper.

use memberhub_proto::campaign as pb;
use memberhub_proto::membership as membership_pb;
use tonic::{Request, Response};

use super::{Campaigns, Rpc, actor, one};
use crate::convert;
use crate::domain::open_card_gift::in_audience;
use crate::domain::types::{MAX_USER_ID_CHARS, ShopId};
use crate::error::Error;
use crate::peers;
use crate::store::{claims, open_card_gifts, stats};

pub(super) async fn get(
    svc: &Campaigns,
    request: Request<pb::GetStorefrontOffersRequest>,
) -> Rpc<pb::StorefrontOffers> {
    let actor = actor(&request)?;
    let request = request.into_inner();
    let shop = one(ShopId::parse("shop_id", &request.shop_id))?;
    let user = one(memberhub_kit::input::text(
        "user_id",
        &request.user_id,
        MAX_USER_ID_CHARS,
    ))?;
    actor
        .ensure_user(&user)
        .or_else(|_| actor.ensure_operator())?;
    let now = svc.clock.now();
    let mut membership = svc.peers.membership.clone();
    let found = membership
        .get_membership(peers::request(membership_pb::GetMembershipRequest {
            shop_id: shop.to_string(),
            user_id: user.clone(),
        }))
        .await;
    let member = match found {
        Ok(m) => Some(m.into_inner()),
        Err(status) if status.code() == tonic::Code::NotFound => None,
        Err(status) => return Err(Error::from_peer(status).into()),
    };
    let view = convert::member_view(member.as_ref());
    let mut conn = svc.conn().await?;
    let mut offers = pb::StorefrontOffers::default();
    if let Some(gift) = open_card_gifts::live_for_shop(&mut conn, shop, now).await? {
        let claim = claims::by_once_key(&mut conn, &format!("oc:{}:{user}", gift.id)).await?;
        offers.open_card_gift_claim = claim.as_ref().map(convert::claim);
        // OC-3: only to a shopper who has not opened the card; OC-8: only while packs last.
        if in_audience(&view) && gift.packs_left > 0 && claim.is_none() {
            stats::count_exposure(&mut conn, &gift, &user, now).await?;
            offers.open_card_gift = Some(convert::open_card_gift(&gift, now));
        }
    }
    // GP-1/GP-6/GP-7/GP-8: the gift packs and the new-member exclusive.
    super::pack_offers::add(svc, &mut conn, shop, &user, &view, now, &mut offers).await?;
    Ok(Response::new(offers))
}
