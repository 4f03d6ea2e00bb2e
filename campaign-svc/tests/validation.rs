//! bad caller input is INVALID_ARGUMENT naming the field, through the real gRPC
//! interface on real Postgres: control characters in text (Postgres refuses a NUL, so one
//! must never reach it), unknown enum numbers, page sizes, list lengths and window
//! lengths. X-1: another shop's campaign, pack or claim is NOT_FOUND for a merchant.

mod support;

use chrono::Duration;
use memberhub_kit::actor::Actor;
use memberhub_kit::testing::TestResult;
use memberhub_proto::campaign as pb;
use memberhub_proto::common::ShopType;
use memberhub_proto::membership as membership_pb;
use support::*;
use tonic::Code;

const POLICY: membership_pb::JoinPolicy = membership_pb::JoinPolicy::Card;

/// A points gift (no budget needed) named `name`.
fn points_gift(shop: &str, name: &str) -> pb::OpenCardGift {
    let mut g = gift(shop, vec![asset_prize(pb::PrizeType::Points, 10)], 5);
    g.name = name.into();
    g
}

async fn rename(
    s: &mut Suite,
    shop: &str,
    campaign_id: &str,
    name: &str,
) -> Result<pb::OpenCardGift, tonic::Status> {
    Ok(s.campaign
        .update_open_card_gift(req(
            &merchant(shop),
            pb::UpdateOpenCardGiftRequest {
                request_id: rid("rename"),
                gift: Some(pb::OpenCardGift {
                    campaign_id: campaign_id.into(),
                    name: name.into(),
                    ..Default::default()
                }),
            },
        ))
        .await?
        .into_inner())
}

async fn upsert_item(
    s: &mut Suite,
    shop: &str,
    sku: &str,
    title: &str,
) -> Result<pb::GiftItemRecord, tonic::Status> {
    Ok(s.campaign
        .upsert_gift_item(req(
            &merchant(shop),
            pb::UpsertGiftItemRequest {
                request_id: rid("item"),
                item: Some(pb::GiftItemRecord {
                    shop_id: shop.into(),
                    sku: sku.into(),
                    title: title.into(),
                    gift_category: true,
                    stock: 5,
                }),
            },
        ))
        .await?
        .into_inner())
}

async fn create_pack(s: &mut Suite, p: pb::GiftPack) -> Result<pb::GiftPack, tonic::Status> {
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

async fn list_claims(
    s: &mut Suite,
    shop: &str,
    request: pb::ListClaimsRequest,
) -> Result<pb::ListClaimsResponse, tonic::Status> {
    Ok(s.campaign
        .list_claims(req(
            &merchant(shop),
            pb::ListClaimsRequest {
                shop_id: shop.into(),
                ..request
            },
        ))
        .await?
        .into_inner())
}

#[tokio::test]
async fn x3_a_nul_or_a_bell_in_a_gift_name_is_invalid_on_create_and_rename() -> TestResult {
    let mut s = Suite::start().await?;
    let shop = s.shop(ShopType::Pop, POLICY, false).await?;
    for name in ["开卡\0有礼", "gift\u{7}", "a\nb"] {
        let status = expect_err(s.create_gift(points_gift(&shop, name)).await)?;
        assert_invalid(&status, "gift.name");
    }
    let created = s.create_gift(points_gift(&shop, "开卡有礼")).await?;
    for name in ["开卡\0有礼", "gift\u{7}"] {
        let status = expect_err(rename(&mut s, &shop, &created.campaign_id, name).await)?;
        assert_invalid(&status, "gift.name");
    }
    // Ten characters are ten, whatever their bytes.
    let renamed = rename(&mut s, &shop, &created.campaign_id, "会员开卡有礼😀😀😀😀").await?;
    assert_eq!(renamed.name.chars().count(), 10);
    Ok(())
}

#[tokio::test]
async fn x3_a_nul_in_a_pack_name_or_an_items_title_or_sku_is_invalid_naming_the_field() -> TestResult
{
    let mut s = Suite::start().await?;
    let shop = s.shop(ShopType::Pop, POLICY, true).await?;
    let status = expect_err(upsert_item(&mut s, &shop, "sku\0", "tea").await)?;
    assert_invalid(&status, "item.sku");
    let status = expect_err(upsert_item(&mut s, &shop, "sku-1", "tea\0").await)?;
    assert_invalid(&status, "item.title");
    let status = expect_err(upsert_item(&mut s, &shop, "sku-1", "tea\u{7}").await)?;
    assert_invalid(&status, "item.title");
    upsert_item(&mut s, &shop, "sku-1", "tea").await?;

    let batch = s
        .batch(
            &shop,
            memberhub_proto::coupon::CouponKind::Threshold,
            memberhub_proto::common::CouponChannel::Crm,
            10,
        )
        .await?;
    let pack = |name: &str, sku: &str| pb::GiftPack {
        shop_id: shop.clone(),
        kind: pb::GiftPackKind::NewMember.into(),
        name: name.into(),
        start_time: ts(t0() - Duration::hours(1)),
        end_time: ts(t0() + Duration::days(3)),
        batch_keys: vec![batch.batch_key.clone()],
        gift_item: Some(pb::GiftItem {
            sku: sku.into(),
            quantity: 1,
        }),
        ..Default::default()
    };
    let status = expect_err(create_pack(&mut s, pack("新人\0礼包", "sku-1")).await)?;
    assert_invalid(&status, "pack.name");
    let status = expect_err(create_pack(&mut s, pack("新人礼包", "sku\0")).await)?;
    assert_invalid(&status, "pack.gift_item.sku");
    create_pack(&mut s, pack("新人礼包", "sku-1")).await?;
    Ok(())
}

#[tokio::test]
async fn x3_claims_list_filters_with_a_nul_an_unknown_state_or_a_huge_page_are_invalid()
-> TestResult {
    let mut s = Suite::start().await?;
    let shop = s.shop(ShopType::Pop, POLICY, false).await?;
    let cases = [
        (
            pb::ListClaimsRequest {
                user_id: "u\u{0}1".into(),
                ..Default::default()
            },
            "user_id",
        ),
        (
            pb::ListClaimsRequest {
                source_id: "\0".into(),
                ..Default::default()
            },
            "source_id",
        ),
        (
            pb::ListClaimsRequest {
                state: 99,
                ..Default::default()
            },
            "state",
        ),
        (
            pb::ListClaimsRequest {
                page_size: 201,
                ..Default::default()
            },
            "page_size",
        ),
    ];
    for (request, field) in cases {
        let status = expect_err(list_claims(&mut s, &shop, request).await)?;
        assert_invalid(&status, field);
    }
    let listed = list_claims(&mut s, &shop, pb::ListClaimsRequest::default()).await?;
    assert!(listed.claims.is_empty());
    Ok(())
}

#[tokio::test]
async fn x3_a_nul_in_an_entitlements_order_id_is_invalid_not_internal() -> TestResult {
    let mut s = Suite::start().await?;
    let orders = Actor::Service {
        name: "order-system".into(),
    };
    let status = expect_err(
        s.campaign
            .consume_entitlement(req(
                &orders,
                pb::ConsumeEntitlementRequest {
                    request_id: rid("consume"),
                    entitlement_id: uuid::Uuid::now_v7().to_string(),
                    order_id: "o\u{0}1".into(),
                },
            ))
            .await,
    )?;
    assert_invalid(&status, "order_id");
    Ok(())
}

#[tokio::test]
async fn x3_unknown_enum_numbers_are_invalid_naming_the_field() -> TestResult {
    let mut s = Suite::start().await?;
    let shop = s.shop(ShopType::Pop, POLICY, false).await?;
    let status = expect_err(
        s.campaign
            .list_gift_packs(req(
                &merchant(&shop),
                pb::ListGiftPacksRequest {
                    shop_id: shop.clone(),
                    kind: 99,
                    ..Default::default()
                },
            ))
            .await,
    )?;
    assert_invalid(&status, "kind");
    let status = expect_err(
        create_pack(
            &mut s,
            pb::GiftPack {
                shop_id: shop.clone(),
                kind: 99,
                name: "礼包".into(),
                start_time: ts(t0()),
                end_time: ts(t0() + Duration::days(3)),
                ..Default::default()
            },
        )
        .await,
    )?;
    assert_invalid(&status, "pack.kind");
    let mut unknown_prize = points_gift(&shop, "gift");
    unknown_prize.prizes[0].r#type = 99;
    let status = expect_err(s.create_gift(unknown_prize).await)?;
    assert_invalid(&status, "gift.prizes[0].type");
    Ok(())
}

#[tokio::test]
async fn x3_campaigns_and_packs_last_at_most_366_days_and_lists_are_bounded() -> TestResult {
    let mut s = Suite::start().await?;
    let shop = s.shop(ShopType::Pop, POLICY, false).await?;
    let mut long = points_gift(&shop, "gift");
    long.end_time = ts(t0() + Duration::days(367));
    let status = expect_err(s.create_gift(long).await)?;
    assert_invalid(&status, "gift.end_time");
    // Since year 1: the statistics would have had a row per day.
    let mut ancient = points_gift(&shop, "gift");
    ancient.start_time = Some(prost_types::Timestamp {
        seconds: -62_135_596_800,
        nanos: 0,
    });
    let status = expect_err(s.create_gift(ancient).await)?;
    assert_invalid(&status, "gift.end_time");
    let mut many = points_gift(&shop, "gift");
    many.prizes = vec![asset_prize(pb::PrizeType::Points, 1); 10_000];
    let status = expect_err(s.create_gift(many).await)?;
    assert_invalid(&status, "gift.prizes");
    assert!(fields(&status).len() < 10, "{:?}", fields(&status));

    let status = expect_err(
        create_pack(
            &mut s,
            pb::GiftPack {
                shop_id: shop.clone(),
                kind: pb::GiftPackKind::NewMember.into(),
                name: "礼包".into(),
                start_time: ts(t0()),
                end_time: ts(t0() + Duration::days(3)),
                batch_keys: vec!["BA_zv2bmpn".into(); 10_000],
                ..Default::default()
            },
        )
        .await,
    )?;
    assert_invalid(&status, "pack.batch_keys");
    // The statistics of a year-long campaign are one row per day at most.
    let mut year = points_gift(&shop, "gift");
    year.end_time = ts(t0() - Duration::hours(1) + Duration::days(366));
    let created = s.create_gift(year).await?;
    s.clock.advance(Duration::days(400));
    let stats = s
        .campaign
        .get_open_card_gift_statistics(req(
            &merchant(&shop),
            pb::GetOpenCardGiftStatisticsRequest {
                campaign_id: created.campaign_id.clone(),
            },
        ))
        .await?
        .into_inner();
    assert!(
        (366..=368).contains(&stats.days.len()),
        "{}",
        stats.days.len()
    );
    Ok(())
}

#[tokio::test]
async fn x1_another_shops_campaign_pack_or_claim_is_not_found_not_permission_denied() -> TestResult
{
    let mut s = Suite::start().await?;
    let shop = s.shop(ShopType::Pop, POLICY, false).await?;
    let other = s.shop(ShopType::Pop, POLICY, false).await?;
    let created = s.create_gift(points_gift(&shop, "gift")).await?;
    let status = expect_err(
        s.campaign
            .get_open_card_gift(req(
                &merchant(&other),
                pb::GetOpenCardGiftRequest {
                    campaign_id: created.campaign_id.clone(),
                },
            ))
            .await,
    )?;
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    assert!(!status.message().contains(&shop), "{status:?}");
    let status = expect_err(
        s.campaign
            .close_open_card_gift(req(
                &merchant(&other),
                pb::CloseOpenCardGiftRequest {
                    request_id: rid("close"),
                    campaign_id: created.campaign_id.clone(),
                },
            ))
            .await,
    )?;
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    // a claim of the first shop's gift, named by the other shop's merchant
    s.open_card(&shop, "u1").await?;
    let claims = s
        .wait_for_claims(
            &shop,
            &created.campaign_id,
            std::time::Duration::from_secs(20),
            |c| c.len() == 1,
        )
        .await?;
    let claim_id = claims
        .first()
        .map(|c| c.claim_id.clone())
        .ok_or_else(|| anyhow::anyhow!("no claim"))?;
    let status = expect_err(
        s.campaign
            .get_claim(req(&merchant(&other), pb::GetClaimRequest { claim_id }))
            .await,
    )?;
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    assert!(!status.message().contains(&shop), "{status:?}");
    Ok(())
}
