//! GP-2/GP-4: a shop's gift items (gift category, stock) that packs and the new-member
//! exclusive may give away.

use memberhub_kit::error::Violations;
use memberhub_kit::idempotency::IdempotencyKey;
use memberhub_kit::input;
use memberhub_proto::campaign as pb;
use tonic::{Request, Response};

use super::{Campaigns, Rpc, actor, one};
use crate::convert;
use crate::domain::gift_pack::{MAX_SKU_CHARS, MAX_TITLE_CHARS};
use crate::domain::types::ShopId;
use crate::store::items::{self, ItemRecord};

fn parse_item(
    item: &pb::GiftItemRecord,
    shop: ShopId,
) -> Result<ItemRecord, memberhub_kit::error::Failure> {
    let mut v = Violations::new();
    let sku = v.check(input::text("item.sku", &item.sku, MAX_SKU_CHARS));
    let title = v.check(input::text("item.title", &item.title, MAX_TITLE_CHARS));
    if item.stock < 0 {
        v.add("item.stock", "must not be negative");
    }
    v.finish()?;
    Ok(ItemRecord {
        shop_id: shop,
        sku: sku.unwrap_or_default(),
        title: title.unwrap_or_default(),
        gift_category: item.gift_category,
        stock: item.stock,
    })
}

pub(super) async fn upsert(
    svc: &Campaigns,
    request: Request<pb::UpsertGiftItemRequest>,
) -> Rpc<pb::GiftItemRecord> {
    let actor = actor(&request)?;
    let request = request.into_inner();
    let raw = request.item.clone().unwrap_or_default();
    let shop = one(ShopId::parse("item.shop_id", &raw.shop_id))?;
    actor.ensure_shop_admin(&shop.to_string())?;
    let key = IdempotencyKey::new(&actor, "UpsertGiftItem", &request.request_id, &request)?;
    let item = parse_item(&raw, shop)?;
    let now = svc.clock.now();
    let saved = svc
        .store
        .idempotent(&key, now, async |tx| {
            Ok(convert::gift_item_record(
                &items::upsert(tx, &item, now).await?,
            ))
        })
        .await?;
    Ok(Response::new(saved))
}

pub(super) async fn list(
    svc: &Campaigns,
    request: Request<pb::ListGiftItemsRequest>,
) -> Rpc<pb::ListGiftItemsResponse> {
    let actor = actor(&request)?;
    let shop = one(ShopId::parse("shop_id", &request.get_ref().shop_id))?;
    actor.ensure_shop_admin(&shop.to_string())?;
    let mut conn = svc.conn().await?;
    let found = items::list(&mut conn, shop).await?;
    Ok(Response::new(pb::ListGiftItemsResponse {
        items: found.iter().map(convert::gift_item_record).collect(),
    }))
}
