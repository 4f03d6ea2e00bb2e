//! X-1 trust boundary through the real gRPC interface: forged or stale actors are
//! UNAUTHENTICATED, a merchant stays in its shop, a service calls only what it is granted.

mod support;

use memberhub_kit::actor::Actor;
use memberhub_kit::testing::TestResult;
use memberhub_proto::campaign as pb;
use memberhub_proto::common::ShopType;
use memberhub_proto::membership as membership_pb;
use support::*;
use tonic::Code;

async fn gift_count(suite: &Suite) -> anyhow::Result<i64> {
    Ok(
        sqlx::query_scalar("SELECT count(*) FROM campaign.open_card_gifts")
            .fetch_one(&suite.pool)
            .await?,
    )
}

#[tokio::test]
async fn x1_forged_unsigned_expired_or_tampered_actors_are_unauthenticated() -> TestResult {
    let mut suite = Suite::start().await?;
    let shop = suite
        .shop(ShopType::Pop, membership_pb::JoinPolicy::Card, false)
        .await?;
    let create = pb::CreateOpenCardGiftRequest {
        request_id: rid("forged"),
        gift: Some(gift(&shop, vec![asset_prize(pb::PrizeType::Beans, 5)], 10)),
    };
    for (label, request) in memberhub_kit::testing::forgeries(&create) {
        let status = expect_err(suite.campaign.create_open_card_gift(request).await)?;
        assert_eq!(status.code(), Code::Unauthenticated, "{label}: {status:?}");
    }
    let list = pb::ListOpenCardGiftsRequest {
        shop_id: shop.clone(),
        ..Default::default()
    };
    for (label, request) in memberhub_kit::testing::forgeries(&list) {
        let status = expect_err(suite.campaign.list_open_card_gifts(request).await)?;
        assert_eq!(status.code(), Code::Unauthenticated, "{label}: {status:?}");
    }
    assert_eq!(gift_count(&suite).await?, 0);
    Ok(())
}

#[tokio::test]
async fn x1_a_merchant_of_shop_a_cannot_act_on_shop_b() -> TestResult {
    let mut suite = Suite::start().await?;
    let a = suite
        .shop(ShopType::Pop, membership_pb::JoinPolicy::Card, false)
        .await?;
    let b = suite
        .shop(ShopType::Pop, membership_pb::JoinPolicy::Card, false)
        .await?;
    let create = pb::CreateOpenCardGiftRequest {
        request_id: rid("cross-shop"),
        gift: Some(gift(&b, vec![asset_prize(pb::PrizeType::Beans, 5)], 10)),
    };
    let status = expect_err(
        suite
            .campaign
            .create_open_card_gift(req(&merchant(&a), create))
            .await,
    )?;
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert_eq!(gift_count(&suite).await?, 0);
    Ok(())
}

#[tokio::test]
async fn x1_services_call_only_what_they_are_granted() -> TestResult {
    let mut suite = Suite::start().await?;
    let shop = suite
        .shop(ShopType::Pop, membership_pb::JoinPolicy::Card, false)
        .await?;
    for name in [
        memberhub_kit::auth::ORDER_SYSTEM,
        memberhub_kit::auth::CAMPAIGN_SVC,
    ] {
        let service = Actor::Service { name: name.into() };
        let create = pb::CreateOpenCardGiftRequest {
            request_id: rid(name),
            gift: Some(gift(&shop, vec![asset_prize(pb::PrizeType::Beans, 5)], 10)),
        };
        let status = expect_err(
            suite
                .campaign
                .create_open_card_gift(req(&service, create))
                .await,
        )?;
        assert_eq!(status.code(), Code::PermissionDenied, "{name}: {status:?}");
    }
    assert_eq!(gift_count(&suite).await?, 0);
    Ok(())
}
