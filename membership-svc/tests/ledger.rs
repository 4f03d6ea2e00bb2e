//! PT-1, PT-2, PT-4, PT-5: the double-entry ledger, budgets and reservations, history and
//! points expiry, through the real gRPC interface on real Postgres.

mod support;

use memberhub_kit::testing::TestResult;
use memberhub_proto::common::{Asset, ShopType};
use memberhub_proto::membership as pb;
use pb::AccountKind::{Member, Reservation, ShopBudget, SystemExpiry, SystemIssuance};
use support::*;
use tonic::Code;

async fn recharge(
    h: &Harness,
    shop: &str,
    asset: Asset,
    amount: i64,
) -> Result<pb::Transfer, tonic::Status> {
    let mut client = h.client.clone();
    Ok(client
        .recharge_budget(req(
            &merchant(shop),
            pb::RechargeBudgetRequest {
                request_id: rid("recharge"),
                shop_id: shop.into(),
                asset: asset.into(),
                amount,
            },
        ))
        .await?
        .into_inner())
}

fn reserve_request(shop: &str, asset: Asset, amount: i64) -> pb::ReserveBudgetRequest {
    pb::ReserveBudgetRequest {
        request_id: rid("reserve"),
        shop_id: shop.into(),
        asset: asset.into(),
        amount,
        purpose: "open-card gift 2026-11".into(),
    }
}

async fn reserve(
    h: &Harness,
    shop: &str,
    asset: Asset,
    amount: i64,
) -> Result<pb::BudgetReservation, tonic::Status> {
    let mut client = h.client.clone();
    Ok(client
        .reserve_budget(req(&merchant(shop), reserve_request(shop, asset, amount)))
        .await?
        .into_inner())
}

async fn release(
    h: &Harness,
    shop: &str,
    reservation: &str,
) -> Result<pb::BudgetReservation, tonic::Status> {
    let mut client = h.client.clone();
    Ok(client
        .release_budget_reservation(req(
            &merchant(shop),
            pb::ReleaseBudgetReservationRequest {
                request_id: rid("release"),
                reservation_id: reservation.into(),
            },
        ))
        .await?
        .into_inner())
}

/// (available, reserved) of `asset` in the shop's budget; (0, 0) when never funded.
async fn budget(h: &Harness, shop: &str, asset: Asset) -> anyhow::Result<(i64, i64)> {
    let mut client = h.client.clone();
    let balances = client
        .list_budget_balances(req(
            &merchant(shop),
            pb::ListBudgetBalancesRequest {
                shop_id: shop.into(),
            },
        ))
        .await?
        .into_inner()
        .balances;
    Ok(balances
        .iter()
        .find(|b| b.asset() == asset)
        .map_or((0, 0), |b| (b.available, b.reserved)))
}

/// Grants `amount` of `asset` from `from` to the member (as campaign-svc).
async fn grant(
    h: &Harness,
    from: pb::Account,
    shop: &str,
    user: &str,
    asset: Asset,
    amount: i64,
) -> Result<pb::Transfer, tonic::Status> {
    transfer(
        h,
        transfer_request(from, account(Member, shop, user), asset, amount, "gift"),
    )
    .await
}

/// Issues `amount` points to the member (as campaign-svc).
async fn issue(
    h: &Harness,
    shop: &str,
    user: &str,
    amount: i64,
) -> Result<pb::Transfer, tonic::Status> {
    grant(
        h,
        account(SystemIssuance, shop, ""),
        shop,
        user,
        Asset::Points,
        amount,
    )
    .await
}

async fn history(
    h: &Harness,
    shop: &str,
    user: &str,
    asset: Asset,
    page_size: i32,
    page_token: &str,
) -> Result<pb::ListLedgerEntriesResponse, tonic::Status> {
    let mut client = h.client.clone();
    Ok(client
        .list_ledger_entries(req(
            &shopper(user),
            pb::ListLedgerEntriesRequest {
                shop_id: shop.into(),
                user_id: user.into(),
                asset: asset.into(),
                page_size,
                page_token: page_token.into(),
            },
        ))
        .await?
        .into_inner())
}

async fn expire(h: &Harness, shop: &str) -> Result<(i64, i64), tonic::Status> {
    let mut client = h.client.clone();
    let response = client
        .expire_points(req(
            &merchant(shop),
            pb::ExpirePointsRequest {
                request_id: rid("expire"),
                shop_id: shop.into(),
            },
        ))
        .await?
        .into_inner();
    Ok((response.expired_lots, response.expired_points))
}

async fn pop_shop(h: &mut Harness) -> anyhow::Result<String> {
    Ok(register_shop(h, "Tea House", ShopType::Pop).await?.shop_id)
}

/// Number of transfers recorded for the shop.
async fn transfer_count(h: &Harness, shop: &str) -> anyhow::Result<i64> {
    let pool = h.db.pool(1).await?;
    let n: i64 =
        sqlx::query_scalar("SELECT count(*) FROM membership.transfers WHERE shop_id = $1::uuid")
            .bind(shop)
            .fetch_one(&pool)
            .await?;
    pool.close().await;
    Ok(n)
}

// ------------------------------------------------------------------------------ PT-1

#[tokio::test]
async fn pt1_every_asset_sums_to_zero_after_a_mix_of_everything() -> TestResult {
    let mut h = start().await?;
    let shop = shop_with_policy(&mut h, pb::JoinPolicy::Order).await?;
    update_settings(&h, &shop, Some(2), Some(true), None).await?;
    paid_and_confirmed(&h, &shop, "u1", "o-1", 10_000).await?;
    paid_and_confirmed(&h, &shop, "u2", "o-2", 5_000).await?;
    report(&h, refund_event(&h, &shop, "o-1", "u1", 2_500, "r-1")).await?;
    spend_points(&h, &shop, "u2", 60).await?;
    report(&h, refund_event(&h, &shop, "o-2", "u2", 5_000, "r-1")).await?;
    for (asset, amount) in [
        (Asset::Beans, 1_000),
        (Asset::RedPacket, 5_000),
        (Asset::DataPack, 300),
    ] {
        recharge(&h, &shop, asset, amount).await?;
        let held = reserve(&h, &shop, asset, amount / 2).await?;
        let from = account(Reservation, &shop, &held.reservation_id);
        grant(&h, from, &shop, "u1", asset, amount / 10).await?;
        grant(&h, account(ShopBudget, &shop, ""), &shop, "u2", asset, 1).await?;
        release(&h, &shop, &held.reservation_id).await?;
    }
    h.clock.set(utc(2028, 1, 1, 0, 0, 0));
    expire(&h, &shop).await?;
    Ok(assert_ledger_balanced(&h).await?)
}

#[tokio::test]
async fn pt1_a_member_cannot_go_negative_and_a_refused_transfer_changes_nothing() -> TestResult {
    let mut h = start().await?;
    let shop = pop_shop(&mut h).await?;
    grant_points(&h, &shop, "u1", 50).await?;
    let before = transfer_count(&h, &shop).await?;
    let status = refused(
        transfer(
            &h,
            transfer_request(
                account(Member, &shop, "u1"),
                account(SystemIssuance, &shop, ""),
                Asset::Points,
                51,
                "exchange",
            ),
        )
        .await,
    )?;
    assert_exhausted(&status, "INSUFFICIENT_BALANCE");
    assert_eq!(transfer_count(&h, &shop).await?, before);
    let entries = history(&h, &shop, "u1", Asset::Points, 0, "")
        .await?
        .entries;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].balance_after, 50);
    // Exactly the balance is fine.
    spend_points(&h, &shop, "u1", 50).await?;
    Ok(assert_ledger_balanced(&h).await?)
}

#[tokio::test]
async fn pt1_a_transfer_is_recorded_whole_with_both_accounts() -> TestResult {
    let mut h = start().await?;
    let shop = pop_shop(&mut h).await?;
    let made = transfer(
        &h,
        transfer_request(
            account(SystemIssuance, &shop, ""),
            account(Member, &shop, "u1"),
            Asset::Points,
            70,
            "welcome points",
        ),
    )
    .await?;
    assert!(!made.transfer_id.is_empty());
    assert_eq!(made.from, Some(account(SystemIssuance, &shop, "")));
    assert_eq!(made.to, Some(account(Member, &shop, "u1")));
    assert_eq!(
        (
            made.asset(),
            made.amount,
            made.reason.as_str(),
            made.shortfall
        ),
        (Asset::Points, 70, "welcome points", 0)
    );
    assert_eq!(time_of(made.create_time.as_ref())?, t0());
    let entries = history(&h, &shop, "u1", Asset::Unspecified, 0, "")
        .await?
        .entries;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].transfer_id, made.transfer_id);
    assert_eq!(
        (
            entries[0].delta,
            entries[0].balance_after,
            entries[0].reason.as_str()
        ),
        (70, 70, "welcome points")
    );
    Ok(())
}

#[tokio::test]
async fn pt1_bad_transfers_are_invalid_naming_the_field() -> TestResult {
    let mut h = start().await?;
    let shop = pop_shop(&mut h).await?;
    let other = pop_shop(&mut h).await?;
    let issuance = account(SystemIssuance, &shop, "");
    let member = account(Member, &shop, "u1");
    let ok = transfer_request(issuance.clone(), member.clone(), Asset::Points, 10, "gift");
    let cases: Vec<(pb::CreateTransferRequest, &str)> = vec![
        (
            pb::CreateTransferRequest {
                amount: 0,
                ..ok.clone()
            },
            "amount",
        ),
        (
            pb::CreateTransferRequest {
                amount: -10,
                ..ok.clone()
            },
            "amount",
        ),
        (
            pb::CreateTransferRequest {
                to: Some(issuance.clone()),
                ..ok.clone()
            },
            "to",
        ),
        (
            pb::CreateTransferRequest {
                reason: "  ".into(),
                ..ok.clone()
            },
            "reason",
        ),
        (
            pb::CreateTransferRequest {
                reason: "r".repeat(201),
                ..ok.clone()
            },
            "reason",
        ),
        (
            pb::CreateTransferRequest {
                from: None,
                ..ok.clone()
            },
            "from",
        ),
        (
            pb::CreateTransferRequest {
                from: Some(account(pb::AccountKind::Unspecified, &shop, "")),
                ..ok.clone()
            },
            "from.kind",
        ),
        (
            pb::CreateTransferRequest {
                to: Some(account(SystemExpiry, &shop, "")),
                ..ok.clone()
            },
            "to.kind",
        ),
        (
            pb::CreateTransferRequest {
                to: Some(account(Member, &shop, "")),
                ..ok.clone()
            },
            "to.owner_id",
        ),
        (
            pb::CreateTransferRequest {
                from: Some(account(Reservation, &shop, "not-a-reservation")),
                ..ok.clone()
            },
            "from.owner_id",
        ),
        (
            pb::CreateTransferRequest {
                to: Some(account(Member, "shop", "u1")),
                ..ok.clone()
            },
            "to.shop_id",
        ),
        (
            pb::CreateTransferRequest {
                to: Some(account(Member, &other, "u1")),
                ..ok.clone()
            },
            "to.shop_id",
        ),
        (
            pb::CreateTransferRequest {
                asset: 0,
                ..ok.clone()
            },
            "asset",
        ),
    ];
    for (request, field) in cases {
        let status = refused(transfer(&h, request).await)?;
        assert_invalid(&status, field);
    }
    assert_eq!(transfer_count(&h, &shop).await?, 0);
    transfer(&h, ok).await?;
    Ok(())
}

#[tokio::test]
async fn pt1_only_platform_services_and_operators_create_transfers() -> TestResult {
    let mut h = start().await?;
    let shop = pop_shop(&mut h).await?;
    let request = transfer_request(
        account(SystemIssuance, &shop, ""),
        account(Member, &shop, "u1"),
        Asset::Points,
        10,
        "gift",
    );
    for actor in [merchant(&shop), shopper("u1")] {
        let status = expect_err(h.client.create_transfer(req(&actor, request.clone())).await)?;
        assert_code(&status, Code::PermissionDenied);
    }
    assert_eq!(transfer_count(&h, &shop).await?, 0);
    h.client.create_transfer(req(&operator(), request)).await?;
    assert_eq!(transfer_count(&h, &shop).await?, 1);
    Ok(())
}

#[tokio::test]
async fn pt1_a_retried_transfer_gives_the_same_transfer_once() -> TestResult {
    let mut h = start().await?;
    let shop = pop_shop(&mut h).await?;
    let request = transfer_request(
        account(SystemIssuance, &shop, ""),
        account(Member, &shop, "u1"),
        Asset::Points,
        40,
        "gift",
    );
    let first = transfer(&h, request.clone()).await?;
    h.clock.advance(chrono::Duration::minutes(1));
    let again = transfer(&h, request.clone()).await?;
    assert_eq!(again, first);
    assert_eq!(transfer_count(&h, &shop).await?, 1);
    let entries = history(&h, &shop, "u1", Asset::Points, 0, "")
        .await?
        .entries;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].balance_after, 40);
    // The same key with another body is refused and changes nothing.
    let changed = pb::CreateTransferRequest {
        amount: 41,
        ..request.clone()
    };
    let status = refused(transfer(&h, changed).await)?;
    assert_precondition(&status, "IDEMPOTENCY_KEY_REUSED");
    let changed = pb::CreateTransferRequest {
        to: Some(account(Member, &shop, "u2")),
        ..request
    };
    let status = refused(transfer(&h, changed).await)?;
    assert_precondition(&status, "IDEMPOTENCY_KEY_REUSED");
    assert_eq!(transfer_count(&h, &shop).await?, 1);
    Ok(assert_ledger_balanced(&h).await?)
}

#[tokio::test]
async fn pt1_concurrent_retries_of_one_transfer_take_effect_once() -> TestResult {
    let mut h = start().await?;
    let shop = pop_shop(&mut h).await?;
    recharge(&h, &shop, Asset::Beans, 100).await?;
    let request = transfer_request(
        account(ShopBudget, &shop, ""),
        account(Member, &shop, "u1"),
        Asset::Beans,
        30,
        "gift",
    );
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let mut client = h.client.clone();
            let request = request.clone();
            tokio::spawn(async move {
                client
                    .create_transfer(req(&campaign_service(), request))
                    .await
            })
        })
        .collect();
    let mut ids = Vec::new();
    for task in tasks {
        ids.push(task.await??.into_inner().transfer_id);
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(budget(&h, &shop, Asset::Beans).await?, (70, 0));
    Ok(assert_ledger_balanced(&h).await?)
}

// ------------------------------------------------------------------------------ PT-2

#[tokio::test]
async fn pt2_beans_red_packets_and_data_straight_from_issuance_to_a_member_need_a_budget()
-> TestResult {
    let mut h = start().await?;
    let shop = pop_shop(&mut h).await?;
    for asset in [Asset::Beans, Asset::RedPacket, Asset::DataPack] {
        let status = refused(
            grant(
                &h,
                account(SystemIssuance, &shop, ""),
                &shop,
                "u1",
                asset,
                10,
            )
            .await,
        )?;
        assert_precondition(&status, "BUDGET_REQUIRED");
    }
    assert_eq!(transfer_count(&h, &shop).await?, 0);
    Ok(())
}

#[tokio::test]
async fn pt2_points_are_issued_not_budgeted() -> TestResult {
    let mut h = start().await?;
    let shop = pop_shop(&mut h).await?;
    let status = refused(recharge(&h, &shop, Asset::Points, 100).await)?;
    assert_precondition(&status, "POINTS_NEED_NO_BUDGET");
    let status = refused(reserve(&h, &shop, Asset::Points, 100).await)?;
    assert_invalid(&status, "asset");
    assert_eq!(transfer_count(&h, &shop).await?, 0);
    Ok(())
}

#[tokio::test]
async fn pt2_recharge_reserve_grant_and_release_move_exactly_what_they_say() -> TestResult {
    let mut h = start().await?;
    let shop = pop_shop(&mut h).await?;
    let recharged = recharge(&h, &shop, Asset::Beans, 1_000).await?;
    assert_eq!(recharged.from, Some(account(SystemIssuance, &shop, "")));
    assert_eq!(recharged.to, Some(account(ShopBudget, &shop, "")));
    assert_eq!(recharged.amount, 1_000);
    assert_eq!(budget(&h, &shop, Asset::Beans).await?, (1_000, 0));

    let held = reserve(&h, &shop, Asset::Beans, 300).await?;
    assert_eq!(
        (held.amount, held.remaining, held.state()),
        (300, 300, pb::ReservationState::Held)
    );
    assert_eq!(held.shop_id, shop);
    assert_eq!(budget(&h, &shop, Asset::Beans).await?, (700, 300));

    let from_reservation = account(Reservation, &shop, &held.reservation_id);
    grant(&h, from_reservation.clone(), &shop, "u1", Asset::Beans, 120).await?;
    assert_eq!(budget(&h, &shop, Asset::Beans).await?, (700, 180));
    let beans = history(&h, &shop, "u1", Asset::Beans, 0, "").await?.entries;
    assert_eq!(
        beans
            .iter()
            .map(|e| (e.delta, e.balance_after))
            .collect::<Vec<_>>(),
        [(120, 120)]
    );
    grant(
        &h,
        account(ShopBudget, &shop, ""),
        &shop,
        "u2",
        Asset::Beans,
        100,
    )
    .await?;
    assert_eq!(budget(&h, &shop, Asset::Beans).await?, (600, 180));

    // Release gives back exactly the unused 180, once.
    let released = release(&h, &shop, &held.reservation_id).await?;
    assert_eq!(released.state(), pb::ReservationState::Released);
    assert_eq!(released.reservation_id, held.reservation_id);
    assert_eq!(budget(&h, &shop, Asset::Beans).await?, (780, 0));
    let again = release(&h, &shop, &held.reservation_id).await?;
    assert_eq!(again.state(), pb::ReservationState::Released);
    assert_eq!(budget(&h, &shop, Asset::Beans).await?, (780, 0));
    let status = refused(grant(&h, from_reservation, &shop, "u1", Asset::Beans, 1).await)?;
    assert_exhausted(&status, "RESERVATION_EXHAUSTED");
    // Other assets are budgeted apart.
    assert_eq!(budget(&h, &shop, Asset::RedPacket).await?, (0, 0));
    Ok(assert_ledger_balanced(&h).await?)
}

#[tokio::test]
async fn pt2_a_grant_beyond_the_budget_fails_cleanly_with_budget_exhausted() -> TestResult {
    let mut h = start().await?;
    let shop = pop_shop(&mut h).await?;
    let status = refused(
        grant(
            &h,
            account(ShopBudget, &shop, ""),
            &shop,
            "u1",
            Asset::RedPacket,
            1,
        )
        .await,
    )?;
    assert_exhausted(&status, "BUDGET_EXHAUSTED");
    recharge(&h, &shop, Asset::RedPacket, 500).await?;
    let before = transfer_count(&h, &shop).await?;
    let status = refused(
        grant(
            &h,
            account(ShopBudget, &shop, ""),
            &shop,
            "u1",
            Asset::RedPacket,
            501,
        )
        .await,
    )?;
    assert_exhausted(&status, "BUDGET_EXHAUSTED");
    let status = refused(reserve(&h, &shop, Asset::RedPacket, 501).await)?;
    assert_exhausted(&status, "BUDGET_EXHAUSTED");
    assert_eq!(transfer_count(&h, &shop).await?, before);
    assert_eq!(budget(&h, &shop, Asset::RedPacket).await?, (500, 0));
    grant(
        &h,
        account(ShopBudget, &shop, ""),
        &shop,
        "u1",
        Asset::RedPacket,
        500,
    )
    .await?;
    assert_eq!(budget(&h, &shop, Asset::RedPacket).await?, (0, 0));
    Ok(assert_ledger_balanced(&h).await?)
}

#[tokio::test]
async fn pt2_a_grant_beyond_the_reservation_is_reservation_exhausted() -> TestResult {
    let mut h = start().await?;
    let shop = pop_shop(&mut h).await?;
    recharge(&h, &shop, Asset::DataPack, 1_000).await?;
    let held = reserve(&h, &shop, Asset::DataPack, 100).await?;
    let from = account(Reservation, &shop, &held.reservation_id);
    grant(&h, from.clone(), &shop, "u1", Asset::DataPack, 60).await?;
    let status = refused(grant(&h, from.clone(), &shop, "u2", Asset::DataPack, 41).await)?;
    assert_exhausted(&status, "RESERVATION_EXHAUSTED");
    // The reservation's asset only: no beans in a data-pack reservation.
    let status = refused(grant(&h, from.clone(), &shop, "u2", Asset::Beans, 1).await)?;
    assert_code(&status, Code::ResourceExhausted);
    grant(&h, from, &shop, "u2", Asset::DataPack, 40).await?;
    assert_eq!(budget(&h, &shop, Asset::DataPack).await?, (900, 0));
    let released = release(&h, &shop, &held.reservation_id).await?;
    assert_eq!(released.state(), pb::ReservationState::Released);
    assert_eq!(budget(&h, &shop, Asset::DataPack).await?, (900, 0));
    Ok(assert_ledger_balanced(&h).await?)
}

#[tokio::test]
async fn pt2_concurrent_grants_never_overdraw_a_reservation() -> TestResult {
    let mut h = start().await?;
    let shop = pop_shop(&mut h).await?;
    recharge(&h, &shop, Asset::Beans, 1_000).await?;
    let held = reserve(&h, &shop, Asset::Beans, 50).await?;
    let tasks: Vec<_> = (0..12)
        .map(|i| {
            let mut client = h.client.clone();
            let request = transfer_request(
                account(Reservation, &shop, &held.reservation_id),
                account(Member, &shop, &format!("u{i}")),
                Asset::Beans,
                10,
                "gift",
            );
            tokio::spawn(async move {
                client
                    .create_transfer(req(&campaign_service(), request))
                    .await
            })
        })
        .collect();
    let (mut granted, mut exhausted) = (0, 0);
    for task in tasks {
        match task.await? {
            Ok(_) => granted += 1,
            Err(status) => {
                assert_exhausted(&status, "RESERVATION_EXHAUSTED");
                exhausted += 1;
            }
        }
    }
    assert_eq!((granted, exhausted), (5, 7));
    assert_eq!(budget(&h, &shop, Asset::Beans).await?, (950, 0));
    Ok(assert_ledger_balanced(&h).await?)
}

#[tokio::test]
async fn pt2_bad_budget_requests_are_invalid_naming_the_field() -> TestResult {
    let mut h = start().await?;
    let shop = pop_shop(&mut h).await?;
    for amount in [0, -1] {
        let status = refused(recharge(&h, &shop, Asset::Beans, amount).await)?;
        assert_invalid(&status, "amount");
        let status = refused(reserve(&h, &shop, Asset::Beans, amount).await)?;
        assert_invalid(&status, "amount");
    }
    let status = refused(recharge(&h, &shop, Asset::Unspecified, 10).await)?;
    assert_invalid(&status, "asset");
    let mut request = reserve_request(&shop, Asset::Beans, 10);
    request.purpose = " ".into();
    let status = expect_err(
        h.client
            .reserve_budget(req(&merchant(&shop), request))
            .await,
    )?;
    assert_invalid(&status, "purpose");
    let status = refused(release(&h, &shop, "not-an-id").await)?;
    assert_invalid(&status, "reservation_id");
    let status = refused(release(&h, &shop, &uuid::Uuid::now_v7().to_string()).await)?;
    assert_code(&status, Code::NotFound);
    Ok(())
}

#[tokio::test]
async fn pt2_budget_cannot_be_stranded_in_an_unknown_or_released_reservation() -> TestResult {
    let mut h = start().await?;
    let shop = pop_shop(&mut h).await?;
    recharge(&h, &shop, Asset::Beans, 100).await?;
    let held = reserve(&h, &shop, Asset::Beans, 10).await?;
    release(&h, &shop, &held.reservation_id).await?;
    for target in [
        held.reservation_id.clone(),
        uuid::Uuid::now_v7().to_string(),
    ] {
        let result = transfer(
            &h,
            transfer_request(
                account(ShopBudget, &shop, ""),
                account(Reservation, &shop, &target),
                Asset::Beans,
                30,
                "top up",
            ),
        )
        .await;
        if let Err(status) = &result {
            assert_not_internal(status);
        }
        assert!(
            result.is_err(),
            "30 beans moved into reservation {target}: {result:?}"
        );
    }
    assert_eq!(budget(&h, &shop, Asset::Beans).await?, (100, 0));
    Ok(())
}

#[tokio::test]
async fn pt2_a_purpose_of_200_chinese_characters_is_accepted() -> TestResult {
    let mut h = start().await?;
    let shop = pop_shop(&mut h).await?;
    recharge(&h, &shop, Asset::Beans, 100).await?;
    let mut request = reserve_request(&shop, Asset::Beans, 10);
    request.purpose = "活".repeat(200);
    h.client
        .reserve_budget(req(&merchant(&shop), request))
        .await?;
    let mut request = reserve_request(&shop, Asset::Beans, 10);
    request.purpose = "活".repeat(201);
    let status = expect_err(
        h.client
            .reserve_budget(req(&merchant(&shop), request))
            .await,
    )?;
    assert_invalid(&status, "purpose");
    Ok(())
}

#[tokio::test]
async fn pt2_a_merchant_cannot_touch_another_shops_budget() -> TestResult {
    let mut h = start().await?;
    let a = pop_shop(&mut h).await?;
    let b = pop_shop(&mut h).await?;
    recharge(&h, &b, Asset::Beans, 100).await?;
    let held = reserve(&h, &b, Asset::Beans, 40).await?;
    let intruder = merchant(&a);
    let status = expect_err(
        h.client
            .recharge_budget(req(
                &intruder,
                pb::RechargeBudgetRequest {
                    request_id: rid("recharge"),
                    shop_id: b.clone(),
                    asset: Asset::Beans.into(),
                    amount: 5,
                },
            ))
            .await,
    )?;
    assert_code(&status, Code::PermissionDenied);
    let status = expect_err(
        h.client
            .reserve_budget(req(&intruder, reserve_request(&b, Asset::Beans, 5)))
            .await,
    )?;
    assert_code(&status, Code::PermissionDenied);
    let status = expect_err(
        h.client
            .release_budget_reservation(req(
                &intruder,
                pb::ReleaseBudgetReservationRequest {
                    request_id: rid("release"),
                    reservation_id: held.reservation_id.clone(),
                },
            ))
            .await,
    )?;
    assert_code(&status, Code::PermissionDenied);
    let status = expect_err(
        h.client
            .list_budget_balances(req(
                &intruder,
                pb::ListBudgetBalancesRequest { shop_id: b.clone() },
            ))
            .await,
    )?;
    assert_code(&status, Code::PermissionDenied);
    assert_eq!(budget(&h, &b, Asset::Beans).await?, (60, 40));
    Ok(())
}

#[tokio::test]
async fn pt2_retried_recharge_and_reservation_take_effect_once() -> TestResult {
    let mut h = start().await?;
    let shop = pop_shop(&mut h).await?;
    let recharge_request = pb::RechargeBudgetRequest {
        request_id: rid("recharge"),
        shop_id: shop.clone(),
        asset: Asset::Beans.into(),
        amount: 500,
    };
    let first = h
        .client
        .recharge_budget(req(&merchant(&shop), recharge_request.clone()))
        .await?
        .into_inner();
    let again = h
        .client
        .recharge_budget(req(&merchant(&shop), recharge_request))
        .await?
        .into_inner();
    assert_eq!(again, first);
    let request = reserve_request(&shop, Asset::Beans, 200);
    let held = h
        .client
        .reserve_budget(req(&merchant(&shop), request.clone()))
        .await?
        .into_inner();
    let held_again = h
        .client
        .reserve_budget(req(&merchant(&shop), request.clone()))
        .await?
        .into_inner();
    assert_eq!(held_again, held);
    assert_eq!(budget(&h, &shop, Asset::Beans).await?, (300, 200));
    let status = expect_err(
        h.client
            .reserve_budget(req(
                &merchant(&shop),
                pb::ReserveBudgetRequest {
                    amount: 201,
                    ..request
                },
            ))
            .await,
    )?;
    assert_precondition(&status, "IDEMPOTENCY_KEY_REUSED");
    Ok(())
}

#[tokio::test]
async fn pt2_budget_and_transfers_for_an_unknown_shop_are_not_found() -> TestResult {
    let mut h = start().await?;
    let unknown = uuid::Uuid::now_v7().to_string();
    let status = expect_err(
        h.client
            .recharge_budget(req(
                &operator(),
                pb::RechargeBudgetRequest {
                    request_id: rid("recharge"),
                    shop_id: unknown.clone(),
                    asset: Asset::Beans.into(),
                    amount: 100,
                },
            ))
            .await,
    )?;
    assert_code(&status, Code::NotFound);
    let status = refused(issue(&h, &unknown, "u1", 10).await)?;
    assert_code(&status, Code::NotFound);
    Ok(())
}

// ------------------------------------------------------------------------------ PT-4

#[tokio::test]
async fn pt4_a_member_pages_through_their_history_newest_first() -> TestResult {
    let mut h = start().await?;
    let shop = pop_shop(&mut h).await?;
    for amount in [10, 20, 30] {
        grant_points(&h, &shop, "u1", amount).await?;
        h.clock.advance(chrono::Duration::minutes(1));
    }
    spend_points(&h, &shop, "u1", 5).await?;
    grant_points(&h, &shop, "u1", 7).await?;
    grant_points(&h, &shop, "someone-else", 99).await?;
    let mut seen = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let page = history(&h, &shop, "u1", Asset::Points, 2, &token).await?;
        pages += 1;
        assert!(page.entries.len() <= 2);
        seen.extend(page.entries.iter().map(|e| (e.delta, e.balance_after)));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
        assert!(pages < 10, "paging does not end");
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, [(7, 62), (-5, 55), (30, 60), (20, 30), (10, 10)]);
    Ok(())
}

#[tokio::test]
async fn pt4_history_filters_by_asset_and_the_shops_merchant_may_read_it() -> TestResult {
    let mut h = start().await?;
    let shop = pop_shop(&mut h).await?;
    grant_points(&h, &shop, "u1", 10).await?;
    recharge(&h, &shop, Asset::Beans, 50).await?;
    grant(
        &h,
        account(ShopBudget, &shop, ""),
        &shop,
        "u1",
        Asset::Beans,
        5,
    )
    .await?;
    let deltas = |page: &pb::ListLedgerEntriesResponse| {
        page.entries
            .iter()
            .map(|e| (e.asset(), e.delta))
            .collect::<Vec<_>>()
    };
    let all = history(&h, &shop, "u1", Asset::Unspecified, 0, "").await?;
    assert_eq!(deltas(&all), [(Asset::Beans, 5), (Asset::Points, 10)]);
    let beans = history(&h, &shop, "u1", Asset::Beans, 0, "").await?;
    assert_eq!(deltas(&beans), [(Asset::Beans, 5)]);
    let by_merchant = h
        .client
        .list_ledger_entries(req(
            &merchant(&shop),
            pb::ListLedgerEntriesRequest {
                shop_id: shop.clone(),
                user_id: "u1".into(),
                ..Default::default()
            },
        ))
        .await?
        .into_inner();
    assert_eq!(by_merchant, all);
    Ok(())
}

#[tokio::test]
async fn pt4_nobody_else_reads_a_members_history() -> TestResult {
    let mut h = start().await?;
    let shop = pop_shop(&mut h).await?;
    let other = pop_shop(&mut h).await?;
    grant_points(&h, &shop, "u1", 10).await?;
    for actor in [shopper("u2"), merchant(&other)] {
        let status = expect_err(
            h.client
                .list_ledger_entries(req(
                    &actor,
                    pb::ListLedgerEntriesRequest {
                        shop_id: shop.clone(),
                        user_id: "u1".into(),
                        ..Default::default()
                    },
                ))
                .await,
        )?;
        assert_code(&status, Code::PermissionDenied);
    }
    Ok(())
}

#[tokio::test]
async fn pt4_bad_history_arguments_are_invalid_naming_the_field() -> TestResult {
    let mut h = start().await?;
    let shop = pop_shop(&mut h).await?;
    for (size, token, field) in [
        (201, "", "page_size"),
        (-1, "", "page_size"),
        (0, "abc", "page_token"),
        (0, "99999999999999999999999", "page_token"),
    ] {
        let status = refused(history(&h, &shop, "u1", Asset::Points, size, token).await)?;
        assert_invalid(&status, field);
    }
    let status = expect_err(
        h.client
            .list_ledger_entries(req(
                &shopper("u1"),
                pb::ListLedgerEntriesRequest {
                    shop_id: shop.clone(),
                    user_id: "u1".into(),
                    asset: 42,
                    ..Default::default()
                },
            ))
            .await,
    )?;
    assert_invalid(&status, "asset");
    Ok(())
}

#[tokio::test]
async fn pt4_a_merchant_sees_budget_balances_per_asset() -> TestResult {
    let mut h = start().await?;
    let shop = pop_shop(&mut h).await?;
    assert_eq!(budget(&h, &shop, Asset::Beans).await?, (0, 0));
    recharge(&h, &shop, Asset::Beans, 100).await?;
    recharge(&h, &shop, Asset::RedPacket, 2_000).await?;
    recharge(&h, &shop, Asset::RedPacket, 500).await?;
    reserve(&h, &shop, Asset::RedPacket, 1_000).await?;
    reserve(&h, &shop, Asset::RedPacket, 300).await?;
    assert_eq!(budget(&h, &shop, Asset::Beans).await?, (100, 0));
    assert_eq!(budget(&h, &shop, Asset::RedPacket).await?, (1_200, 1_300));
    assert_eq!(budget(&h, &shop, Asset::DataPack).await?, (0, 0));
    Ok(())
}

// ------------------------------------------------------------------------------ PT-5

async fn expiring_shop(h: &mut Harness, time_zone: &str) -> anyhow::Result<String> {
    let mut request = create_shop_request("Tea House", ShopType::Pop);
    request.time_zone = time_zone.into();
    let shop = h
        .client
        .create_shop(req(&operator(), request))
        .await?
        .into_inner()
        .shop_id;
    update_settings(h, &shop, None, Some(true), None).await?;
    Ok(shop)
}

#[tokio::test]
async fn pt5_points_earned_in_a_year_expire_at_the_end_of_the_next_year_in_shop_time() -> TestResult
{
    let mut h = start().await?;
    let shop = expiring_shop(&mut h, "").await?;
    // Earned 2026-11-01 (Asia/Shanghai): due at 2028-01-01T00:00+08:00.
    grant_points(&h, &shop, "u1", 100).await?;
    h.clock.set(utc(2027, 12, 31, 15, 59, 59));
    assert_eq!(expire(&h, &shop).await?, (0, 0));
    assert_eq!(
        history(&h, &shop, "u1", Asset::Points, 0, "")
            .await?
            .entries
            .len(),
        1
    );
    h.clock.set(utc(2027, 12, 31, 16, 0, 0));
    assert_eq!(expire(&h, &shop).await?, (1, 100));
    let entries = history(&h, &shop, "u1", Asset::Points, 0, "")
        .await?
        .entries;
    assert_eq!(
        (entries[0].delta, entries[0].balance_after),
        (-100, 0),
        "expiry is a ledger entry like any other"
    );
    let pool = h.db.pool(1).await?;
    let expiry: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT from_kind, to_kind, amount FROM membership.transfers
         WHERE shop_id = $1::uuid AND to_kind = 'SYSTEM_EXPIRY'",
    )
    .bind(&shop)
    .fetch_all(&pool)
    .await?;
    assert_eq!(expiry, [("MEMBER".into(), "SYSTEM_EXPIRY".into(), 100)]);
    // Running it again expires nothing more.
    assert_eq!(expire(&h, &shop).await?, (0, 0));
    Ok(assert_ledger_balanced(&h).await?)
}

#[tokio::test]
async fn pt5_the_year_end_cliff_expires_every_member_in_bounded_chunks() -> TestResult {
    let mut h = start().await?;
    let chunk = membership_svc::maintenance::EXPIRY_CHUNK_MEMBERS as usize;
    let a = expiring_shop(&mut h, "").await?;
    let b = expiring_shop(&mut h, "").await?;
    // more members than two chunks, across shops, so chunks end inside a shop and across one
    let members = chunk + chunk / 2 + 1;
    let grants = (0..members).flat_map(|i| {
        let user = format!("u{i:05}");
        [(a.clone(), user.clone(), 3), (b.clone(), user, 4)]
    });
    let grants: Vec<_> = grants.collect();
    for batch in grants.chunks(64) {
        let calls = batch
            .iter()
            .map(|(shop, user, points)| grant_points(&h, shop, user, *points));
        for result in futures::future::join_all(calls).await {
            result?;
        }
    }
    h.clock.set(utc(2028, 1, 1, 0, 0, 0));
    let swept = h
        .client
        .expire_points(req(
            &operator(),
            pb::ExpirePointsRequest {
                request_id: rid("cliff"),
                shop_id: String::new(),
            },
        ))
        .await?
        .into_inner();
    let expected = (2 * members as i64, 7 * members as i64);
    assert_eq!((swept.expired_lots, swept.expired_points), expected);
    // nothing was left behind at a chunk boundary
    assert_eq!(expire(&h, &a).await?, (0, 0));
    assert_eq!(expire(&h, &b).await?, (0, 0));
    Ok(assert_ledger_balanced(&h).await?)
}

#[tokio::test]
async fn pt5_spending_and_expiry_consume_the_oldest_points_first() -> TestResult {
    let mut h = start().await?;
    let shop = expiring_shop(&mut h, "").await?;
    grant_points(&h, &shop, "u1", 100).await?;
    h.clock.set(utc(2027, 3, 1, 0, 0, 0));
    grant_points(&h, &shop, "u1", 50).await?;
    h.clock.set(utc(2027, 6, 1, 0, 0, 0));
    // Takes 80 of the 2026 lot, leaving 20 of it and all 50 of 2027.
    spend_points(&h, &shop, "u1", 80).await?;
    h.clock.set(utc(2027, 12, 31, 16, 0, 0));
    assert_eq!(expire(&h, &shop).await?, (1, 20));
    let balance: i64 = history(&h, &shop, "u1", Asset::Points, 1, "")
        .await?
        .entries
        .first()
        .map_or(-1, |e| e.balance_after);
    assert_eq!(balance, 50);
    h.clock.set(utc(2028, 12, 31, 16, 0, 0));
    assert_eq!(expire(&h, &shop).await?, (1, 50));
    Ok(assert_ledger_balanced(&h).await?)
}

#[tokio::test]
async fn pt5_the_year_of_a_lot_is_the_shops_local_year() -> TestResult {
    let mut h = start().await?;
    let shanghai = expiring_shop(&mut h, "").await?;
    let utc_shop = expiring_shop(&mut h, "UTC").await?;
    // 2026-12-31T17:00Z is already 2027 in Shanghai, still 2026 in UTC.
    h.clock.set(utc(2026, 12, 31, 17, 0, 0));
    grant_points(&h, &shanghai, "u1", 10).await?;
    grant_points(&h, &utc_shop, "u1", 10).await?;
    h.clock.set(utc(2028, 1, 1, 0, 0, 0));
    assert_eq!(expire(&h, &shanghai).await?, (0, 0));
    assert_eq!(expire(&h, &utc_shop).await?, (1, 10));
    h.clock.set(utc(2028, 12, 31, 16, 0, 0));
    assert_eq!(expire(&h, &shanghai).await?, (1, 10));
    Ok(assert_ledger_balanced(&h).await?)
}

#[tokio::test]
async fn pt5_points_never_expire_while_expiry_is_off() -> TestResult {
    let mut h = start().await?;
    let shop = pop_shop(&mut h).await?;
    grant_points(&h, &shop, "u1", 100).await?;
    h.clock.set(utc(2030, 1, 1, 0, 0, 0));
    assert_eq!(expire(&h, &shop).await?, (0, 0));
    // The operator's sweep of every shop leaves it alone too.
    let swept = h
        .client
        .expire_points(req(
            &operator(),
            pb::ExpirePointsRequest {
                request_id: rid("sweep"),
                shop_id: String::new(),
            },
        ))
        .await?
        .into_inner();
    assert_eq!((swept.expired_lots, swept.expired_points), (0, 0));
    let entries = history(&h, &shop, "u1", Asset::Points, 0, "")
        .await?
        .entries;
    assert_eq!(entries[0].balance_after, 100);
    Ok(())
}

#[tokio::test]
async fn pt5_order_points_expire_and_a_later_refund_takes_only_what_is_left() -> TestResult {
    let mut h = start().await?;
    let shop = expiring_shop(&mut h, "").await?;
    paid_and_confirmed(&h, &shop, "u1", "o-1", 10_000).await?;
    h.clock.set(utc(2027, 12, 31, 16, 0, 0));
    assert_eq!(expire(&h, &shop).await?, (1, 100));
    report(&h, refund_event(&h, &shop, "o-1", "u1", 10_000, "r-1")).await?;
    assert_eq!(points(&h, &shop, "u1").await?, 0);
    Ok(assert_ledger_balanced(&h).await?)
}

#[tokio::test]
async fn pt5_expiry_is_run_by_the_shops_merchant_or_platform_wide_by_an_operator() -> TestResult {
    let mut h = start().await?;
    let a = expiring_shop(&mut h, "").await?;
    let b = expiring_shop(&mut h, "").await?;
    grant_points(&h, &a, "u1", 10).await?;
    grant_points(&h, &b, "u1", 20).await?;
    h.clock.set(utc(2028, 1, 1, 0, 0, 0));
    for request in [
        pb::ExpirePointsRequest {
            request_id: rid("expire"),
            shop_id: b.clone(),
        },
        pb::ExpirePointsRequest {
            request_id: rid("expire"),
            shop_id: String::new(),
        },
    ] {
        let status = expect_err(h.client.expire_points(req(&merchant(&a), request)).await)?;
        assert_code(&status, Code::PermissionDenied);
    }
    let request = pb::ExpirePointsRequest {
        request_id: rid("sweep"),
        shop_id: String::new(),
    };
    let swept = h
        .client
        .expire_points(req(&operator(), request.clone()))
        .await?
        .into_inner();
    assert_eq!((swept.expired_lots, swept.expired_points), (2, 30));
    // A retry answers the same and expires nothing twice.
    let again = h
        .client
        .expire_points(req(&operator(), request))
        .await?
        .into_inner();
    assert_eq!(again, swept);
    Ok(assert_ledger_balanced(&h).await?)
}

// ------------------------------------------------------------------------------ X-3

#[tokio::test]
async fn x3_a_budget_that_would_overflow_is_refused_not_internal() -> TestResult {
    let mut h = start().await?;
    let shop = pop_shop(&mut h).await?;
    // One transfer moves at most 10 billion yuan, so no sum of them reaches i64::MAX in
    // practice; beyond that, a full account is FAILED_PRECONDITION (BALANCE_LIMIT_EXCEEDED).
    let status = refused(recharge(&h, &shop, Asset::Beans, i64::MAX).await)?;
    assert_invalid(&status, "amount");
    let status = refused(issue(&h, &shop, "u1", i64::MAX).await)?;
    assert_invalid(&status, "amount");
    assert_eq!(budget(&h, &shop, Asset::Beans).await?, (0, 0));
    Ok(())
}

#[tokio::test]
async fn x3_text_with_a_nul_character_is_invalid_argument_not_internal() -> TestResult {
    let mut h = start().await?;
    let shop = pop_shop(&mut h).await?;
    let status = refused(
        transfer(
            &h,
            transfer_request(
                account(SystemIssuance, &shop, ""),
                account(Member, &shop, "u1"),
                Asset::Points,
                10,
                "gift\u{0}",
            ),
        )
        .await,
    )?;
    assert_not_internal(&status);
    assert_invalid(&status, "reason");
    recharge(&h, &shop, Asset::Beans, 100).await?;
    let mut request = reserve_request(&shop, Asset::Beans, 10);
    request.purpose = "campaign\u{0}".into();
    let status = expect_err(
        h.client
            .reserve_budget(req(&merchant(&shop), request))
            .await,
    )?;
    assert_not_internal(&status);
    assert_invalid(&status, "purpose");
    Ok(())
}

/// The saga barrier: a transfer step aborted before it arrives is refused for good
/// and moves nothing; an applied one is reported as applied.
#[tokio::test]
async fn saga_barrier_a_transfer_arriving_after_its_abort_moves_nothing() -> TestResult {
    let mut h = start().await?;
    let shop = pop_shop(&mut h).await?;
    let request = transfer_request(
        account(SystemIssuance, &shop, ""),
        account(Member, &shop, "u1"),
        Asset::Points,
        40,
        "gift",
    );
    let abort = |request_id: &str| pb::AbortStepRequest {
        method: "CreateTransfer".into(),
        request_id: request_id.into(),
    };
    let aborted = h
        .client
        .abort_step(req(&campaign_service(), abort(&request.request_id)))
        .await?
        .into_inner();
    assert!(!aborted.applied);
    let late = h
        .client
        .create_transfer(req(&campaign_service(), request.clone()))
        .await;
    assert_precondition(&refused(late.map(|r| r.into_inner()))?, "REQUEST_ABORTED");
    assert_eq!(transfer_count(&h, &shop).await?, 0);
    let done = pb::CreateTransferRequest {
        request_id: "applied-transfer".into(),
        ..request
    };
    h.client
        .create_transfer(req(&campaign_service(), done.clone()))
        .await?;
    let applied = h
        .client
        .abort_step(req(&campaign_service(), abort(&done.request_id)))
        .await?
        .into_inner();
    assert!(applied.applied);
    assert_eq!(transfer_count(&h, &shop).await?, 1);
    Ok(assert_ledger_balanced(&h).await?)
}

/// PT-5 runs by itself: nobody calls `ExpirePoints`; the service's own sweep (here every
/// 50 ms instead of hourly) expires the lots once the clock passes the year end in the
/// shop's time zone (America/Los_Angeles, not the default Asia/Shanghai).
#[tokio::test]
async fn pt5_the_sweep_expires_points_by_itself_at_the_year_end_in_the_shops_time_zone()
-> TestResult {
    let mut h = start_sweeping(std::time::Duration::from_millis(50)).await?;
    let shop = expiring_shop(&mut h, "America/Los_Angeles").await?;
    // Earned 2026-11-01T01:00-07:00: due at 2028-01-01T00:00-08:00 = 2028-01-01T08:00Z.
    grant_points(&h, &shop, "u1", 100).await?;
    // Past the year end in Shanghai (16:00Z), not yet in Los Angeles.
    h.clock.set(utc(2028, 1, 1, 7, 59, 59));
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let balance = async |h: &Harness| -> anyhow::Result<i64> {
        let page = history(h, &shop, "u1", Asset::Points, 0, "").await?;
        Ok(page.entries.first().map_or(0, |e| e.balance_after))
    };
    assert_eq!(balance(&h).await?, 100, "not due in shop time");
    h.clock.set(utc(2028, 1, 1, 8, 0, 0));
    let mut left = -1;
    for _ in 0..100 {
        left = balance(&h).await?;
        if left == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(left, 0, "the sweep expired the lot by itself");
    let entries = history(&h, &shop, "u1", Asset::Points, 0, "")
        .await?
        .entries;
    assert_eq!((entries[0].delta, entries[0].balance_after), (-100, 0));
    Ok(assert_ledger_balanced(&h).await?)
}
