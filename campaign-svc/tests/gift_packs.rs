//! GP-1..GP-9 against the three services over one database: packs, their claims (granted
//! whole by the saga), gift items and entitlements, the GP-8 exclusive and the storefront.

mod support;

use chrono::Duration;
use memberhub_kit::actor::Actor;
use memberhub_kit::testing::TestResult;
use memberhub_proto::campaign as pb;
use memberhub_proto::common::{CouponChannel, ShopType};
use memberhub_proto::coupon as coupon_pb;
use memberhub_proto::membership as membership_pb;
use support::*;
use tonic::Code;

const POLICY: membership_pb::JoinPolicy = membership_pb::JoinPolicy::Card;

async fn crm_batch(s: &mut Suite, shop: &str, total: i64) -> anyhow::Result<coupon_pb::Batch> {
    s.batch(
        shop,
        coupon_pb::CouponKind::Threshold,
        CouponChannel::Crm,
        total,
    )
    .await
}

async fn item(
    s: &mut Suite,
    shop: &str,
    sku: &str,
    stock: i64,
) -> Result<pb::GiftItemRecord, tonic::Status> {
    Ok(s.campaign
        .upsert_gift_item(req(
            &merchant(shop),
            pb::UpsertGiftItemRequest {
                request_id: rid("item"),
                item: Some(pb::GiftItemRecord {
                    shop_id: shop.into(),
                    sku: sku.into(),
                    title: "tea sample".into(),
                    gift_category: true,
                    stock,
                }),
            },
        ))
        .await?
        .into_inner())
}

async fn stock(s: &mut Suite, shop: &str, sku: &str) -> anyhow::Result<i64> {
    let items = s
        .campaign
        .list_gift_items(req(
            &merchant(shop),
            pb::ListGiftItemsRequest {
                shop_id: shop.into(),
            },
        ))
        .await?
        .into_inner()
        .items;
    items
        .iter()
        .find(|i| i.sku == sku)
        .map(|i| i.stock)
        .ok_or_else(|| anyhow::anyhow!("no item {sku}"))
}

/// A pack valid from t0 - 1 h for three days.
fn pack(
    shop: &str,
    kind: pb::GiftPackKind,
    batches: &[&coupon_pb::Batch],
    gift: Option<(&str, i64)>,
) -> pb::GiftPack {
    pb::GiftPack {
        shop_id: shop.into(),
        kind: kind.into(),
        name: "新人礼包".into(),
        start_time: ts(t0() - Duration::hours(1)),
        end_time: ts(t0() + Duration::days(3)),
        batch_keys: batches.iter().map(|b| b.batch_key.clone()).collect(),
        gift_item: gift.map(|(sku, quantity)| pb::GiftItem {
            sku: sku.into(),
            quantity,
        }),
        ..Default::default()
    }
}

async fn create(s: &mut Suite, p: pb::GiftPack) -> Result<pb::GiftPack, tonic::Status> {
    let shop = p.shop_id.clone();
    Ok(s.campaign
        .create_gift_pack(req(
            &merchant(&shop),
            pb::CreateGiftPackRequest {
                request_id: rid("pack"),
                pack: Some(p),
            },
        ))
        .await?
        .into_inner())
}

async fn claim_with(
    s: &mut Suite,
    pack_id: &str,
    user: &str,
    request_id: &str,
) -> Result<pb::Claim, tonic::Status> {
    Ok(s.campaign
        .claim_gift_pack(req(
            &shopper(user),
            pb::ClaimGiftPackRequest {
                request_id: request_id.into(),
                pack_id: pack_id.into(),
                user_id: user.into(),
            },
        ))
        .await?
        .into_inner())
}

async fn claim(s: &mut Suite, pack_id: &str, user: &str) -> Result<pb::Claim, tonic::Status> {
    claim_with(s, pack_id, user, &rid("claim")).await
}

async fn close(s: &mut Suite, shop: &str, pack_id: &str) -> Result<pb::GiftPack, tonic::Status> {
    Ok(s.campaign
        .close_gift_pack(req(
            &merchant(shop),
            pb::CloseGiftPackRequest {
                request_id: rid("close"),
                pack_id: pack_id.into(),
            },
        ))
        .await?
        .into_inner())
}

async fn offers(s: &mut Suite, shop: &str, user: &str) -> anyhow::Result<pb::StorefrontOffers> {
    Ok(s.campaign
        .get_storefront_offers(req(
            &shopper(user),
            pb::GetStorefrontOffersRequest {
                shop_id: shop.into(),
                user_id: user.into(),
            },
        ))
        .await?
        .into_inner())
}

async fn entitlements(
    s: &mut Suite,
    shop: &str,
    user: &str,
) -> anyhow::Result<Vec<pb::Entitlement>> {
    Ok(s.campaign
        .list_entitlements(req(
            &shopper(user),
            pb::ListEntitlementsRequest {
                shop_id: shop.into(),
                user_id: user.into(),
            },
        ))
        .await?
        .into_inner()
        .entitlements)
}

async fn coupons_of(s: &Suite, user: &str) -> anyhow::Result<i64> {
    Ok(
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM coupon.coupons WHERE user_id = $1")
            .bind(user)
            .fetch_one(&s.pool)
            .await?,
    )
}

/// A gift shop with two CRM batches of 100 and a gift item of `gift_stock`.
async fn gift_shop(
    s: &mut Suite,
    gift_stock: i64,
) -> anyhow::Result<(String, coupon_pb::Batch, coupon_pb::Batch)> {
    let shop = s.shop(ShopType::Pop, POLICY, true).await?;
    let a = crm_batch(s, &shop, 100).await?;
    let b = crm_batch(s, &shop, 100).await?;
    item(s, &shop, "gift-1", gift_stock).await?;
    Ok((shop, a, b))
}

// ------------------------------------------------------------------------------ GP-9

#[tokio::test]
async fn gp9_claim_grants_every_coupon_and_the_gift_entitlement() -> TestResult {
    let mut s = Suite::start().await?;
    let (shop, a, b) = gift_shop(&mut s, 5).await?;
    let created = create(
        &mut s,
        pack(
            &shop,
            pb::GiftPackKind::NewMember,
            &[&a, &b],
            Some(("gift-1", 5)),
        ),
    )
    .await?;
    // GP-3: the default quantity is the smallest component stock; the units are set aside.
    assert_eq!(created.quantity, 5);
    assert_eq!(created.packs_left, 5);
    assert_eq!(created.status(), pb::CampaignStatus::Live);
    assert_eq!(stock(&mut s, &shop, "gift-1").await?, 0);

    s.open_card(&shop, "u1").await?;
    let claimed = claim(&mut s, &created.pack_id, "u1").await?;
    assert_eq!(claimed.state(), pb::ClaimState::Granted, "{claimed:?}");
    assert_eq!(claimed.kind(), pb::ClaimKind::NewMemberPack);
    assert_eq!(claimed.source_id, created.pack_id);
    // The reveal: one coupon of each batch, then the gift entitlement.
    assert_eq!(claimed.items.len(), 3, "{claimed:?}");
    assert!(claimed.items[..2].iter().all(|i| i.coupon_ids.len() == 1));
    assert!(!claimed.items[2].entitlement_id.is_empty());
    assert_eq!(coupons_of(&s, "u1").await?, 2);
    let held = entitlements(&mut s, &shop, "u1").await?;
    assert_eq!(held.len(), 1);
    assert_eq!(held[0].sku, "gift-1");
    // GP-4: the right to buy the item for 0.01 yuan.
    assert_eq!(held[0].price_fen, 1);
    assert_eq!(held[0].state(), pb::EntitlementState::Available);
    assert_eq!(held[0].entitlement_id, claimed.items[2].entitlement_id);

    let after = s
        .campaign
        .get_gift_pack(req(
            &merchant(&shop),
            pb::GetGiftPackRequest {
                pack_id: created.pack_id.clone(),
            },
        ))
        .await?
        .into_inner();
    assert_eq!(after.packs_left, 4);
    Ok(())
}

#[tokio::test]
async fn gp1_a_pack_is_claimed_once_and_a_retry_returns_the_same_claim() -> TestResult {
    let mut s = Suite::start().await?;
    let (shop, a, _) = gift_shop(&mut s, 5).await?;
    let created = create(
        &mut s,
        pack(&shop, pb::GiftPackKind::NewMember, &[&a], None),
    )
    .await?;
    s.open_card(&shop, "u1").await?;
    let first = claim_with(&mut s, &created.pack_id, "u1", "same-request").await?;
    let retried = claim_with(&mut s, &created.pack_id, "u1", "same-request").await?;
    assert_eq!(retried.claim_id, first.claim_id);
    assert_eq!(retried.state(), pb::ClaimState::Granted);
    let again = expect_err(claim(&mut s, &created.pack_id, "u1").await)?;
    assert_precondition(&again, "PACK_ALREADY_CLAIMED");
    assert_eq!(coupons_of(&s, "u1").await?, 1);
    // Another shopper may not claim for u1.
    let status = expect_err(
        s.campaign
            .claim_gift_pack(req(
                &shopper("u2"),
                pb::ClaimGiftPackRequest {
                    request_id: rid("claim"),
                    pack_id: created.pack_id.clone(),
                    user_id: "u1".into(),
                },
            ))
            .await,
    )?;
    assert_eq!(status.code(), Code::PermissionDenied);
    Ok(())
}

// ------------------------------------------------------------------------------ GP-1

#[tokio::test]
async fn gp1_new_member_pack_is_refused_at_exactly_24_hours() -> TestResult {
    let mut s = Suite::start().await?;
    let (shop, a, _) = gift_shop(&mut s, 5).await?;
    let created = create(
        &mut s,
        pack(&shop, pb::GiftPackKind::NewMember, &[&a], None),
    )
    .await?;
    s.open_card(&shop, "late").await?;
    s.open_card(&shop, "just-in-time").await?;
    s.clock.advance(Duration::hours(24) - Duration::seconds(1));
    let ok = claim(&mut s, &created.pack_id, "just-in-time").await?;
    assert_eq!(ok.state(), pb::ClaimState::Granted);
    s.clock.advance(Duration::seconds(1));
    let status = expect_err(claim(&mut s, &created.pack_id, "late").await)?;
    assert_precondition(&status, "NOT_A_NEW_MEMBER");
    Ok(())
}

#[tokio::test]
async fn gp1_non_members_joins_before_the_pack_and_rejoins_never_qualify() -> TestResult {
    let mut s = Suite::start().await?;
    let (shop, a, _) = gift_shop(&mut s, 5).await?;
    s.open_card(&shop, "early").await?;
    s.clock.advance(Duration::hours(2));
    let mut p = pack(&shop, pb::GiftPackKind::NewMember, &[&a], None);
    p.start_time = ts(t0() + Duration::hours(1));
    let created = create(&mut s, p).await?;

    let status = expect_err(claim(&mut s, &created.pack_id, "stranger").await)?;
    assert_precondition(&status, "NOT_A_MEMBER");
    let status = expect_err(claim(&mut s, &created.pack_id, "early").await)?;
    assert_precondition(&status, "NOT_A_NEW_MEMBER");

    s.open_card(&shop, "quitter").await?;
    s.membership
        .quit_membership(req(
            &shopper("quitter"),
            membership_pb::QuitMembershipRequest {
                request_id: rid("quit"),
                shop_id: shop.clone(),
                user_id: "quitter".into(),
            },
        ))
        .await?;
    s.clock.advance(Duration::minutes(5));
    s.open_card(&shop, "quitter").await?;
    let status = expect_err(claim(&mut s, &created.pack_id, "quitter").await)?;
    assert_precondition(&status, "NOT_A_NEW_MEMBER");
    Ok(())
}

// ------------------------------------------------------------------------------ GP-2/3

#[tokio::test]
async fn gp3_pack_quantity_above_the_smallest_stock_is_invalid() -> TestResult {
    let mut s = Suite::start().await?;
    let shop = s.shop(ShopType::Pop, POLICY, false).await?;
    let big = crm_batch(&mut s, &shop, 10).await?;
    let small = crm_batch(&mut s, &shop, 4).await?;
    let mut p = pack(&shop, pb::GiftPackKind::Member, &[&big, &small], None);
    p.quantity = 5;
    let status = expect_err(create(&mut s, p.clone()).await)?;
    assert_invalid(&status, "pack.quantity");
    p.quantity = 4;
    assert_eq!(create(&mut s, p).await?.quantity, 4);
    Ok(())
}

#[tokio::test]
async fn gp2_batches_must_be_crm_and_a_gift_item_needs_the_capability() -> TestResult {
    let mut s = Suite::start().await?;
    let shop = s.shop(ShopType::Pop, POLICY, false).await?;
    let crm = crm_batch(&mut s, &shop, 10).await?;
    let interactive = s
        .batch(
            &shop,
            coupon_pb::CouponKind::Threshold,
            CouponChannel::Interactive,
            10,
        )
        .await?;
    let status = expect_err(
        create(
            &mut s,
            pack(&shop, pb::GiftPackKind::Member, &[&interactive], None),
        )
        .await,
    )?;
    assert_invalid(&status, "pack.batch_keys[0]");
    let status = expect_err(
        create(
            &mut s,
            pack(&shop, pb::GiftPackKind::Member, &[&crm, &crm], None),
        )
        .await,
    )?;
    assert_invalid(&status, "pack.batch_keys[1]");
    item(&mut s, &shop, "gift-1", 5).await?;
    let status = expect_err(
        create(
            &mut s,
            pack(
                &shop,
                pb::GiftPackKind::Member,
                &[&crm],
                Some(("gift-1", 2)),
            ),
        )
        .await,
    )?;
    assert_invalid(&status, "pack.gift_item");
    let status =
        expect_err(create(&mut s, pack(&shop, pb::GiftPackKind::Member, &[], None)).await)?;
    assert_invalid(&status, "pack.batch_keys");
    Ok(())
}

// ------------------------------------------------------------------------------ GP-5

#[tokio::test]
async fn gp5_overlapping_pack_is_refused_naming_the_other() -> TestResult {
    let mut s = Suite::start().await?;
    let shop = s.shop(ShopType::Pop, POLICY, false).await?;
    let a = crm_batch(&mut s, &shop, 100).await?;
    let mut p = pack(&shop, pb::GiftPackKind::NewMember, &[&a], None);
    p.quantity = 10;
    let first = create(&mut s, p).await?;

    let mut overlapping = pack(&shop, pb::GiftPackKind::NewMember, &[&a], None);
    overlapping.quantity = 10;
    overlapping.start_time = ts(t0() + Duration::days(1));
    overlapping.end_time = ts(t0() + Duration::days(5));
    let status = expect_err(create(&mut s, overlapping.clone()).await)?;
    assert_precondition(&status, "PACK_WINDOW_OVERLAP");
    assert!(status.message().contains(&first.pack_id), "{status:?}");

    // Another kind may run at the same time; back-to-back windows are allowed.
    let mut member = overlapping.clone();
    member.kind = pb::GiftPackKind::Member.into();
    create(&mut s, member).await?;
    let mut next = overlapping.clone();
    next.start_time = ts(t0() + Duration::days(3));
    let next = create(&mut s, next).await?;

    // A closed pack no longer blocks its window.
    close(&mut s, &shop, &first.pack_id).await?;
    let mut inside = overlapping;
    inside.end_time = ts(t0() + Duration::days(2));
    create(&mut s, inside).await?;
    assert_ne!(next.pack_id, first.pack_id);
    Ok(())
}

// ------------------------------------------------------------------------------ GP-6

#[tokio::test]
async fn gp6_member_pack_is_for_members_at_or_above_the_minimum_level() -> TestResult {
    let mut s = Suite::start().await?;
    let shop = s.shop(ShopType::Pop, POLICY, false).await?;
    let a = crm_batch(&mut s, &shop, 100).await?;
    // An old member (joined long before the pack) may claim a member pack.
    s.open_card(&shop, "old").await?;
    s.clock.advance(Duration::days(2));
    let mut high = pack(&shop, pb::GiftPackKind::Member, &[&a], None);
    high.min_level = 2;
    let created = create(&mut s, high).await?;
    let status = expect_err(claim(&mut s, &created.pack_id, "old").await)?;
    assert_precondition(&status, "LEVEL_TOO_LOW");
    close(&mut s, &shop, &created.pack_id).await?;

    let open = create(&mut s, pack(&shop, pb::GiftPackKind::Member, &[&a], None)).await?;
    let granted = claim(&mut s, &open.pack_id, "old").await?;
    assert_eq!(granted.state(), pb::ClaimState::Granted);
    assert_eq!(granted.kind(), pb::ClaimKind::MemberPack);
    Ok(())
}

// ------------------------------------------------------------------------------ close

#[tokio::test]
async fn gp3_closing_a_pack_stops_claims_and_returns_unused_gift_stock() -> TestResult {
    let mut s = Suite::start().await?;
    let (shop, a, _) = gift_shop(&mut s, 10).await?;
    let mut p = pack(
        &shop,
        pb::GiftPackKind::NewMember,
        &[&a],
        Some(("gift-1", 10)),
    );
    p.quantity = 3;
    let created = create(&mut s, p).await?;
    assert_eq!(stock(&mut s, &shop, "gift-1").await?, 7);
    s.open_card(&shop, "u1").await?;
    s.open_card(&shop, "u2").await?;
    claim(&mut s, &created.pack_id, "u1").await?;
    let closed = close(&mut s, &shop, &created.pack_id).await?;
    assert_eq!(closed.status(), pb::CampaignStatus::Closed);
    assert_eq!(closed.packs_left, 0);
    assert_eq!(stock(&mut s, &shop, "gift-1").await?, 9);
    // Closing again changes nothing.
    close(&mut s, &shop, &created.pack_id).await?;
    assert_eq!(stock(&mut s, &shop, "gift-1").await?, 9);
    let status = expect_err(claim(&mut s, &created.pack_id, "u2").await)?;
    assert_precondition(&status, "PACK_NOT_VALID");
    Ok(())
}

#[tokio::test]
async fn gp3_a_pack_cannot_set_aside_more_gift_units_than_the_item_has() -> TestResult {
    let mut s = Suite::start().await?;
    let (shop, a, _) = gift_shop(&mut s, 3).await?;
    let status = expect_err(
        create(
            &mut s,
            pack(
                &shop,
                pb::GiftPackKind::NewMember,
                &[&a],
                Some(("gift-1", 4)),
            ),
        )
        .await,
    )?;
    assert_invalid(&status, "pack.gift_item.quantity");
    Ok(())
}

// ------------------------------------------------------------------------------ GP-7

#[tokio::test]
async fn gp7_storefront_lists_claimable_packs_and_pops_up_once_for_a_new_member() -> TestResult {
    let mut s = Suite::start().await?;
    let (shop, a, _) = gift_shop(&mut s, 5).await?;
    let created = create(
        &mut s,
        pack(&shop, pb::GiftPackKind::NewMember, &[&a], None),
    )
    .await?;
    let before = offers(&mut s, &shop, "u1").await?;
    assert!(before.claimable_packs.is_empty());
    assert!(!before.show_popup);
    assert_eq!(before.shop_type(), ShopType::Pop);

    s.open_card(&shop, "u1").await?;
    let first = offers(&mut s, &shop, "u1").await?;
    assert_eq!(first.claimable_packs.len(), 1);
    assert_eq!(first.claimable_packs[0].pack_id, created.pack_id);
    assert!(first.show_popup);
    let second = offers(&mut s, &shop, "u1").await?;
    assert_eq!(second.claimable_packs.len(), 1);
    assert!(!second.show_popup);

    claim(&mut s, &created.pack_id, "u1").await?;
    assert!(
        offers(&mut s, &shop, "u1")
            .await?
            .claimable_packs
            .is_empty()
    );
    Ok(())
}

#[tokio::test]
async fn gp7_a_member_pack_pops_up_on_the_first_visit_in_its_window() -> TestResult {
    let mut s = Suite::start().await?;
    let shop = s.shop(ShopType::Pop, POLICY, false).await?;
    let a = crm_batch(&mut s, &shop, 100).await?;
    s.open_card(&shop, "u1").await?;
    let mut p = pack(&shop, pb::GiftPackKind::Member, &[&a], None);
    p.popup_start_time = ts(t0() + Duration::hours(1));
    p.popup_end_time = ts(t0() + Duration::hours(5));
    create(&mut s, p).await?;
    // Before the pop-up window: listed, no pop-up.
    let early = offers(&mut s, &shop, "u1").await?;
    assert_eq!(early.claimable_packs.len(), 1);
    assert!(!early.show_popup);
    s.clock.advance(Duration::hours(2));
    assert!(offers(&mut s, &shop, "u1").await?.show_popup);
    assert!(!offers(&mut s, &shop, "u1").await?.show_popup);
    Ok(())
}

// ------------------------------------------------------------------------------ GP-8

async fn set_exclusive(
    s: &mut Suite,
    shop: &str,
    batch: Option<&coupon_pb::Batch>,
    gift: Option<(&str, i64)>,
) -> Result<pb::NewMemberExclusive, tonic::Status> {
    Ok(s.campaign
        .set_new_member_exclusive(req(
            &merchant(shop),
            pb::SetNewMemberExclusiveRequest {
                request_id: rid("exclusive"),
                exclusive: Some(pb::NewMemberExclusive {
                    shop_id: shop.into(),
                    batch_key: batch.map(|b| b.batch_key.clone()).unwrap_or_default(),
                    gift_item: gift.map(|(sku, quantity)| pb::GiftItem {
                        sku: sku.into(),
                        quantity,
                    }),
                    update_time: None,
                }),
            },
        ))
        .await?
        .into_inner())
}

async fn claim_exclusive(
    s: &mut Suite,
    shop: &str,
    user: &str,
    choice: pb::ExclusiveChoice,
) -> Result<pb::Claim, tonic::Status> {
    Ok(s.campaign
        .claim_new_member_exclusive(req(
            &shopper(user),
            pb::ClaimNewMemberExclusiveRequest {
                request_id: rid("exclusive-claim"),
                shop_id: shop.into(),
                user_id: user.into(),
                choice: choice.into(),
            },
        ))
        .await?
        .into_inner())
}

#[tokio::test]
async fn gp8_a_new_member_claims_one_exclusive_once_independently_of_the_pack() -> TestResult {
    let mut s = Suite::start().await?;
    let (shop, a, b) = gift_shop(&mut s, 5).await?;
    let set = set_exclusive(&mut s, &shop, Some(&b), Some(("gift-1", 1))).await?;
    assert_eq!(set.batch_key, b.batch_key);
    let created = create(
        &mut s,
        pack(&shop, pb::GiftPackKind::NewMember, &[&a], None),
    )
    .await?;
    s.open_card(&shop, "u1").await?;
    assert!(
        offers(&mut s, &shop, "u1")
            .await?
            .new_member_exclusive
            .is_some()
    );

    let gift = claim_exclusive(&mut s, &shop, "u1", pb::ExclusiveChoice::Gift).await?;
    assert_eq!(gift.state(), pb::ClaimState::Granted, "{gift:?}");
    assert_eq!(gift.kind(), pb::ClaimKind::NewMemberExclusive);
    assert_eq!(entitlements(&mut s, &shop, "u1").await?.len(), 1);
    assert_eq!(stock(&mut s, &shop, "gift-1").await?, 4);
    let status =
        expect_err(claim_exclusive(&mut s, &shop, "u1", pb::ExclusiveChoice::Coupon).await)?;
    assert_precondition(&status, "EXCLUSIVE_ALREADY_CLAIMED");
    assert!(
        offers(&mut s, &shop, "u1")
            .await?
            .new_member_exclusive
            .is_none()
    );
    // The pack is independent of the exclusive.
    let pack = claim(&mut s, &created.pack_id, "u1").await?;
    assert_eq!(pack.state(), pb::ClaimState::Granted);

    // Not a new member any more after 24 h.
    s.open_card(&shop, "u2").await?;
    s.clock.advance(Duration::hours(24));
    let status =
        expect_err(claim_exclusive(&mut s, &shop, "u2", pb::ExclusiveChoice::Coupon).await)?;
    assert_precondition(&status, "NOT_A_NEW_MEMBER");
    Ok(())
}

#[tokio::test]
async fn gp8_the_exclusive_coupon_is_issued_and_an_exhausted_gift_is_resource_exhausted()
-> TestResult {
    let mut s = Suite::start().await?;
    let (shop, _, b) = gift_shop(&mut s, 1).await?;
    set_exclusive(&mut s, &shop, Some(&b), Some(("gift-1", 1))).await?;
    for user in ["u1", "u2", "u3"] {
        s.open_card(&shop, user).await?;
    }
    let coupon = claim_exclusive(&mut s, &shop, "u1", pb::ExclusiveChoice::Coupon).await?;
    assert_eq!(coupon.state(), pb::ClaimState::Granted);
    assert_eq!(coupons_of(&s, "u1").await?, 1);
    claim_exclusive(&mut s, &shop, "u2", pb::ExclusiveChoice::Gift).await?;
    let status = expect_err(claim_exclusive(&mut s, &shop, "u3", pb::ExclusiveChoice::Gift).await)?;
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    // Refused, nothing recorded: u3 may still take the coupon.
    let coupon = claim_exclusive(&mut s, &shop, "u3", pb::ExclusiveChoice::Coupon).await?;
    assert_eq!(coupon.state(), pb::ClaimState::Granted);
    Ok(())
}

#[tokio::test]
async fn gp8_an_exclusive_needs_a_crm_coupon_or_a_gift() -> TestResult {
    let mut s = Suite::start().await?;
    let shop = s.shop(ShopType::Pop, POLICY, false).await?;
    let status = expect_err(set_exclusive(&mut s, &shop, None, None).await)?;
    assert_invalid(&status, "exclusive.batch_key");
    let interactive = s
        .batch(
            &shop,
            coupon_pb::CouponKind::Threshold,
            CouponChannel::Interactive,
            10,
        )
        .await?;
    let status = expect_err(set_exclusive(&mut s, &shop, Some(&interactive), None).await)?;
    assert_invalid(&status, "exclusive.batch_key");
    Ok(())
}

// ------------------------------------------------------------------------------ GP-4

#[tokio::test]
async fn gp4_an_entitlement_is_consumed_by_one_order() -> TestResult {
    let mut s = Suite::start().await?;
    let (shop, a, _) = gift_shop(&mut s, 5).await?;
    let created = create(
        &mut s,
        pack(
            &shop,
            pb::GiftPackKind::NewMember,
            &[&a],
            Some(("gift-1", 5)),
        ),
    )
    .await?;
    s.open_card(&shop, "u1").await?;
    claim(&mut s, &created.pack_id, "u1").await?;
    let held = entitlements(&mut s, &shop, "u1").await?;
    let id = held[0].entitlement_id.clone();
    let orders = Actor::Service {
        name: "order-system".into(),
    };
    let consume = |order: &str| {
        req(
            &orders,
            pb::ConsumeEntitlementRequest {
                request_id: rid("consume"),
                entitlement_id: id.clone(),
                order_id: order.into(),
            },
        )
    };
    let consumed = s
        .campaign
        .consume_entitlement(consume("o1"))
        .await?
        .into_inner();
    assert_eq!(consumed.state(), pb::EntitlementState::Consumed);
    assert_eq!(consumed.order_id, "o1");
    // The same order again (another delivery): unchanged.
    let again = s
        .campaign
        .consume_entitlement(consume("o1"))
        .await?
        .into_inner();
    assert_eq!(again, consumed);
    let status = expect_err(s.campaign.consume_entitlement(consume("o2")).await)?;
    assert_precondition(&status, "ENTITLEMENT_CONSUMED");
    // Shoppers and merchants do not consume entitlements.
    let status = expect_err(
        s.campaign
            .consume_entitlement(req(
                &shopper("u1"),
                pb::ConsumeEntitlementRequest {
                    request_id: rid("consume"),
                    entitlement_id: id.clone(),
                    order_id: "o3".into(),
                },
            ))
            .await,
    )?;
    assert_eq!(status.code(), Code::PermissionDenied);
    assert_eq!(
        entitlements(&mut s, &shop, "u1").await?[0].state(),
        pb::EntitlementState::Consumed
    );
    Ok(())
}

// ------------------------------------------------------------------------------ concurrency

/// Concurrency is tested, not argued. Checked once against a naive variant of
/// `store::gift_packs::take_pack` (read packs_left, then write it back minus one): 50 of 50 were
/// granted, so this test sees the over-claim bug.
#[tokio::test]
async fn gp3_50_concurrent_claims_of_a_pack_of_10_grant_exactly_10_whole() -> TestResult {
    let mut s = Suite::start().await?;
    let (shop, a, b) = gift_shop(&mut s, 100).await?;
    let mut p = pack(
        &shop,
        pb::GiftPackKind::NewMember,
        &[&a, &b],
        Some(("gift-1", 100)),
    );
    p.quantity = 10;
    let created = create(&mut s, p).await?;
    let users: Vec<String> = (0..50).map(|i| format!("racer-{i}")).collect();
    for user in &users {
        s.open_card(&shop, user).await?;
    }
    let mut tasks = tokio::task::JoinSet::new();
    for user in users {
        let mut client = s.campaign.clone();
        let pack_id = created.pack_id.clone();
        tasks.spawn(async move {
            client
                .claim_gift_pack(req(
                    &shopper(&user),
                    pb::ClaimGiftPackRequest {
                        request_id: rid("race"),
                        pack_id,
                        user_id: user.clone(),
                    },
                ))
                .await
        });
    }
    let (mut granted, mut exhausted, mut other) = (0, 0, Vec::new());
    while let Some(joined) = tasks.join_next().await {
        match joined? {
            Ok(c) if c.get_ref().state() == pb::ClaimState::Granted => {
                assert_eq!(c.get_ref().items.len(), 3, "granted whole");
                granted += 1;
            }
            Err(status) if status.code() == Code::ResourceExhausted => exhausted += 1,
            outcome => other.push(format!("{outcome:?}")),
        }
    }
    assert!(other.is_empty(), "unexpected outcomes: {other:?}");
    assert_eq!((granted, exhausted), (10, 40));
    let coupons: i64 =
        sqlx::query_scalar("SELECT count(*) FROM coupon.coupons WHERE batch_id = ANY($1::uuid[])")
            .bind(vec![a.batch_id.clone(), b.batch_id.clone()])
            .fetch_one(&s.pool)
            .await?;
    assert_eq!(coupons, 20);
    let entitlements: i64 =
        sqlx::query_scalar("SELECT count(*) FROM campaign.entitlements WHERE shop_id = $1::uuid")
            .bind(&shop)
            .fetch_one(&s.pool)
            .await?;
    assert_eq!(entitlements, 10);
    let claims: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM campaign.claims WHERE source_id = $1 AND state = 'GRANTED'",
    )
    .bind(&created.pack_id)
    .fetch_one(&s.pool)
    .await?;
    assert_eq!(claims, 10);
    // The pack's 10 units were set aside at creation; none more was taken.
    assert_eq!(stock(&mut s, &shop, "gift-1").await?, 90);
    Ok(())
}

// ------------------------------------------------------------------------------ GP-9 stock

async fn remaining(s: &mut Suite, shop: &str, batch: &coupon_pb::Batch) -> anyhow::Result<i64> {
    Ok(s.coupon
        .get_batch(req(
            &merchant(shop),
            coupon_pb::GetBatchRequest {
                shop_id: shop.into(),
                batch: batch.batch_key.clone(),
            },
        ))
        .await?
        .into_inner()
        .remaining_quantity)
}

/// A pack sets its coupons aside in coupon-svc (so a claim is always granted whole, even
/// while other channels drain the batch); closing it gives the unused units back.
#[tokio::test]
async fn gp9_a_pack_reserves_its_coupons_and_closing_releases_the_unused() -> TestResult {
    let mut s = Suite::start().await?;
    let shop = s.shop(ShopType::Pop, POLICY, false).await?;
    let a = crm_batch(&mut s, &shop, 10).await?;
    let mut p = pack(&shop, pb::GiftPackKind::NewMember, &[&a], None);
    p.quantity = 6;
    let created = create(&mut s, p).await?;
    assert_eq!(remaining(&mut s, &shop, &a).await?, 4);
    // Another pack cannot promise the same units (GP-3: quantity within the free stock).
    let mut member = pack(&shop, pb::GiftPackKind::Member, &[&a], None);
    member.quantity = 5;
    let status = expect_err(create(&mut s, member).await)?;
    assert_invalid(&status, "pack.quantity");
    // A refused create gives back what it set aside.
    let mut overlapping = pack(&shop, pb::GiftPackKind::NewMember, &[&a], None);
    overlapping.quantity = 4;
    let status = expect_err(create(&mut s, overlapping).await)?;
    assert_precondition(&status, "PACK_WINDOW_OVERLAP");
    assert_eq!(remaining(&mut s, &shop, &a).await?, 4);

    s.open_card(&shop, "u1").await?;
    let granted = claim(&mut s, &created.pack_id, "u1").await?;
    assert_eq!(granted.state(), pb::ClaimState::Granted);
    assert_eq!(remaining(&mut s, &shop, &a).await?, 4);
    close(&mut s, &shop, &created.pack_id).await?;
    // 6 set aside, 1 granted: 5 come back.
    assert_eq!(remaining(&mut s, &shop, &a).await?, 9);
    Ok(())
}

/// GP-3: after its end the reconciler settles the pack: unused coupons and gift-item units
/// go back.
#[tokio::test]
async fn gp3_an_ended_pack_is_settled_by_the_reconciler() -> TestResult {
    let mut s = Suite::start().await?;
    let (shop, a, _) = gift_shop(&mut s, 10).await?;
    let mut p = pack(
        &shop,
        pb::GiftPackKind::NewMember,
        &[&a],
        Some(("gift-1", 10)),
    );
    p.quantity = 6;
    create(&mut s, p).await?;
    assert_eq!(remaining(&mut s, &shop, &a).await?, 94);
    assert_eq!(stock(&mut s, &shop, "gift-1").await?, 4);
    s.clock.advance(Duration::days(3));
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
    while remaining(&mut s, &shop, &a).await? != 100 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the pack was not settled"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(stock(&mut s, &shop, "gift-1").await?, 10);
    Ok(())
}

// ------------------------------------------------------------------------------

#[tokio::test]
async fn x2_a_retried_create_returns_the_same_pack_and_sets_aside_nothing_more() -> TestResult {
    let mut s = Suite::start().await?;
    let shop = s.shop(ShopType::Pop, POLICY, false).await?;
    let a = crm_batch(&mut s, &shop, 10).await?;
    let mut p = pack(&shop, pb::GiftPackKind::NewMember, &[&a], None);
    p.quantity = 3;
    let request = pb::CreateGiftPackRequest {
        request_id: "create-once".into(),
        pack: Some(p),
    };
    let first = s
        .campaign
        .create_gift_pack(req(&merchant(&shop), request.clone()))
        .await?
        .into_inner();
    let again = s
        .campaign
        .create_gift_pack(req(&merchant(&shop), request.clone()))
        .await?
        .into_inner();
    assert_eq!(again.pack_id, first.pack_id);
    assert_eq!(remaining(&mut s, &shop, &a).await?, 7);
    // The same key with another request is refused.
    let mut other = request;
    if let Some(p) = other.pack.as_mut() {
        p.quantity = 2;
    }
    let status = expect_err(
        s.campaign
            .create_gift_pack(req(&merchant(&shop), other))
            .await,
    )?;
    assert_precondition(&status, "IDEMPOTENCY_KEY_REUSED");
    assert_eq!(remaining(&mut s, &shop, &a).await?, 7);
    Ok(())
}

#[tokio::test]
async fn x1_merchants_act_only_on_their_own_shop_and_shoppers_on_their_own_data() -> TestResult {
    let mut s = Suite::start().await?;
    let (shop, a, _) = gift_shop(&mut s, 5).await?;
    let other = s.shop(ShopType::Pop, POLICY, true).await?;
    let status = expect_err(
        s.campaign
            .create_gift_pack(req(
                &merchant(&other),
                pb::CreateGiftPackRequest {
                    request_id: rid("pack"),
                    pack: Some(pack(&shop, pb::GiftPackKind::Member, &[&a], None)),
                },
            ))
            .await,
    )?;
    assert_eq!(status.code(), Code::PermissionDenied);
    let status = expect_err(
        s.campaign
            .list_gift_items(req(
                &merchant(&other),
                pb::ListGiftItemsRequest {
                    shop_id: shop.clone(),
                },
            ))
            .await,
    )?;
    assert_eq!(status.code(), Code::PermissionDenied);
    let status = expect_err(
        s.campaign
            .list_entitlements(req(
                &shopper("u2"),
                pb::ListEntitlementsRequest {
                    shop_id: shop.clone(),
                    user_id: "u1".into(),
                },
            ))
            .await,
    )?;
    assert_eq!(status.code(), Code::PermissionDenied);
    Ok(())
}

/// a create retried after the batch's stock went to the pack itself returns the pack,
/// not BATCH_OUT_OF_STOCK.
#[tokio::test]
async fn x2_a_pack_create_retried_after_its_stock_is_set_aside_returns_the_first_pack() -> TestResult
{
    let mut s = Suite::start().await?;
    let shop = s.shop(ShopType::Pop, POLICY, false).await?;
    let a = crm_batch(&mut s, &shop, 5).await?;
    let mut p = pack(&shop, pb::GiftPackKind::NewMember, &[&a], None);
    p.quantity = 5;
    let request = pb::CreateGiftPackRequest {
        request_id: "create-all-stock".into(),
        pack: Some(p),
    };
    let first = s
        .campaign
        .create_gift_pack(req(&merchant(&shop), request.clone()))
        .await?
        .into_inner();
    assert_eq!(remaining(&mut s, &shop, &a).await?, 0);
    let again = s
        .campaign
        .create_gift_pack(req(&merchant(&shop), request))
        .await?
        .into_inner();
    assert_eq!(again.pack_id, first.pack_id);
    assert_eq!(again.quantity, 5);
    Ok(())
}

/// a claim retried after the pack was closed returns the first claim.
#[tokio::test]
async fn x2_a_pack_claim_retried_after_the_pack_closed_returns_the_first_claim() -> TestResult {
    let mut s = Suite::start().await?;
    let shop = s.shop(ShopType::Pop, POLICY, false).await?;
    let a = crm_batch(&mut s, &shop, 10).await?;
    let created = create(
        &mut s,
        pack(&shop, pb::GiftPackKind::NewMember, &[&a], None),
    )
    .await?;
    s.open_card(&shop, "u1").await?;
    let first = claim_with(&mut s, &created.pack_id, "u1", "claim-once").await?;
    assert_eq!(first.state(), pb::ClaimState::Granted, "{first:?}");
    close(&mut s, &shop, &created.pack_id).await?;
    let again = claim_with(&mut s, &created.pack_id, "u1", "claim-once").await?;
    assert_eq!(again.claim_id, first.claim_id);
    assert_eq!(again.state(), pb::ClaimState::Granted);
    assert_eq!(coupons_of(&s, "u1").await?, 1);
    Ok(())
}

/// GP-9: a creator that dies between setting a pack's coupons aside and recording the pack
/// leaves its provisioning RESERVING; the reconciler gives the units back, fenced, and the
/// batch can then be closed.
#[tokio::test]
async fn gp9_units_of_a_pack_whose_creator_died_before_recording_it_are_given_back() -> TestResult {
    use campaign_svc::testing::{Provisioning, gift_pack_provisionings};
    let mut s = Suite::start().await?;
    let shop = s.shop(ShopType::Pop, POLICY, false).await?;
    let a = crm_batch(&mut s, &shop, 10).await?;
    let batch_id = uuid::Uuid::parse_str(&a.batch_id)?;
    // What `CreateGiftPack` does up to the crash: write the provisioning, reserve.
    let provisioning = Provisioning {
        pack_id: campaign_svc::testing::PackId::new(),
        batch_ids: vec![batch_id],
        quantity: 4,
    };
    let mut conn = s.pool.acquire().await?;
    gift_pack_provisionings::begin(
        &mut conn,
        &provisioning,
        memberhub_kit::clock::Clock::now(&s.clock),
    )
    .await?;
    let peers = campaign_svc::testing::Peers::connect_lazy(
        &format!("http://{}", s.membership_address),
        &format!("http://{}", s.coupon_address),
        std::sync::Arc::new(memberhub_kit::auth::Signer::development(
            memberhub_kit::auth::CAMPAIGN_SVC,
        )),
    )?;
    campaign_svc::testing::reserve(&peers, provisioning.pack_id, &[batch_id], 4).await?;
    assert_eq!(remaining(&mut s, &shop, &a).await?, 6);
    // Not yet: the creator may still be at work.
    s.clock.advance(Duration::minutes(5));
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    assert_eq!(remaining(&mut s, &shop, &a).await?, 6);
    s.clock.advance(Duration::minutes(6));
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while remaining(&mut s, &shop, &a).await? != 10 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the reconciler did not give the units back"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // Fenced: a creator waking up now cannot record the pack.
    assert!(!gift_pack_provisionings::mark_recorded(&mut conn, provisioning.pack_id).await?);
    // The reconciler marks the provisioning ABANDONED right after giving the units back.
    loop {
        let state: String = sqlx::query_scalar(
            "SELECT state FROM campaign.gift_pack_provisionings WHERE pack_id = $1",
        )
        .bind(provisioning.pack_id.as_uuid())
        .fetch_one(&mut *conn)
        .await?;
        if state == "ABANDONED" {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the provisioning stayed {state}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // Nothing is held any more: the batch closes.
    s.coupon
        .close_batch(req(
            &merchant(&shop),
            coupon_pb::CloseBatchRequest {
                request_id: rid("close-batch"),
                shop_id: shop.clone(),
                batch_id: a.batch_id.clone(),
            },
        ))
        .await?;
    Ok(())
}

/// GP-3: when the gift item runs out the pack ends at once: it reads ENDED, refuses claims
/// and no longer blocks a new pack of its type for the rest of its window (GP-5).
#[tokio::test]
async fn gp3_a_pack_ends_when_its_gift_runs_out_and_frees_its_window() -> TestResult {
    let mut s = Suite::start().await?;
    let (shop, a, _) = gift_shop(&mut s, 10).await?;
    let mut p = pack(
        &shop,
        pb::GiftPackKind::NewMember,
        &[&a],
        Some(("gift-1", 10)),
    );
    p.quantity = 2;
    let created = create(&mut s, p).await?;
    for user in ["u1", "u2", "u3"] {
        s.open_card(&shop, user).await?;
    }
    claim(&mut s, &created.pack_id, "u1").await?;
    claim(&mut s, &created.pack_id, "u2").await?;
    let read = s
        .campaign
        .get_gift_pack(req(
            &merchant(&shop),
            pb::GetGiftPackRequest {
                pack_id: created.pack_id.clone(),
            },
        ))
        .await?
        .into_inner();
    assert_eq!(read.status(), pb::CampaignStatus::Ended, "{read:?}");
    assert_eq!(read.packs_left, 0);
    let status = expect_err(claim(&mut s, &created.pack_id, "u3").await)?;
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    // A new pack of the same type fits in the rest of the window.
    item(&mut s, &shop, "gift-2", 5).await?;
    let next = create(
        &mut s,
        pack(
            &shop,
            pb::GiftPackKind::NewMember,
            &[&a],
            Some(("gift-2", 1)),
        ),
    )
    .await?;
    assert_eq!(next.status(), pb::CampaignStatus::Live);
    Ok(())
}
