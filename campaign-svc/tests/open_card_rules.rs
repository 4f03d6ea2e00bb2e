//! OC-1..OC-6, OC-9, OC-10 rule by rule through gRPC (the validation matrix itself is unit
//! tested in `domain::open_card_gift`; here each rule is shown end to end).

mod support;

use std::time::Duration;

use chrono::Duration as Span;
use memberhub_kit::testing::TestResult;
use memberhub_proto::campaign as pb;
use memberhub_proto::common::{Asset, CouponChannel, ShopType};
use memberhub_proto::coupon as coupon_pb;
use memberhub_proto::membership as membership_pb;
use support::*;

const WAIT: Duration = Duration::from_secs(20);

async fn card_shop(s: &mut Suite) -> anyhow::Result<String> {
    let shop = s
        .shop(ShopType::Pop, membership_pb::JoinPolicy::Card, false)
        .await?;
    s.recharge(&shop, Asset::Beans, 1_000).await?;
    Ok(shop)
}

fn beans(amount: i64) -> pb::Prize {
    asset_prize(pb::PrizeType::Beans, amount)
}

async fn set_policy(
    s: &mut Suite,
    shop: &str,
    policy: membership_pb::JoinPolicy,
) -> Result<(), tonic::Status> {
    s.membership
        .set_join_policy(req(
            &merchant(shop),
            membership_pb::SetJoinPolicyRequest {
                request_id: rid("policy"),
                shop_id: shop.into(),
                join_policy: policy.into(),
            },
        ))
        .await
        .map(|_| ())
}

async fn close(
    s: &mut Suite,
    shop: &str,
    campaign_id: &str,
) -> Result<pb::OpenCardGift, tonic::Status> {
    s.campaign
        .close_open_card_gift(req(
            &merchant(shop),
            pb::CloseOpenCardGiftRequest {
                request_id: rid("close"),
                campaign_id: campaign_id.into(),
            },
        ))
        .await
        .map(tonic::Response::into_inner)
}

#[tokio::test]
async fn oc1_oc2_oc4_invalid_gifts_name_each_field() -> TestResult {
    let mut s = Suite::start().await?;
    let shop = card_shop(&mut s).await?;
    let mut g = gift(&shop, vec![beans(1)], 10);
    g.name = "一二三四五六七八九十一".into();
    assert_invalid(&expect_err(s.create_gift(g).await)?, "gift.name");
    let mut g = gift(&shop, vec![beans(1)], 10);
    g.end_time = ts(t0() + Span::days(2) - Span::hours(1) - Span::seconds(1));
    assert_invalid(&expect_err(s.create_gift(g).await)?, "gift.end_time");
    let g = gift(&shop, vec![beans(1), beans(2)], 10);
    assert_invalid(&expect_err(s.create_gift(g).await)?, "gift.prizes[1].type");
    let g = gift(&shop, vec![], 10);
    assert_invalid(&expect_err(s.create_gift(g).await)?, "gift.prizes");
    // Ten characters (not bytes) and exactly three days are fine.
    let mut g = gift(&shop, vec![beans(1)], 10);
    g.name = "一二三四五六七八九十".into();
    g.end_time = ts(t0() + Span::days(3) - Span::hours(1));
    assert_eq!(s.create_gift(g).await?.status(), pb::CampaignStatus::Live);
    Ok(())
}

#[tokio::test]
async fn oc4_self_operated_shops_cannot_offer_cash_coupons() -> TestResult {
    let mut s = Suite::start().await?;
    let shop = s
        .shop(
            ShopType::SelfOperated,
            membership_pb::JoinPolicy::Card,
            false,
        )
        .await?;
    let g = gift(
        &shop,
        vec![pb::Prize {
            r#type: pb::PrizeType::CashCoupon.into(),
            amount: 0,
            batch_key: "BA_abcdefg".into(),
        }],
        10,
    );
    assert_invalid(&expect_err(s.create_gift(g).await)?, "gift.prizes[0].type");
    Ok(())
}

#[tokio::test]
async fn oc3_overlap_is_refused_naming_the_other_campaign_and_back_to_back_is_allowed() -> TestResult
{
    let mut s = Suite::start().await?;
    let shop = card_shop(&mut s).await?;
    let first = s.create_gift(gift(&shop, vec![beans(1)], 10)).await?;
    let mut overlapping = gift(&shop, vec![beans(1)], 10);
    overlapping.start_time = ts(t0() + Span::days(2));
    overlapping.end_time = ts(t0() + Span::days(6));
    let status = expect_err(s.create_gift(overlapping).await)?;
    assert_precondition(&status, "OPEN_CARD_GIFT_OVERLAP");
    assert!(status.message().contains(&first.campaign_id), "{status:?}");
    // Nothing was held for the refused campaign.
    assert_eq!(s.budget(&shop, Asset::Beans).await?, (990, 10));
    let mut next = gift(&shop, vec![beans(1)], 10);
    next.start_time = first.end_time;
    next.end_time = ts(t0() + Span::days(7));
    assert_eq!(
        s.create_gift(next).await?.status(),
        pb::CampaignStatus::Scheduled
    );
    Ok(())
}

#[tokio::test]
async fn oc3_needs_a_card_policy_and_blocks_the_switch_to_order_while_live() -> TestResult {
    let mut s = Suite::start().await?;
    let shop = s
        .shop(ShopType::Pop, membership_pb::JoinPolicy::Order, false)
        .await?;
    s.recharge(&shop, Asset::Beans, 1_000).await?;
    let status = expect_err(s.create_gift(gift(&shop, vec![beans(1)], 10)).await)?;
    assert_precondition(&status, "CARD_JOIN_DISABLED");
    assert_eq!(s.budget(&shop, Asset::Beans).await?, (1_000, 0));

    set_policy(&mut s, &shop, membership_pb::JoinPolicy::OrderOrCard).await?;
    let live = s.create_gift(gift(&shop, vec![beans(1)], 10)).await?;
    let status = expect_err(set_policy(&mut s, &shop, membership_pb::JoinPolicy::Order).await)?;
    assert_precondition(&status, "OPEN_CARD_GIFT_LIVE");
    // After a stop-loss close the hold is released and ORDER is allowed again.
    close(&mut s, &shop, &live.campaign_id).await?;
    set_policy(&mut s, &shop, membership_pb::JoinPolicy::Order).await?;
    Ok(())
}

#[tokio::test]
async fn oc5_insufficient_budget_is_refused_and_gives_back_what_was_taken() -> TestResult {
    let mut s = Suite::start().await?;
    let shop = card_shop(&mut s).await?;
    let batch = s
        .batch(
            &shop,
            coupon_pb::CouponKind::Cash,
            CouponChannel::Interactive,
            50,
        )
        .await?;
    // The coupon prize is reserved before the red packets are found missing.
    let g = gift(
        &shop,
        vec![
            coupon_prize(pb::PrizeType::CashCoupon, &batch),
            asset_prize(pb::PrizeType::RedPacket, 100),
        ],
        10,
    );
    let request = pb::CreateOpenCardGiftRequest {
        request_id: rid("gift"),
        gift: Some(g),
    };
    let status = expect_err(
        s.campaign
            .create_open_card_gift(req(&merchant(&shop), request.clone()))
            .await,
    )?;
    assert_precondition(&status, "INSUFFICIENT_BUDGET");
    // The allocation was released and the join hold too: ORDER is allowed.
    let released: bool = sqlx::query_scalar(
        "SELECT bool_and(released_at IS NOT NULL) FROM coupon.allocations WHERE batch_id = $1::uuid",
    )
    .bind(&batch.batch_id)
    .fetch_one(&s.pool)
    .await?;
    assert!(released);
    // A retry with the same request id gets the same answer.
    let again = expect_err(
        s.campaign
            .create_open_card_gift(req(&merchant(&shop), request))
            .await,
    )?;
    assert_precondition(&again, "INSUFFICIENT_BUDGET");
    set_policy(&mut s, &shop, membership_pb::JoinPolicy::Order).await?;
    Ok(())
}

#[tokio::test]
async fn oc6_coupon_prizes_need_an_active_interactive_relative_batch_covering_the_campaign()
-> TestResult {
    let mut s = Suite::start().await?;
    let shop = card_shop(&mut s).await?;
    let general = s
        .batch(
            &shop,
            coupon_pb::CouponKind::Cash,
            CouponChannel::General,
            50,
        )
        .await?;
    let status = expect_err(
        s.create_gift(gift(
            &shop,
            vec![coupon_prize(pb::PrizeType::CashCoupon, &general)],
            10,
        ))
        .await,
    )?;
    assert_precondition(&status, "BATCH_NOT_INTERACTIVE");
    let interactive = s
        .batch(
            &shop,
            coupon_pb::CouponKind::Cash,
            CouponChannel::Interactive,
            50,
        )
        .await?;
    let status = expect_err(
        s.create_gift(gift(
            &shop,
            vec![coupon_prize(pb::PrizeType::ThresholdCoupon, &interactive)],
            10,
        ))
        .await,
    )?;
    assert_precondition(&status, "BATCH_KIND_MISMATCH");
    // The batch's claim window ends at t0 + 30 days: a campaign running past it is refused.
    let mut long = gift(
        &shop,
        vec![coupon_prize(pb::PrizeType::CashCoupon, &interactive)],
        10,
    );
    long.end_time = ts(t0() + Span::days(31));
    assert_precondition(
        &expect_err(s.create_gift(long).await)?,
        "BATCH_CLAIM_WINDOW_TOO_NARROW",
    );
    // Bound: claimable only through the campaign (the shopper's own claim is refused).
    let ok = s
        .create_gift(gift(
            &shop,
            vec![coupon_prize(pb::PrizeType::CashCoupon, &interactive)],
            80,
        ))
        .await?;
    // OC-8: the batch had 50, so the pack stock is 50, not 80.
    assert_eq!(ok.packs_left, 50);
    let direct = s
        .coupon
        .issue_coupons(req(
            &shopper("u-1"),
            coupon_pb::IssueCouponsRequest {
                request_id: rid("claim"),
                batch_id: interactive.batch_id.clone(),
                user_id: "u-1".into(),
                channel: CouponChannel::Interactive.into(),
                ..Default::default()
            },
        ))
        .await;
    assert!(
        direct.is_err(),
        "a bound batch was claimable outside the campaign"
    );
    Ok(())
}

#[tokio::test]
async fn x2_a_retried_create_returns_the_same_campaign() -> TestResult {
    let mut s = Suite::start().await?;
    let shop = card_shop(&mut s).await?;
    let request = pb::CreateOpenCardGiftRequest {
        request_id: rid("gift"),
        gift: Some(gift(&shop, vec![beans(2)], 10)),
    };
    let first = s
        .campaign
        .create_open_card_gift(req(&merchant(&shop), request.clone()))
        .await?
        .into_inner();
    let second = s
        .campaign
        .create_open_card_gift(req(&merchant(&shop), request))
        .await?
        .into_inner();
    assert_eq!(first.campaign_id, second.campaign_id);
    assert_eq!(s.budget(&shop, Asset::Beans).await?, (980, 20));
    Ok(())
}

#[tokio::test]
async fn oc3_oc7_audience_is_shoppers_without_the_card_and_never_twice() -> TestResult {
    let mut s = Suite::start().await?;
    let shop = s
        .shop(ShopType::Pop, membership_pb::JoinPolicy::OrderOrCard, false)
        .await?;
    s.recharge(&shop, Asset::Beans, 1_000).await?;
    // Opened the card before the campaign: not in the audience later.
    s.open_card(&shop, "early").await?;
    s.clock.advance(Span::minutes(1));
    let live = s.create_gift(gift(&shop, vec![beans(3)], 10)).await?;
    let offers = |user: &str| pb::GetStorefrontOffersRequest {
        shop_id: shop.clone(),
        user_id: user.into(),
    };
    let seen = s
        .campaign
        .get_storefront_offers(req(&shopper("early"), offers("early")))
        .await?
        .into_inner();
    assert!(
        seen.open_card_gift.is_none(),
        "a card holder was shown the gift"
    );
    let seen = s
        .campaign
        .get_storefront_offers(req(&shopper("newbie"), offers("newbie")))
        .await?
        .into_inner();
    assert_eq!(
        seen.open_card_gift.map(|g| g.campaign_id),
        Some(live.campaign_id.clone())
    );
    s.open_card(&shop, "newbie").await?;
    s.wait_for_claims(&shop, &live.campaign_id, WAIT, |c| {
        c.len() == 1 && c[0].state() == pb::ClaimState::Granted
    })
    .await?;
    // Quit and reopen: still once per campaign.
    s.membership
        .quit_membership(req(
            &shopper("newbie"),
            membership_pb::QuitMembershipRequest {
                request_id: rid("quit"),
                shop_id: shop.clone(),
                user_id: "newbie".into(),
            },
        ))
        .await?;
    let _ = s.open_card(&shop, "newbie").await;
    // Time is the point: a second claim, were there one, would be recorded by now.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(s.claims(&shop, &live.campaign_id).await?.len(), 1);
    Ok(())
}

#[tokio::test]
async fn oc7_under_order_and_card_the_pack_comes_at_card_opening() -> TestResult {
    let mut s = Suite::start().await?;
    let shop = s
        .shop(
            ShopType::Pop,
            membership_pb::JoinPolicy::OrderAndCard,
            false,
        )
        .await?;
    s.recharge(&shop, Asset::Beans, 1_000).await?;
    let live = s
        .create_gift(gift(
            &shop,
            vec![beans(3), asset_prize(pb::PrizeType::Points, 50)],
            10,
        ))
        .await?;
    let membership = s.open_card(&shop, "pending").await?;
    assert_eq!(membership.state(), membership_pb::MembershipState::Pending);
    let claims = s
        .wait_for_claims(&shop, &live.campaign_id, WAIT, |c| {
            c.len() == 1 && c[0].state() == pb::ClaimState::Granted
        })
        .await?;
    let items: Vec<_> = claims[0]
        .items
        .iter()
        .map(|i| (i.r#type(), i.amount))
        .collect();
    assert_eq!(
        items,
        vec![(pb::PrizeType::Beans, 3), (pb::PrizeType::Points, 50)]
    );
    Ok(())
}

#[tokio::test]
async fn oc9_close_releases_unused_budget_and_a_second_close_changes_nothing() -> TestResult {
    let mut s = Suite::start().await?;
    let shop = card_shop(&mut s).await?;
    let live = s.create_gift(gift(&shop, vec![beans(10)], 50)).await?;
    assert_eq!(s.budget(&shop, Asset::Beans).await?, (500, 500));
    s.open_card(&shop, "one").await?;
    s.wait_for_claims(&shop, &live.campaign_id, WAIT, |c| {
        c.len() == 1 && c[0].state() == pb::ClaimState::Granted
    })
    .await?;
    let closed = close(&mut s, &shop, &live.campaign_id).await?;
    assert_eq!(closed.status(), pb::CampaignStatus::Closed);
    assert!(closed.settled);
    assert_eq!(s.budget(&shop, Asset::Beans).await?, (990, 0));
    let again = close(&mut s, &shop, &live.campaign_id).await?;
    assert_eq!(again.status(), pb::CampaignStatus::Closed);
    assert_eq!(s.budget(&shop, Asset::Beans).await?, (990, 0));
    // Closed: a card opened now earns nothing.
    s.open_card(&shop, "two").await?;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(s.claims(&shop, &live.campaign_id).await?.len(), 1);
    Ok(())
}

#[tokio::test]
async fn oc9_an_ended_campaign_cannot_be_closed_and_settles_by_itself() -> TestResult {
    let mut s = Suite::start().await?;
    let shop = card_shop(&mut s).await?;
    let live = s.create_gift(gift(&shop, vec![beans(10)], 50)).await?;
    s.clock.advance(Span::days(4));
    let status = expect_err(close(&mut s, &shop, &live.campaign_id).await)?;
    assert_precondition(&status, "CAMPAIGN_ENDED");
    let deadline = tokio::time::Instant::now() + WAIT;
    while s.budget(&shop, Asset::Beans).await? != (1_000, 0) {
        assert!(tokio::time::Instant::now() < deadline, "never settled");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

#[tokio::test]
async fn oc10_daily_series_in_shop_time_is_final_from_the_next_day() -> TestResult {
    let mut s = Suite::start().await?;
    let shop = card_shop(&mut s).await?;
    // t0 is 16:00 in Shanghai; the campaign starts an hour earlier.
    let live = s.create_gift(gift(&shop, vec![beans(2)], 10)).await?;
    let view = |user: &str| pb::GetStorefrontOffersRequest {
        shop_id: shop.clone(),
        user_id: user.into(),
    };
    // exposures count shoppers, not views: "a" looking twice counts once
    for user in ["a", "b", "c", "a"] {
        s.campaign
            .get_storefront_offers(req(&shopper(user), view(user)))
            .await?;
    }
    s.open_card(&shop, "a").await?;
    s.open_card(&shop, "b").await?;
    s.wait_for_claims(&shop, &live.campaign_id, WAIT, |c| {
        c.len() == 2 && c.iter().all(|c| c.state() == pb::ClaimState::Granted)
    })
    .await?;
    // Past midnight in Shanghai (16:00 UTC): a new day.
    s.clock.advance(Span::hours(9));
    s.open_card(&shop, "c").await?;
    s.wait_for_claims(&shop, &live.campaign_id, WAIT, |c| {
        c.len() == 3 && c.iter().all(|c| c.state() == pb::ClaimState::Granted)
    })
    .await?;
    let stats = s
        .campaign
        .get_open_card_gift_statistics(req(
            &merchant(&shop),
            pb::GetOpenCardGiftStatisticsRequest {
                campaign_id: live.campaign_id.clone(),
            },
        ))
        .await?
        .into_inner();
    let days: Vec<_> = stats
        .days
        .iter()
        .map(|d| {
            (
                d.day.as_str(),
                d.r#final,
                d.exposures,
                d.cards_opened,
                d.packs_granted,
            )
        })
        .collect();
    assert_eq!(
        days,
        vec![
            ("2026-11-01", true, 3, 2, 2),
            ("2026-11-02", false, 0, 1, 1)
        ]
    );
    assert_eq!(
        stats.days[0]
            .prize_totals
            .iter()
            .map(|t| (t.r#type(), t.amount))
            .collect::<Vec<_>>(),
        vec![(pb::PrizeType::Beans, 4)]
    );
    assert_eq!(stats.packs_left, 7);
    Ok(())
}

#[tokio::test]
async fn x1_merchants_see_only_their_own_campaigns_and_another_shops_is_not_found() -> TestResult {
    let mut s = Suite::start().await?;
    let shop = card_shop(&mut s).await?;
    let other = card_shop(&mut s).await?;
    let live = s.create_gift(gift(&shop, vec![beans(1)], 10)).await?;
    let status = expect_err(
        s.campaign
            .get_open_card_gift(req(
                &merchant(&other),
                pb::GetOpenCardGiftRequest {
                    campaign_id: live.campaign_id.clone(),
                },
            ))
            .await,
    )?;
    // Named by id, another shop's campaign does not exist for this merchant.
    assert_eq!(status.code(), tonic::Code::NotFound);
    let mut foreign = gift(&shop, vec![beans(1)], 10);
    foreign.start_time = ts(t0() + Span::days(10));
    foreign.end_time = ts(t0() + Span::days(14));
    let status = expect_err(
        s.campaign
            .create_open_card_gift(req(
                &merchant(&other),
                pb::CreateOpenCardGiftRequest {
                    request_id: rid("gift"),
                    gift: Some(foreign),
                },
            ))
            .await,
    )?;
    assert_eq!(status.code(), tonic::Code::PermissionDenied);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oc5_an_abandoned_provisioning_gives_back_its_budget_and_join_hold() -> TestResult {
    let mut s = Suite::start().await?;
    let shop = card_shop(&mut s).await?;
    let batch = s
        .batch(
            &shop,
            coupon_pb::CouponKind::Cash,
            CouponChannel::Interactive,
            50,
        )
        .await?;
    // campaign-svc dies mid-provisioning: after the hold and the beans, while the coupon
    // reservation (slowed by a proxy) is on its way.
    let working = s.campaign_coupon_address;
    s.campaign_coupon_address = latency_proxy(working, Duration::from_millis(300)).await?;
    s.start_campaign(fast_saga()).await?;
    let creating = {
        let mut campaign = s.campaign.clone();
        let request = pb::CreateOpenCardGiftRequest {
            request_id: rid("gift"),
            gift: Some(gift(
                &shop,
                vec![beans(10), coupon_prize(pb::PrizeType::CashCoupon, &batch)],
                20,
            )),
        };
        let actor = merchant(&shop);
        tokio::spawn(async move { campaign.create_open_card_gift(req(&actor, request)).await })
    };
    let deadline = tokio::time::Instant::now() + WAIT;
    while s.budget(&shop, Asset::Beans).await? != (800, 200) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the beans were never reserved"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    s.kill_campaign();
    assert!(
        creating.await?.is_err(),
        "the create finished before the kill"
    );
    assert_precondition(
        &expect_err(set_policy(&mut s, &shop, membership_pb::JoinPolicy::Order).await)?,
        "OPEN_CARD_GIFT_LIVE",
    );
    // Nobody retries the create. Later the reconciler gives everything back.
    s.campaign_coupon_address = working;
    s.clock.advance(Span::minutes(11));
    s.start_campaign(fast_saga()).await?;
    let deadline = tokio::time::Instant::now() + WAIT;
    while s.budget(&shop, Asset::Beans).await? != (1_000, 0) {
        assert!(tokio::time::Instant::now() < deadline, "never given back");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut released = false;
    while !released {
        assert!(
            tokio::time::Instant::now() < deadline,
            "hold never released"
        );
        released = set_policy(&mut s, &shop, membership_pb::JoinPolicy::Order)
            .await
            .is_ok();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let allocations: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM coupon.allocations WHERE batch_id = $1::uuid AND released_at IS NULL",
    )
    .bind(&batch.batch_id)
    .fetch_one(&s.pool)
    .await?;
    assert_eq!(allocations, 0);
    let listed = s
        .campaign
        .list_open_card_gifts(req(
            &merchant(&shop),
            pb::ListOpenCardGiftsRequest {
                shop_id: shop.clone(),
                ..Default::default()
            },
        ))
        .await?
        .into_inner();
    assert!(listed.gifts.is_empty());
    Ok(())
}

/// the key is looked up before the batches are checked, so a create retried after its
/// first attempt bound the coupon batch and took all of its stock returns that campaign.
#[tokio::test]
async fn x2_a_create_retried_after_its_batch_was_bound_and_emptied_returns_the_first_campaign()
-> TestResult {
    let mut s = Suite::start().await?;
    let shop = card_shop(&mut s).await?;
    let batch = s
        .batch(
            &shop,
            coupon_pb::CouponKind::Threshold,
            CouponChannel::Interactive,
            10,
        )
        .await?;
    let request = pb::CreateOpenCardGiftRequest {
        request_id: rid("gift"),
        gift: Some(gift(
            &shop,
            vec![coupon_prize(pb::PrizeType::ThresholdCoupon, &batch)],
            10,
        )),
    };
    let first = s
        .campaign
        .create_open_card_gift(req(&merchant(&shop), request.clone()))
        .await?
        .into_inner();
    let second = s
        .campaign
        .create_open_card_gift(req(&merchant(&shop), request))
        .await?
        .into_inner();
    assert_eq!(second.campaign_id, first.campaign_id);
    assert_eq!(second.status, first.status);
    Ok(())
}
