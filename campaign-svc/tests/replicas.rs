//! Replicas never double-act: two membership-svc and two campaign-svc instances over one
//! database, each with its own pool and its own background jobs (event consumer, saga
//! runner, reconciler, award runner, expiry sweep). Shoppers join through both membership
//! replicas at once; both campaign consumers read the same feed; each join is granted its
//! open-card gift once, whole. Then both membership replicas expire points at the same
//! moment; each lot expires once.

mod support;

use std::time::Duration;

use chrono::TimeZone;
use memberhub_kit::actor::Actor;
use memberhub_kit::testing::TestResult;
use memberhub_proto::campaign as pb;
use memberhub_proto::common::{Asset, CouponChannel, ShopType};
use memberhub_proto::coupon as coupon_pb;
use memberhub_proto::membership as membership_pb;
use memberhub_proto::membership::membership_service_client::MembershipServiceClient;
use support::*;
use tonic::transport::Channel;

const SHOPPERS: usize = 60;

async fn open_card_via(
    mut membership: MembershipServiceClient<Channel>,
    shop_id: String,
    user: String,
) -> Result<(), tonic::Status> {
    membership
        .open_card(req(
            &shopper(&user),
            membership_pb::OpenCardRequest {
                request_id: rid("open"),
                shop_id,
                user_id: user.clone(),
                phone: phone_of(&user),
                ..Default::default()
            },
        ))
        .await?;
    Ok(())
}

async fn scalar(s: &Suite, sql: &'static str) -> anyhow::Result<i64> {
    Ok(sqlx::query_scalar(sql).fetch_one(&s.pool).await?)
}

#[tokio::test]
async fn deploy_two_replicas_of_membership_and_campaign_grant_each_join_once_and_expire_each_lot_once()
-> TestResult {
    let mut s = Suite::start().await?;
    let membership_b = s.membership_replica().await?;
    let both = format!("http://{},http://{}", s.membership_address, membership_b);
    let _campaign_b = s.replica_calling(fast_saga(), &both).await?;

    let shop = s
        .shop(ShopType::Pop, membership_pb::JoinPolicy::Card, false)
        .await?;
    s.membership
        .update_program_settings(req(
            &merchant(&shop),
            membership_pb::UpdateProgramSettingsRequest {
                request_id: rid("settings"),
                shop_id: shop.clone(),
                points_expiry_enabled: Some(true),
                ..Default::default()
            },
        ))
        .await?;
    s.recharge(&shop, Asset::Beans, 10_000).await?;
    let batch = s
        .batch(
            &shop,
            coupon_pb::CouponKind::Threshold,
            CouponChannel::Interactive,
            1_000,
        )
        .await?;
    let gift = s
        .create_gift(gift(
            &shop,
            vec![
                asset_prize(pb::PrizeType::Beans, 5),
                coupon_prize(pb::PrizeType::ThresholdCoupon, &batch),
                asset_prize(pb::PrizeType::Points, 7),
            ],
            1_000,
        ))
        .await?;

    // Joins through both membership replicas at once.
    let a = s.membership.clone();
    let b = MembershipServiceClient::connect(format!("http://{membership_b}")).await?;
    let mut joins = tokio::task::JoinSet::new();
    for i in 0..SHOPPERS {
        let client = if i % 2 == 0 { a.clone() } else { b.clone() };
        joins.spawn(open_card_via(client, shop.clone(), format!("u-{i}")));
    }
    while let Some(joined) = joins.join_next().await {
        joined??;
    }
    let claims = s
        .wait_for_claims(&shop, &gift.campaign_id, Duration::from_secs(60), |c| {
            c.len() == SHOPPERS && c.iter().all(|c| c.state() == pb::ClaimState::Granted)
        })
        .await?;
    let mut users: Vec<&str> = claims.iter().map(|c| c.user_id.as_str()).collect();
    users.sort_unstable();
    users.dedup();
    assert_eq!(users.len(), SHOPPERS, "OC-7: one claim per join");
    let n = SHOPPERS as i64;
    assert_eq!(
        scalar(&s, "SELECT count(*) FROM coupon.coupons").await?,
        n,
        "one coupon per join"
    );
    assert_eq!(
        scalar(
            &s,
            "SELECT count(*) FROM (SELECT user_id FROM coupon.coupons GROUP BY user_id
             HAVING count(*) <> 1) AS twice"
        )
        .await?,
        0
    );
    for (asset, amount) in [("BEANS", 5), ("POINTS", 7)] {
        let (transfers, total): (i64, i64) = sqlx::query_as(
            "SELECT count(*), coalesce(sum(amount), 0)::bigint FROM membership.transfers
             WHERE to_kind = 'MEMBER' AND asset = $1",
        )
        .bind(asset)
        .fetch_one(&s.pool)
        .await?;
        assert_eq!(
            (transfers, total),
            (n, amount * n),
            "{asset}: once per join"
        );
    }

    // PT-5: the points earned in 2026 are due at the end of 2027. Both membership replicas
    // sweep at once.
    s.clock.set(
        chrono::Utc
            .with_ymd_and_hms(2028, 1, 2, 0, 0, 0)
            .single()
            .ok_or_else(|| anyhow::anyhow!("a valid date"))?,
    );
    let expire = |mut client: MembershipServiceClient<Channel>| async move {
        client
            .expire_points(req(
                &Actor::Operator,
                membership_pb::ExpirePointsRequest {
                    request_id: rid("expire"),
                    shop_id: String::new(),
                },
            ))
            .await
            .map(|r| r.into_inner())
    };
    let (first, second) = tokio::join!(expire(a), expire(b));
    let (first, second) = (first?, second?);
    assert_eq!(
        first.expired_lots + second.expired_lots,
        n,
        "each lot expires once: {first:?} {second:?}"
    );
    assert_eq!(first.expired_points + second.expired_points, 7 * n);
    assert_eq!(
        scalar(
            &s,
            "SELECT count(*) FROM membership.transfers WHERE to_kind = 'SYSTEM_EXPIRY'"
        )
        .await?,
        n,
        "one expiry transfer per member"
    );
    assert_eq!(
        scalar(
            &s,
            "SELECT coalesce(sum(remaining), 0)::bigint FROM membership.points_lots"
        )
        .await?,
        0
    );
    Ok(())
}
