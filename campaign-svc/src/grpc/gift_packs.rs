//! GP-1..GP-7, GP-9 over gRPC: create a pack (batches checked with coupon-svc, gift-item
//! units set aside), read, list, close (unused units given back) and claim (recorded with
//! one pack taken in one transaction, then granted whole by the saga).

use chrono::{DateTime, Utc};
use memberhub_kit::actor::Actor;
use memberhub_kit::clock::from_timestamp;
use memberhub_kit::error::{Failure, Violations};
use memberhub_kit::idempotency::IdempotencyKey;
use memberhub_kit::input;
use memberhub_proto::campaign as pb;
use memberhub_proto::membership as membership_pb;
use tonic::{Request, Response};
use uuid::Uuid;

use super::open_card_gifts::{batch, shop_view};
use super::{Campaigns, Rpc, actor, next_page_token, one, page_size, page_token};
use crate::convert;
use crate::domain::claim::{Claimed, CouponGrant, plan};
use crate::domain::gift_pack::{
    GiftItem, GiftItemView, MAX_BATCHES, MAX_SKU_CHARS, NewPack, PackKind, PackRequest, check_claim,
};
use crate::domain::types::{
    BatchKey, BatchView, ClaimId, MAX_USER_ID_CHARS, MemberView, PackId, ShopId,
};
use crate::error::Error;
use crate::peers;
use crate::provisioning::gift_pack;
use crate::store::claims::{ClaimKind, Lease, NewClaim};
use crate::store::gift_pack_provisionings::{self, Provisioning};
use crate::store::{claims, gift_packs, items};

/// The shopper's membership in the shop; `None` when they never joined (NOT_FOUND).
pub(super) async fn membership(
    svc: &Campaigns,
    shop: ShopId,
    user: &str,
) -> Result<Option<membership_pb::Membership>, Error> {
    let mut client = svc.peers.membership.clone();
    let found = client
        .get_membership(peers::request(membership_pb::GetMembershipRequest {
            shop_id: shop.to_string(),
            user_id: user.to_string(),
        }))
        .await;
    match found {
        Ok(m) => Ok(Some(m.into_inner())),
        Err(status) if status.code() == tonic::Code::NotFound => Ok(None),
        Err(status) => Err(Error::from_peer(status)),
    }
}

/// The shopper as GP-1/GP-6 read them.
pub(super) async fn member(svc: &Campaigns, shop: ShopId, user: &str) -> Result<MemberView, Error> {
    Ok(convert::member_view(
        membership(svc, shop, user).await?.as_ref(),
    ))
}

/// A required, trimmed `user_id`.
pub(super) fn user_id(raw: &str) -> Result<String, Failure> {
    one(input::text("user_id", raw, MAX_USER_ID_CHARS))
}

/// GP-2: the batches named by `keys`, as coupon-svc reports them, with their ids.
pub(super) async fn batches(
    svc: &Campaigns,
    field: &str,
    keys: &[String],
) -> Result<Vec<(BatchView, Uuid)>, Error> {
    let mut v = Violations::new();
    let parsed: Vec<BatchKey> = keys
        .iter()
        .enumerate()
        .filter_map(|(i, k)| v.check(BatchKey::parse(&format!("{field}[{i}]"), k)))
        .collect();
    v.finish()?;
    let mut found = Vec::with_capacity(parsed.len());
    for key in parsed {
        let batch = batch(svc, key.as_str()).await.map_err(|e| match e {
            Error::PeerRefused(s) if s.code() == tonic::Code::NotFound => {
                Failure::FailedPrecondition {
                    reason: "BATCH_NOT_FOUND",
                    message: format!("no coupon batch {key}"),
                    metadata: vec![("batch_key", key.to_string())],
                }
                .into()
            }
            other => other,
        })?;
        let view = convert::batch_view(&batch).ok_or(Error::CorruptRow("coupon batch"))?;
        let id = Uuid::parse_str(&batch.batch_id).map_err(|_| Error::CorruptRow("batch id"))?;
        found.push((view, id));
    }
    Ok(found)
}

/// GP-2/GP-8: the requested gift item with the item as the shop keeps it; a quantity of 0
/// asks for the item's whole stock.
pub(super) async fn gift_item(
    svc: &Campaigns,
    field: &str,
    shop: ShopId,
    raw: Option<&pb::GiftItem>,
) -> Result<Option<(GiftItem, GiftItemView)>, Error> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    let Some(sku) = one(input::optional_text(
        &format!("{field}.sku"),
        &raw.sku,
        MAX_SKU_CHARS,
    ))?
    else {
        return Ok(None);
    };
    let mut conn = svc.conn().await?;
    let Some(item) = items::get(&mut conn, shop, &sku).await? else {
        return Err(Failure::invalid(
            format!("{field}.sku"),
            "no gift item with this sku in the shop",
        )
        .into());
    };
    let quantity = if raw.quantity == 0 {
        item.stock
    } else {
        raw.quantity
    };
    Ok(Some((
        GiftItem {
            sku: item.sku.clone(),
            quantity,
        },
        item.view(),
    )))
}

fn time(v: &mut Violations, field: &str, raw: Option<&prost_types::Timestamp>) -> DateTime<Utc> {
    match raw.and_then(from_timestamp) {
        Some(t) => t,
        None => {
            v.add(field, "is required (a valid timestamp)");
            DateTime::<Utc>::MIN_UTC
        }
    }
}

/// Field names of the nested message, as the client sent them.
pub(super) fn prefixed(failure: Failure, prefix: &str) -> Failure {
    match failure {
        Failure::InvalidArgument(violations) => Failure::InvalidArgument(
            violations
                .into_iter()
                .map(|mut v| {
                    v.field = format!("{prefix}{}", v.field);
                    v
                })
                .collect(),
        ),
        other => other,
    }
}

pub(super) async fn create(
    svc: &Campaigns,
    request: Request<pb::CreateGiftPackRequest>,
) -> Rpc<pb::GiftPack> {
    let actor = actor(&request)?;
    let request = request.into_inner();
    let pack = request.pack.clone().unwrap_or_default();
    let shop = one(ShopId::parse("pack.shop_id", &pack.shop_id))?;
    actor.ensure_shop_admin(&shop.to_string())?;
    let key = IdempotencyKey::new(&actor, "CreateGiftPack", &request.request_id, &request)?;
    // a retry gets the first answer, even when the batches' stock has moved since.
    let recorded = match svc.store.stored::<pb::GiftPack>(&key).await? {
        Some(first) => first,
        None => record(svc, &key, shop, &pack).await?,
    };
    let id = one(PackId::parse("pack_id", &recorded.pack_id))?;
    let mut conn = svc.conn().await?;
    let pack = gift_packs::get(&mut conn, id).await?;
    tracing::info!(pack_id = %id, shop_id = %shop, kind = pack.kind.as_db(), quantity = pack.quantity, "gift pack created");
    Ok(Response::new(convert::gift_pack(&pack, svc.clock.now())))
}

/// Checks the new pack, sets its coupons aside and records it.
async fn record(
    svc: &Campaigns,
    key: &IdempotencyKey,
    shop: ShopId,
    pack: &pb::GiftPack,
) -> Result<pb::GiftPack, tonic::Status> {
    let mut v = Violations::new();
    let kind = match v.check(input::enumeration("pack.kind", pack.kind)) {
        Some(raw) => convert::pack_kind(raw),
        None => None,
    };
    if kind.is_none() {
        v.add("pack.kind", "must be NEW_MEMBER or MEMBER");
    }
    // Bounded before each key costs a call to coupon-svc.
    v.check(input::at_most(
        "pack.batch_keys",
        &pack.batch_keys,
        MAX_BATCHES,
    ));
    let start = time(&mut v, "pack.start_time", pack.start_time.as_ref());
    let end = time(&mut v, "pack.end_time", pack.end_time.as_ref());
    let popup = match (&pack.popup_start_time, &pack.popup_end_time) {
        (None, None) => None,
        (s, e) => Some((
            time(&mut v, "pack.popup_start_time", s.as_ref()),
            time(&mut v, "pack.popup_end_time", e.as_ref()),
        )),
    };
    v.finish()?;
    let kind = kind.ok_or(Error::CorruptRow("pack kind"))?;

    let (view, _) = shop_view(svc, shop).await?;
    let found = batches(svc, "pack.batch_keys", &pack.batch_keys).await?;
    let gift = gift_item(svc, "pack.gift_item", shop, pack.gift_item.as_ref()).await?;
    let views: Vec<BatchView> = found.iter().map(|(b, _)| b.clone()).collect();
    let batch_ids: Vec<Uuid> = found.iter().map(|(_, id)| *id).collect();
    let new = NewPack::parse(
        &view,
        &PackRequest {
            kind,
            name: &pack.name,
            start,
            end,
            batches: &views,
            gift_item: gift,
            quantity: (pack.quantity != 0).then_some(pack.quantity),
            min_level: (pack.min_level != 0).then_some(pack.min_level),
            popup,
        },
    )
    .map_err(|f| prefixed(f, "pack."))?;

    let id = PackId::new();
    // GP-9: the coupons are set aside first, so a claim's coupon steps cannot run out; the
    // provisioning is written down before, so units of a creator that dies are given back.
    let provisioning = Provisioning {
        pack_id: id,
        batch_ids: batch_ids.clone(),
        quantity: new.quantity,
    };
    {
        let mut conn = svc.conn().await?;
        gift_pack_provisionings::begin(&mut conn, &provisioning, svc.clock.now()).await?;
    }
    let allocations = match gift_pack::reserve(&svc.peers, id, &batch_ids, new.quantity).await {
        Ok(allocations) => allocations,
        Err(e) => {
            // `reserve` gave back what it took.
            let mut conn = svc.conn().await?;
            gift_pack_provisionings::mark_abandoned(&mut conn, id).await?;
            return Err(e.into());
        }
    };
    let now = svc.clock.now();
    let recorded = svc
        .store
        .idempotent(key, now, async |tx| {
            if !gift_pack_provisionings::mark_recorded(tx, id).await? {
                return Err(Error::Replayed {
                    code: tonic::Code::Aborted,
                    reason: "PROVISIONING_ABANDONED".into(),
                    message:
                        "the pack's creation took too long and was given back; create it again"
                            .into(),
                });
            }
            gift_packs::insert(tx, id, shop, &new, &batch_ids, &allocations, now).await?;
            Ok(pb::GiftPack {
                pack_id: id.to_string(),
                ..Default::default()
            })
        })
        .await;
    // Refused, or a concurrent retry answered with the first attempt's pack: give this
    // attempt's back (the reconciler does it if this fails).
    if !matches!(&recorded, Ok(r) if r.pack_id == id.to_string()) {
        match gift_pack::release(&svc.peers, id, &allocations, "undo").await {
            Ok(()) => {
                let mut conn = svc.conn().await?;
                gift_pack_provisionings::mark_abandoned(&mut conn, id).await?;
            }
            Err(e) => {
                tracing::warn!(pack_id = %id, error = %e, "giving back allocations failed; the reconciler retries");
            }
        }
    }
    Ok(recorded?)
}

/// A shopper may read any pack (the storefront shows them); a merchant only their shop's.
fn may_read(actor: &Actor, pack: &gift_packs::PackRecord) -> Result<(), Failure> {
    match actor {
        Actor::Shopper { .. } => Ok(()),
        _ => actor.ensure_owns(&pack.shop_id.to_string(), &format!("gift pack {}", pack.id)),
    }
}

pub(super) async fn get(
    svc: &Campaigns,
    request: Request<pb::GetGiftPackRequest>,
) -> Rpc<pb::GiftPack> {
    let actor = actor(&request)?;
    let id = one(PackId::parse("pack_id", &request.get_ref().pack_id))?;
    let mut conn = svc.conn().await?;
    let pack = gift_packs::get(&mut conn, id).await?;
    may_read(&actor, &pack)?;
    Ok(Response::new(convert::gift_pack(&pack, svc.clock.now())))
}

pub(super) async fn list(
    svc: &Campaigns,
    request: Request<pb::ListGiftPacksRequest>,
) -> Rpc<pb::ListGiftPacksResponse> {
    let actor = actor(&request)?;
    let request = request.into_inner();
    let shop = one(ShopId::parse("shop_id", &request.shop_id))?;
    actor.ensure_shop_admin(&shop.to_string())?;
    let kind = one(input::enumeration("kind", request.kind))?;
    let kind = convert::pack_kind(kind);
    let limit = page_size(request.page_size)?;
    let before = page_token(&request.page_token)?;
    let mut conn = svc.conn().await?;
    let found = gift_packs::list(&mut conn, shop, kind, before, limit).await?;
    let now = svc.clock.now();
    Ok(Response::new(pb::ListGiftPacksResponse {
        next_page_token: next_page_token(&found, limit, |p| p.id.to_string()),
        packs: found.iter().map(|p| convert::gift_pack(p, now)).collect(),
    }))
}

/// Stop-loss: claims stop at once; the gift-item units of the packs left go back to stock.
pub(super) async fn close(
    svc: &Campaigns,
    request: Request<pb::CloseGiftPackRequest>,
) -> Rpc<pb::GiftPack> {
    let actor = actor(&request)?;
    let request = request.into_inner();
    let id = one(PackId::parse("pack_id", &request.pack_id))?;
    let shop = {
        let mut conn = svc.conn().await?;
        gift_packs::get(&mut conn, id).await?.shop_id
    };
    actor.ensure_owns(&shop.to_string(), &format!("gift pack {id}"))?;
    let key = IdempotencyKey::new(&actor, "CloseGiftPack", &request.request_id, &request)?;
    let now = svc.clock.now();
    svc.store
        .idempotent(&key, now, async |tx| {
            gift_packs::close(tx, id, now).await?;
            Ok(pb::GiftPack {
                pack_id: id.to_string(),
                ..Default::default()
            })
        })
        .await?;
    tracing::info!(pack_id = %id, "gift pack closed");
    if let Err(e) = gift_pack::settle(&svc.store, &svc.peers, id, now).await {
        tracing::warn!(pack_id = %id, error = %e, "settling after close failed; the reconciler retries");
    }
    let mut conn = svc.conn().await?;
    let pack = gift_packs::get(&mut conn, id).await?;
    Ok(Response::new(convert::gift_pack(&pack, svc.clock.now())))
}

/// GP-1/GP-6/GP-9: the shopper claims the pack: checked, recorded with one pack taken in one
/// transaction, then granted whole (every coupon, then the gift entitlement).
pub(super) async fn claim(
    svc: &Campaigns,
    request: Request<pb::ClaimGiftPackRequest>,
) -> Rpc<pb::Claim> {
    let actor = actor(&request)?;
    let request = request.into_inner();
    let pack_id = one(PackId::parse("pack_id", &request.pack_id))?;
    let user = user_id(&request.user_id)?;
    actor.ensure_user(&user)?;
    let key = IdempotencyKey::new(&actor, "ClaimGiftPack", &request.request_id, &request)?;
    let mine = (ClaimId::new(), Lease::new());
    // a retry gets the first answer, even when the pack has ended since.
    let recorded = match svc.store.stored::<pb::Claim>(&key).await? {
        Some(first) => first,
        None => record_claim(svc, &key, pack_id, &user, mine).await?,
    };
    let record = svc.claim_reply(&recorded, mine).await?;
    tracing::info!(claim_id = %record.id, pack_id = %pack_id, state = record.progress.state().as_db(), "gift pack claimed");
    Ok(Response::new(convert::claim(&record)))
}

/// Checks the claim against the pack and the shopper's membership, and records it with one
/// pack taken.
async fn record_claim(
    svc: &Campaigns,
    key: &IdempotencyKey,
    pack_id: PackId,
    user: &str,
    (id, lease): (ClaimId, Lease),
) -> Result<pb::Claim, tonic::Status> {
    let pack = {
        let mut conn = svc.conn().await?;
        gift_packs::get(&mut conn, pack_id).await?
    };
    let view = member(svc, pack.shop_id, user).await?;
    let now = svc.clock.now();
    let lease_until = svc.saga.lease_until(now);
    let once_key = pack.once_key(user);
    Ok(svc
        .store
        .idempotent(key, now, async |tx| {
            let claimed = claims::by_once_key(tx, &once_key).await?.is_some();
            let current = gift_packs::get(tx, pack_id).await?;
            check_claim(&current.state(), &view, now, claimed)?;
            let claim = pack_claim(id, lease, &current, user, &once_key);
            gift_packs::record_claim(tx, pack_id, &claim, now, lease_until).await?;
            Ok(pb::Claim {
                claim_id: id.to_string(),
                ..Default::default()
            })
        })
        .await?)
}

/// GP-9: one coupon issue per batch (through the CRM channel, one per claim and batch,
/// GP-2), then the gift item as a 0.01-yuan entitlement (GP-4).
fn pack_claim(
    id: ClaimId,
    lease: Lease,
    pack: &gift_packs::PackRecord,
    user: &str,
    once_key: &str,
) -> NewClaim {
    let coupons: Vec<CouponGrant> = pack
        .batch_keys
        .iter()
        .zip(&pack.batch_ids)
        .enumerate()
        .map(|(i, (key, batch_id))| CouponGrant {
            batch_key: key.clone(),
            batch_id: *batch_id,
            // Issued against the units the pack set aside (GP-9).
            allocation_id: pack.allocation_ids.get(i).copied(),
        })
        .collect();
    let steps = plan(
        id,
        &Claimed::GiftPack {
            coupons: &coupons,
            gift_sku: pack.gift_item.as_ref().map(|g| g.sku.as_str()),
        },
    );
    NewClaim {
        id,
        shop_id: pack.shop_id,
        user_id: user.to_string(),
        kind: match pack.kind {
            PackKind::NewMember => ClaimKind::NewMemberPack,
            PackKind::Member => ClaimKind::MemberPack,
        },
        source_id: pack.id.to_string(),
        once_key: once_key.to_string(),
        steps,
        lease,
    }
}
