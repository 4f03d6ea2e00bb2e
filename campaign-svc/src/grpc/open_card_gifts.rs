//! OC-1..OC-10 over gRPC: create (validate, record, provision), read, rename, close
//! (stop-loss) and the statistics.

use chrono::{DateTime, Duration, Utc};
use memberhub_kit::clock::from_timestamp;
use memberhub_kit::error::{Failure, Violations};
use memberhub_kit::idempotency::IdempotencyKey;
use memberhub_kit::input;
use memberhub_proto::campaign as pb;
use memberhub_proto::coupon as coupon_pb;
use memberhub_proto::membership as membership_pb;
use tonic::{Request, Response};

use super::{Campaigns, Rpc, actor, next_page_token, one, page_size, page_token};
use crate::convert;
use crate::domain::open_card_gift::{
    self as rules, CampaignStatus, Close, NewOpenCardGift, Prize, PrizeRequest,
};
use crate::domain::types::{CampaignId, ShopId, ShopView};
use crate::error::Error;
use crate::peers;
use crate::provisioning::open_card_gift;
use crate::store::open_card_gifts::{self, GiftRecord, Phase, PlannedPrize};
use crate::store::stats;

/// What campaign rules need of a shop, and its time zone.
pub(super) async fn shop_view(svc: &Campaigns, shop: ShopId) -> Result<(ShopView, String), Error> {
    let mut membership = svc.peers.membership.clone();
    let mut membership2 = svc.peers.membership.clone();
    let (found, program) = tokio::join!(
        membership.get_shop(peers::request(membership_pb::GetShopRequest {
            shop_id: shop.to_string()
        })),
        membership2.get_program(peers::request(membership_pb::GetProgramRequest {
            shop_id: shop.to_string()
        })),
    );
    let (found, program) = (peers::answer(found)?, peers::answer(program)?);
    let shop_type = convert::shop_type(found.r#type).ok_or(Error::CorruptRow("shop type"))?;
    let join_policy =
        convert::join_policy(program.join_policy).ok_or(Error::CorruptRow("join policy"))?;
    Ok((
        ShopView {
            shop,
            shop_type,
            gift_items: found.gift_items,
            join_policy,
        },
        found.time_zone,
    ))
}

/// A coupon batch by its key (OC-6, GP-2).
pub(super) async fn batch(svc: &Campaigns, key: &str) -> Result<coupon_pb::Batch, Error> {
    let mut coupon = svc.peers.coupon.clone();
    peers::answer(
        coupon
            .get_batch(peers::request(coupon_pb::GetBatchRequest {
                shop_id: String::new(),
                batch: key.to_string(),
            }))
            .await,
    )
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

pub(super) async fn create(
    svc: &Campaigns,
    request: Request<pb::CreateOpenCardGiftRequest>,
) -> Rpc<pb::OpenCardGift> {
    let actor = actor(&request)?;
    let request = request.into_inner();
    let gift = request.gift.clone().unwrap_or_default();
    let shop = one(ShopId::parse("gift.shop_id", &gift.shop_id))?;
    actor.ensure_shop_admin(&shop.to_string())?;
    let key = IdempotencyKey::new(&actor, "CreateOpenCardGift", &request.request_id, &request)?;
    // a retry gets the first answer, even when stock or budget have moved since.
    let recorded = match svc.store.stored::<pb::OpenCardGift>(&key).await? {
        Some(first) => first,
        None => record(svc, &key, shop, &gift).await?,
    };
    // A retry finds the campaign the first attempt recorded and carries on from there.
    let id = one(CampaignId::parse("campaign_id", &recorded.campaign_id))?;
    let gift = finish_provisioning(svc, id).await?;
    tracing::info!(campaign_id = %id, shop_id = %shop, "open-card gift created");
    Ok(Response::new(convert::open_card_gift(
        &gift,
        svc.clock.now(),
    )))
}

/// Checks the new gift against the shop and the batches and records it as PROVISIONING.
async fn record(
    svc: &Campaigns,
    key: &IdempotencyKey,
    shop: ShopId,
    gift: &pb::OpenCardGift,
) -> Result<pb::OpenCardGift, tonic::Status> {
    let (view, time_zone) = shop_view(svc, shop).await?;

    let mut v = Violations::new();
    let start = time(&mut v, "gift.start_time", gift.start_time.as_ref());
    let end = time(&mut v, "gift.end_time", gift.end_time.as_ref());
    v.finish()?;
    let prizes: Vec<PrizeRequest> = gift
        .prizes
        .iter()
        .map(|p| PrizeRequest {
            prize_type: convert::prize_type(p.r#type),
            amount: p.amount,
            batch_key: p.batch_key.clone(),
        })
        .collect();
    let new = NewOpenCardGift::parse(
        shop,
        view.shop_type,
        &gift.name,
        start,
        end,
        &prizes,
        gift.gift_quantity,
    )
    .map_err(|f| prefix_fields(f, "gift."))?;
    rules::check_join_policy(view.join_policy)?;
    let planned = plan_prizes(svc, &new).await?;

    let id = CampaignId::new();
    let now = svc.clock.now();
    Ok(svc
        .store
        .idempotent(key, now, async |tx| {
            open_card_gifts::insert(tx, id, &new, &planned, &time_zone, now).await?;
            Ok(pb::OpenCardGift {
                campaign_id: id.to_string(),
                ..Default::default()
            })
        })
        .await?)
}

/// Field names of the nested message, as the client sent them.
fn prefix_fields(failure: Failure, prefix: &str) -> Failure {
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

/// OC-6/OC-8: checks each coupon prize's batch and decides what each prize reserves.
async fn plan_prizes(svc: &Campaigns, new: &NewOpenCardGift) -> Result<Vec<PlannedPrize>, Error> {
    let mut planned = Vec::with_capacity(new.prizes.len());
    for prize in &new.prizes {
        planned.push(match prize {
            Prize::Coupon {
                prize_type,
                batch_key,
            } => {
                let batch = batch(svc, batch_key.as_str()).await.map_err(|e| match e {
                    Error::PeerRefused(s) if s.code() == tonic::Code::NotFound => {
                        Failure::FailedPrecondition {
                            reason: "BATCH_NOT_FOUND",
                            message: format!("no coupon batch {batch_key}"),
                            metadata: vec![("batch_key", batch_key.to_string())],
                        }
                        .into()
                    }
                    other => other,
                })?;
                let view = convert::batch_view(&batch).ok_or(Error::CorruptRow("coupon batch"))?;
                rules::check_coupon_binding(*prize_type, new.shop, &new.window, &view)?;
                if view.stock <= 0 {
                    return Err(Failure::FailedPrecondition {
                        reason: "BATCH_OUT_OF_STOCK",
                        message: format!("batch {batch_key} has no stock left to bind"),
                        metadata: vec![("batch_key", batch_key.to_string())],
                    }
                    .into());
                }
                PlannedPrize {
                    batch_id: uuid::Uuid::parse_str(&batch.batch_id).ok(),
                    capacity: Some(view.stock.min(new.gift_quantity)),
                }
            }
            // OC-5: a budget prize reserves for every pack; points need no budget.
            Prize::Asset { prize_type, .. } => PlannedPrize {
                batch_id: None,
                capacity: prize_type.needs_budget().then_some(new.gift_quantity),
            },
        });
    }
    Ok(planned)
}

/// Provisions a campaign still PROVISIONING; replays the refusal of a FAILED one.
async fn finish_provisioning(svc: &Campaigns, id: CampaignId) -> Result<GiftRecord, Error> {
    let gift = {
        let mut conn = svc.conn().await?;
        open_card_gifts::get(&mut conn, id).await?
    };
    if gift.phase == Phase::Ready {
        return Ok(gift);
    }
    // Failed, or being given back by the reconciler (fenced): its answer stands.
    if let Some(failure) = &gift.failure {
        return Err(open_card_gift::replay(failure));
    }
    if gift.phase == Phase::Failed {
        return Err(Error::CorruptRow("open_card_gifts.failure"));
    }
    open_card_gift::provision(&svc.store, &svc.peers, &gift, svc.clock.now()).await?;
    let mut conn = svc.conn().await?;
    open_card_gifts::get(&mut conn, id).await
}

/// The campaign, for its shop's merchant (or an operator or service).
async fn owned(
    svc: &Campaigns,
    actor: &memberhub_kit::actor::Actor,
    raw_id: &str,
) -> Result<GiftRecord, Error> {
    let id = one(CampaignId::parse("campaign_id", raw_id))?;
    let mut conn = svc.conn().await?;
    let gift = open_card_gifts::get(&mut conn, id).await?;
    actor.ensure_owns(&gift.shop_id.to_string(), &format!("open-card gift {id}"))?;
    if gift.phase == Phase::Failed {
        return Err(Error::not_found("open-card gift", id));
    }
    Ok(gift)
}

pub(super) async fn get(
    svc: &Campaigns,
    request: Request<pb::GetOpenCardGiftRequest>,
) -> Rpc<pb::OpenCardGift> {
    let actor = actor(&request)?;
    let gift = owned(svc, &actor, &request.get_ref().campaign_id).await?;
    Ok(Response::new(convert::open_card_gift(
        &gift,
        svc.clock.now(),
    )))
}

pub(super) async fn list(
    svc: &Campaigns,
    request: Request<pb::ListOpenCardGiftsRequest>,
) -> Rpc<pb::ListOpenCardGiftsResponse> {
    let actor = actor(&request)?;
    let request = request.into_inner();
    let shop = one(ShopId::parse("shop_id", &request.shop_id))?;
    actor.ensure_shop_admin(&shop.to_string())?;
    let limit = page_size(request.page_size)?;
    let before = page_token(&request.page_token)?;
    let mut conn = svc.conn().await?;
    let found = open_card_gifts::list(&mut conn, shop, before, limit).await?;
    let now = svc.clock.now();
    Ok(Response::new(pb::ListOpenCardGiftsResponse {
        next_page_token: next_page_token(&found, limit, |g| g.id.to_string()),
        gifts: found
            .iter()
            .map(|g| convert::open_card_gift(g, now))
            .collect(),
    }))
}

/// OC-1: the name may change at any time. The window, prizes and quantity hold reservations
/// in other services, so they are fixed: close the campaign and create another instead.
pub(super) async fn update(
    svc: &Campaigns,
    request: Request<pb::UpdateOpenCardGiftRequest>,
) -> Rpc<pb::OpenCardGift> {
    let actor = actor(&request)?;
    let request = request.into_inner();
    let change = request.gift.clone().unwrap_or_default();
    let current = owned(svc, &actor, &change.campaign_id).await?;
    let key = IdempotencyKey::new(&actor, "UpdateOpenCardGift", &request.request_id, &request)?;
    let name = one(input::text(
        "gift.name",
        &change.name,
        rules::MAX_NAME_CHARS,
    ))?;
    let fixed = |field: &'static str, same: bool| -> Result<(), Failure> {
        if same {
            Ok(())
        } else {
            Err(Failure::FailedPrecondition {
                reason: "FIELD_NOT_UPDATABLE",
                message: format!(
                    "{field} holds budget or coupons reserved at creation; close the campaign and create another"
                ),
                metadata: vec![("field", field.to_string())],
            })
        }
    };
    let stamp = |t: &Option<prost_types::Timestamp>, at: DateTime<Utc>| {
        t.as_ref().and_then(from_timestamp).is_none_or(|t| t == at)
    };
    fixed(
        "gift.start_time",
        stamp(&change.start_time, current.window.start()),
    )?;
    fixed(
        "gift.end_time",
        stamp(&change.end_time, current.window.end()),
    )?;
    fixed(
        "gift.gift_quantity",
        change.gift_quantity == 0 || change.gift_quantity == current.gift_quantity,
    )?;
    fixed(
        "gift.prizes",
        change.prizes.is_empty()
            || change.prizes == convert::open_card_gift(&current, svc.clock.now()).prizes,
    )?;
    let now = svc.clock.now();
    let id = current.id;
    let updated = svc
        .store
        .idempotent(&key, now, async |tx| {
            open_card_gifts::rename(tx, id, &name).await?;
            let gift = open_card_gifts::get(tx, id).await?;
            Ok(convert::open_card_gift(&gift, now))
        })
        .await?;
    Ok(Response::new(updated))
}

/// OC-9: stop-loss. Once the close commits no claim starts (claims take packs under the
/// same row lock); what the campaign holds is given back as soon as no claim is granting —
/// here if possible, else by the reconciler.
pub(super) async fn close(
    svc: &Campaigns,
    request: Request<pb::CloseOpenCardGiftRequest>,
) -> Rpc<pb::OpenCardGift> {
    let actor = actor(&request)?;
    let request = request.into_inner();
    let current = owned(svc, &actor, &request.campaign_id).await?;
    let key = IdempotencyKey::new(&actor, "CloseOpenCardGift", &request.request_id, &request)?;
    let id = current.id;
    let now = svc.clock.now();
    svc.store
        .idempotent(&key, now, async |tx| {
            let gift = open_card_gifts::lock(tx, id).await?;
            let status = rules::status_at(&gift.window, gift.closed_at, now);
            if rules::check_close(status)? == Close::Close {
                open_card_gifts::close(tx, id, now).await?;
            }
            Ok(pb::OpenCardGift {
                campaign_id: id.to_string(),
                ..Default::default()
            })
        })
        .await?;
    tracing::info!(campaign_id = %id, "open-card gift closed (stop-loss)");
    if let Err(e) = open_card_gift::settle(&svc.store, &svc.peers, id, now).await {
        tracing::warn!(campaign_id = %id, error = %e, "settling after close failed; the reconciler retries");
    }
    let mut conn = svc.conn().await?;
    let gift = open_card_gifts::get(&mut conn, id).await?;
    Ok(Response::new(convert::open_card_gift(
        &gift,
        svc.clock.now(),
    )))
}

/// OC-10: the most days one statistics series shows (a whole window of `MAX_WINDOW` plus a
/// partial day at each end in the shop's time zone).
const MAX_STATISTICS_DAYS: chrono::Days = chrono::Days::new(367);

/// OC-10: the daily series (shop-local days from the start to today or the end, each final
/// once it is over) and the live packs-left counter.
pub(super) async fn statistics(
    svc: &Campaigns,
    request: Request<pb::GetOpenCardGiftStatisticsRequest>,
) -> Rpc<pb::OpenCardGiftStatistics> {
    let actor = actor(&request)?;
    let gift = owned(svc, &actor, &request.get_ref().campaign_id).await?;
    let now = svc.clock.now();
    let mut conn = svc.conn().await?;
    let mut counted = stats::days(&mut conn, gift.id, &gift.time_zone).await?;
    let today = stats::local_day(&gift.time_zone, now);
    let first = stats::local_day(&gift.time_zone, gift.window.start());
    let stop = gift.closed_at.unwrap_or(gift.window.end()).min(now);
    let last = stats::local_day(&gift.time_zone, stop - Duration::nanoseconds(1)).max(first);
    // A window is at most MAX_WINDOW long (checked at creation); the series never has more
    // rows than that whatever a stored window says.
    let first = last
        .checked_sub_days(MAX_STATISTICS_DAYS)
        .map_or(first, |earliest| first.max(earliest));
    let mut days = Vec::new();
    let mut day = first;
    while day <= last && day <= today {
        let c = counted.remove(&day).unwrap_or_default();
        days.push(pb::DailyStatistics {
            day: day.format("%Y-%m-%d").to_string(),
            r#final: day < today,
            exposures: c.exposures,
            cards_opened: c.cards_opened,
            packs_granted: c.packs_granted,
            prize_totals: c
                .prize_totals
                .into_iter()
                .map(|(t, amount)| pb::PrizeTotal {
                    r#type: pb::PrizeType::from_str_name(&format!("PRIZE_TYPE_{t}"))
                        .unwrap_or_default() as i32,
                    amount,
                })
                .collect(),
        });
        let Some(next) = day.succ_opt() else { break };
        day = next;
    }
    let live = rules::status_at(&gift.window, gift.closed_at, now) == CampaignStatus::Live;
    Ok(Response::new(pb::OpenCardGiftStatistics {
        campaign_id: gift.id.to_string(),
        days,
        packs_left: if live { gift.packs_left } else { 0 },
    }))
}
