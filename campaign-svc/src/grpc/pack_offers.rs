//! MP-5/GP-1/GP-6/GP-7/GP-8: the gift-pack side of the storefront member center: the packs
//! this shopper may still claim, whether to pop one up on this visit, the new-member
//! exclusive while they may claim it, and the shop type.

use chrono::{DateTime, Utc};
use memberhub_proto::campaign as pb;
use memberhub_proto::common::ShopType as PbShopType;
use sqlx::PgConnection;

use super::Campaigns;
use super::exclusives::once_key as exclusive_once_key;
use super::open_card_gifts::shop_view;
use crate::convert;
use crate::domain::gift_pack::{ExclusiveChoice, check_claim, check_exclusive_claim, show_popup};
use crate::domain::types::{MemberView, ShopId, ShopType};
use crate::error::Error;
use crate::store::{claims, exclusives, gift_packs};

/// Adds the gift-pack offers to `offers`; records GP-7 pop-ups shown.
pub(super) async fn add(
    svc: &Campaigns,
    conn: &mut PgConnection,
    shop: ShopId,
    user: &str,
    view: &MemberView,
    now: DateTime<Utc>,
    offers: &mut pb::StorefrontOffers,
) -> Result<(), Error> {
    let (shop_view, _) = shop_view(svc, shop).await?;
    offers.shop_type = match shop_view.shop_type {
        ShopType::Pop => PbShopType::Pop,
        ShopType::SelfOperated => PbShopType::SelfOperated,
    } as i32;
    for pack in gift_packs::live_for_shop(conn, shop, now).await? {
        let claimed = claims::by_once_key(conn, &pack.once_key(user))
            .await?
            .is_some();
        let state = pack.state();
        if check_claim(&state, view, now, claimed).is_err() {
            continue;
        }
        let last = gift_packs::popup_seen(conn, pack.id, user).await?;
        if show_popup(&state, pack.popup.as_ref(), true, now, last.is_none(), last) {
            gift_packs::record_popup(conn, pack.id, user, now).await?;
            offers.show_popup = true;
        }
        offers.claimable_packs.push(convert::gift_pack(&pack, now));
    }
    if let Some(record) = exclusives::get(conn, shop).await? {
        let claimed = claims::by_once_key(conn, &exclusive_once_key(shop, user))
            .await?
            .is_some();
        let eligible = [ExclusiveChoice::Coupon, ExclusiveChoice::Gift]
            .into_iter()
            .any(|c| check_exclusive_claim(&record.offer, c, view, now, claimed).is_ok());
        if eligible {
            offers.new_member_exclusive = Some(convert::exclusive(&record));
        }
    }
    Ok(())
}
