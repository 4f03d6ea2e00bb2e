//! OR-1..OR-4 (and LV-5 on order events) through the real gRPC interface on real Postgres.

mod support;

use memberhub_kit::testing::TestResult;
use memberhub_proto::membership as pb;
use pb::OrderEventOutcome::{Applied, Duplicate, Held};
use pb::OrderEventType::{Paid, ReceiptConfirmed, Refunded};
use support::*;
use tonic::Code;

/// A shop under `policy` whose members earn `rate` points per yuan.
async fn order_shop(h: &mut Harness, policy: pb::JoinPolicy, rate: i32) -> anyhow::Result<String> {
    let shop = shop_with_policy(h, policy).await?;
    if rate != 1 {
        update_settings(h, &shop, Some(rate), None, None).await?;
    }
    Ok(shop)
}

/// An edit that spoils an event.
type Change = Box<dyn Fn(&mut pb::OrderEvent)>;

fn totals(m: &pb::Membership) -> (i64, i64) {
    (m.total_spend_fen, m.order_count)
}

async fn count(h: &Harness, sql: &'static str, shop: &str) -> anyhow::Result<i64> {
    let pool = h.db.pool(1).await?;
    let n: i64 = sqlx::query_scalar(sql).bind(shop).fetch_one(&pool).await?;
    pool.close().await;
    Ok(n)
}

/// (amount, shortfall) of the points transfers of `shop` whose reason mentions `needle`.
async fn transfers_like(h: &Harness, shop: &str, needle: &str) -> anyhow::Result<Vec<(i64, i64)>> {
    let pool = h.db.pool(1).await?;
    let rows: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT amount, shortfall FROM membership.transfers
         WHERE shop_id = $1::uuid AND asset = 'POINTS' AND reason LIKE '%' || $2 || '%'
         ORDER BY created_at, transfer_id",
    )
    .bind(shop)
    .bind(needle)
    .fetch_all(&pool)
    .await?;
    pool.close().await;
    Ok(rows)
}

// ------------------------------------------------------------------------------ OR-1

#[tokio::test]
async fn or1_a_redelivered_event_takes_effect_once_and_reports_duplicate() -> TestResult {
    let mut h = start().await?;
    let shop = order_shop(&mut h, pb::JoinPolicy::Order, 1).await?;
    paid_and_confirmed(&h, &shop, "u1", "o-1", 10_000).await?;
    let before = membership(&h, &shop, "u1").await?;
    for kind in [Paid, ReceiptConfirmed] {
        let again = order_event(&h, kind, &shop, "o-1", "u1", 10_000);
        assert_eq!(report(&h, again.clone()).await?, Duplicate);
        assert_eq!(report_batch(&h, vec![again]).await?, [Duplicate]);
    }
    let refund = refund_event(&h, &shop, "o-1", "u1", 1_000, "r-1");
    assert_eq!(report(&h, refund.clone()).await?, Applied);
    assert_eq!(report(&h, refund).await?, Duplicate);
    let after = membership(&h, &shop, "u1").await?;
    assert_eq!(totals(&after), (9_000, 1));
    assert_eq!(after.points_balance, before.points_balance - 10);
    let confirmed = count(
        &h,
        "SELECT count(*) FROM membership.outbox WHERE shop_id = $1::uuid AND event_type = 'ORDER_CONFIRMED'",
        &shop,
    )
    .await?;
    assert_eq!(confirmed, 1, "one ORDER_CONFIRMED in the feed");
    Ok(assert_ledger_balanced(&h).await?)
}

/// The stored lines of one order: (line_no, user, sku, category, quantity, unit price).
type StoredLine = (i32, String, String, String, i64, i64);

async fn stored_lines(h: &Harness, shop: &str, order: &str) -> anyhow::Result<Vec<StoredLine>> {
    let pool = h.db.pool(1).await?;
    let rows = sqlx::query_as(
        "SELECT line_no, user_id, sku, category, quantity, unit_price_fen
         FROM membership.order_lines WHERE shop_id = $1::uuid AND order_id = $2 ORDER BY line_no",
    )
    .bind(shop)
    .bind(order)
    .fetch_all(&pool)
    .await?;
    pool.close().await;
    Ok(rows)
}

#[tokio::test]
async fn or1_an_orders_lines_are_kept_once_for_members_and_non_members() -> TestResult {
    let mut h = start().await?;
    let line = |sku: &str, category: &str, quantity: i64, unit_price_fen: i64| {
        memberhub_proto::common::OrderLine {
            sku: sku.into(),
            category: category.into(),
            quantity,
            unit_price_fen,
            ..Default::default()
        }
    };
    let lines = vec![
        line("oolong-250g", "tea", 2, 4_000),
        line("gaiwan", "teaware", 1, 12_000),
        line("gift-card", "", 1, 0),
    ];
    let expected: Vec<StoredLine> = lines
        .iter()
        .enumerate()
        .map(|(n, l)| {
            (
                n as i32,
                "u1".to_string(),
                l.sku.clone(),
                l.category.clone(),
                l.quantity,
                l.unit_price_fen,
            )
        })
        .collect();
    // A shop joined by card: an order makes nobody a member there.
    let card_shop = order_shop(&mut h, pb::JoinPolicy::Card, 1).await?;
    let order_shop_id = order_shop(&mut h, pb::JoinPolicy::Order, 1).await?;
    for shop in [&card_shop, &order_shop_id] {
        let mut paid = order_event(&h, Paid, shop, "o-lines", "u1", 20_000);
        paid.lines = lines.clone();
        assert_eq!(report(&h, paid.clone()).await?, Applied);
        assert_eq!(report(&h, paid).await?, Duplicate);
        // The confirmation repeats the lines (one more here): nothing is added.
        let mut confirmed = order_event(&h, ReceiptConfirmed, shop, "o-lines", "u1", 20_000);
        confirmed.lines = lines.clone();
        confirmed.lines.push(line("extra", "tea", 1, 1));
        assert_eq!(report(&h, confirmed).await?, Applied);
        let refund = refund_event(&h, shop, "o-lines", "u1", 4_000, "r-1");
        assert_eq!(report(&h, refund).await?, Applied);
        assert_eq!(stored_lines(&h, shop, "o-lines").await?, expected, "{shop}");
    }
    let not_a_member = membership(&h, &card_shop, "u1")
        .await
        .err()
        .map(|s| s.code());
    assert_eq!(not_a_member, Some(Code::NotFound), "u1 is no member there");
    assert!(membership(&h, &order_shop_id, "u1").await.is_ok());

    // A confirmation that arrives first brings the lines.
    let mut confirmed = order_event(&h, ReceiptConfirmed, &card_shop, "o-late", "u2", 500);
    confirmed.lines = vec![line("sample", "tea", 3, 100)];
    report_batch(&h, vec![confirmed]).await?;
    let mut paid = order_event(&h, Paid, &card_shop, "o-late", "u2", 500);
    paid.lines = vec![line("other", "tea", 1, 500)];
    report(&h, paid).await?;
    assert_eq!(
        stored_lines(&h, &card_shop, "o-late").await?,
        vec![(0, "u2".into(), "sample".into(), "tea".into(), 3, 100)]
    );
    Ok(())
}

#[tokio::test]
async fn or1_a_retried_request_returns_its_first_outcome_without_a_second_effect() -> TestResult {
    let mut h = start().await?;
    let shop = order_shop(&mut h, pb::JoinPolicy::Order, 1).await?;
    report(&h, order_event(&h, Paid, &shop, "o-1", "u1", 10_000)).await?;
    let request = pb::ReportOrderEventRequest {
        request_id: rid("confirm"),
        event: Some(order_event(
            &h,
            ReceiptConfirmed,
            &shop,
            "o-1",
            "u1",
            10_000,
        )),
    };
    for _ in 0..2 {
        let response = h
            .client
            .report_order_event(req(&order_system(), request.clone()))
            .await?
            .into_inner();
        assert_eq!(response.outcome(), Applied);
    }
    let m = membership(&h, &shop, "u1").await?;
    assert_eq!((totals(&m), m.points_balance), ((10_000, 1), 100));
    Ok(())
}

#[tokio::test]
async fn or1_a_batch_reports_one_outcome_per_event_in_request_order() -> TestResult {
    let mut h = start().await?;
    let shop = order_shop(&mut h, pb::JoinPolicy::Order, 1).await?;
    report(&h, order_event(&h, Paid, &shop, "o-1", "u1", 10_000)).await?;
    let outcomes = report_batch(
        &h,
        vec![
            order_event(&h, ReceiptConfirmed, &shop, "o-1", "u1", 10_000),
            order_event(&h, Paid, &shop, "o-1", "u1", 10_000),
            refund_event(&h, &shop, "o-2", "u2", 500, "r-1"),
            order_event(&h, Paid, &shop, "o-3", "u3", 3_000),
            order_event(&h, Paid, &shop, "o-2", "u2", 2_000),
        ],
    )
    .await?;
    assert_eq!(outcomes, [Applied, Duplicate, Held, Applied, Applied]);
    assert_eq!(totals(&membership(&h, &shop, "u1").await?), (10_000, 1));
    assert_eq!(
        membership(&h, &shop, "u3").await?.state(),
        pb::MembershipState::Active
    );
    // The held refund is applied when o-2 is confirmed.
    let outcome = report(
        &h,
        order_event(&h, ReceiptConfirmed, &shop, "o-2", "u2", 2_000),
    )
    .await?;
    assert_eq!(outcome, Applied);
    assert_eq!(totals(&membership(&h, &shop, "u2").await?), (1_500, 1));
    Ok(assert_ledger_balanced(&h).await?)
}

#[tokio::test]
async fn or1_the_same_event_twice_in_one_batch_is_applied_once_and_reported_duplicate_once()
-> TestResult {
    let mut h = start().await?;
    let shop = order_shop(&mut h, pb::JoinPolicy::Order, 1).await?;
    let paid = order_event(&h, Paid, &shop, "o-1", "u1", 10_000);
    let confirmed = order_event(&h, ReceiptConfirmed, &shop, "o-1", "u1", 10_000);
    let outcomes = report_batch(&h, vec![paid.clone(), confirmed.clone(), paid, confirmed]).await?;
    assert_eq!(totals(&membership(&h, &shop, "u1").await?), (10_000, 1));
    // "DUPLICATE: delivered before; nothing changed" — a caller counting APPLIED outcomes
    // must count one effect per event.
    assert_eq!(outcomes, [Applied, Applied, Duplicate, Duplicate]);
    Ok(())
}

#[tokio::test]
async fn or1_a_batch_with_one_bad_event_is_refused_whole_naming_it() -> TestResult {
    let mut h = start().await?;
    let shop = order_shop(&mut h, pb::JoinPolicy::Order, 1).await?;
    let good = order_event(&h, Paid, &shop, "o-1", "u1", 10_000);
    let mut bad = order_event(&h, Paid, &shop, "o-2", "u1", 10_000);
    bad.amount_fen = -1;
    let status = refused(report_batch(&h, vec![good.clone(), bad]).await)?;
    assert_invalid(&status, "events[1].amount_fen");
    // Nothing of the batch was applied.
    assert_eq!(report(&h, good).await?, Applied);
    for events in [
        Vec::new(),
        vec![order_event(&h, Paid, &shop, "o-x", "u1", 1); 1_001],
    ] {
        let status = refused(report_batch(&h, events).await)?;
        assert_invalid(&status, "events");
    }
    Ok(())
}

#[tokio::test]
async fn or1_bad_events_are_invalid_naming_each_field() -> TestResult {
    let mut h = start().await?;
    let shop = order_shop(&mut h, pb::JoinPolicy::Order, 1).await?;
    let base = order_event(&h, Paid, &shop, "o-1", "u1", 10_000);
    let cases: Vec<(Change, &str)> = vec![
        (Box::new(|e| e.r#type = 0), "event.type"),
        (Box::new(|e| e.r#type = 42), "event.type"),
        (Box::new(|e| e.r#type = Refunded.into()), "event.refund_id"),
        (Box::new(|e| e.amount_fen = -5), "event.amount_fen"),
        (
            Box::new(|e| {
                e.r#type = Refunded.into();
                e.refund_id = "r-1".into();
                e.amount_fen = 0;
            }),
            "event.amount_fen",
        ),
        (Box::new(|e| e.occur_time = None), "event.occur_time"),
        (Box::new(|e| e.order_id = String::new()), "event.order_id"),
        (Box::new(|e| e.order_id = "o".repeat(65)), "event.order_id"),
        (Box::new(|e| e.shop_id = "shop".into()), "event.shop_id"),
        (Box::new(|e| e.user_id = " ".into()), "event.user_id"),
    ];
    for (change, field) in cases {
        let mut event = base.clone();
        change(&mut event);
        let status = refused(report(&h, event).await)?;
        assert_invalid(&status, field);
    }
    let status = expect_err(
        h.client
            .report_order_event(req(
                &order_system(),
                pb::ReportOrderEventRequest {
                    request_id: rid("event"),
                    event: None,
                },
            ))
            .await,
    )?;
    assert_invalid(&status, "event");
    assert_eq!(report(&h, base).await?, Applied, "nothing was recorded");
    Ok(())
}

fn cart_event(shop: &str, event_id: &str, user: &str, sku: &str) -> pb::CartEvent {
    pb::CartEvent {
        event_id: event_id.into(),
        shop_id: shop.into(),
        user_id: user.into(),
        sku: sku.into(),
        category: "tea".into(),
        quantity: 1,
        occur_time: Some(memberhub_kit::clock::to_timestamp(t0())),
    }
}

async fn report_cart(
    h: &Harness,
    actor: &memberhub_kit::actor::Actor,
    request_id: &str,
    events: Vec<pb::CartEvent>,
) -> Result<Vec<pb::CartEventOutcome>, tonic::Status> {
    let mut client = h.client.clone();
    let response = client
        .batch_report_cart_events(req(
            actor,
            pb::BatchReportCartEventsRequest {
                request_id: request_id.into(),
                events,
            },
        ))
        .await?
        .into_inner();
    Ok(response.outcomes().collect())
}

#[tokio::test]
async fn or1_add_to_cart_events_are_kept_once_per_event_id_for_anyone() -> TestResult {
    use pb::CartEventOutcome::{Applied as Added, Duplicate as Again};
    let mut h = start().await?;
    let shop = order_shop(&mut h, pb::JoinPolicy::Card, 1).await?;
    let first = vec![
        cart_event(&shop, "c-1", "u1", "oolong"),
        cart_event(&shop, "c-2", "guest", "gaiwan"),
        // the same event twice in one batch: the first copy counts
        cart_event(&shop, "c-1", "u1", "oolong"),
    ];
    assert_eq!(
        report_cart(&h, &order_system(), "cart-1", first.clone()).await?,
        [Added, Added, Again]
    );
    // The same request again answers the same; a new request with a known event is a
    // duplicate delivery.
    assert_eq!(
        report_cart(&h, &order_system(), "cart-1", first).await?,
        [Added, Added, Again]
    );
    assert_eq!(
        report_cart(
            &h,
            &order_system(),
            "cart-2",
            vec![
                cart_event(&shop, "c-2", "guest", "gaiwan"),
                cart_event(&shop, "c-3", "u1", "gaiwan")
            ]
        )
        .await?,
        [Again, Added]
    );
    let pool = h.db.pool(1).await?;
    let kept: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT event_id, user_id, sku FROM membership.cart_events
         WHERE shop_id = $1::uuid ORDER BY event_id",
    )
    .bind(&shop)
    .fetch_all(&pool)
    .await?;
    pool.close().await;
    let kept: Vec<(&str, &str, &str)> = kept
        .iter()
        .map(|(e, u, k)| (e.as_str(), u.as_str(), k.as_str()))
        .collect();
    assert_eq!(
        kept,
        [
            ("c-1", "u1", "oolong"),
            ("c-2", "guest", "gaiwan"),
            ("c-3", "u1", "gaiwan")
        ]
    );

    // Bad events are refused whole, each bad field named.
    let mut bad = cart_event(&shop, "c-9", "u1", "oolong");
    bad.quantity = 0;
    bad.sku = "sku\0".into();
    let mut no_time = cart_event(&shop, "", "u1", "oolong");
    no_time.occur_time = None;
    let status = expect_err(
        h.client
            .clone()
            .batch_report_cart_events(req(
                &order_system(),
                pb::BatchReportCartEventsRequest {
                    request_id: rid("bad"),
                    events: vec![cart_event(&shop, "c-8", "u1", "ok"), bad, no_time],
                },
            ))
            .await,
    )?;
    for field in [
        "events[1].quantity",
        "events[1].sku",
        "events[2].event_id",
        "events[2].occur_time",
    ] {
        assert_invalid(&status, field);
    }
    let empty = report_cart(&h, &order_system(), "empty", vec![])
        .await
        .err()
        .ok_or_else(|| anyhow::anyhow!("an empty batch is refused"))?;
    assert_invalid(&empty, "events");

    // Only the order system reports them.
    for actor in [
        shopper("u1"),
        merchant(&shop),
        operator(),
        campaign_service(),
    ] {
        let refused = report_cart(
            &h,
            &actor,
            &rid("cart"),
            vec![cart_event(&shop, "c-7", "u1", "x")],
        )
        .await;
        assert_eq!(
            refused.err().map(|s| s.code()),
            Some(Code::PermissionDenied)
        );
    }
    Ok(())
}

#[tokio::test]
async fn or1_only_the_order_system_reports_order_events() -> TestResult {
    let mut h = start().await?;
    let shop = order_shop(&mut h, pb::JoinPolicy::Order, 1).await?;
    let event = order_event(&h, Paid, &shop, "o-1", "u1", 10_000);
    // Shoppers, merchants, operators and other platform services alike are refused.
    for actor in [
        shopper("u1"),
        merchant(&shop),
        operator(),
        campaign_service(),
    ] {
        let status = expect_err(
            h.client
                .report_order_event(req(
                    &actor,
                    pb::ReportOrderEventRequest {
                        request_id: rid("event"),
                        event: Some(event.clone()),
                    },
                ))
                .await,
        )?;
        assert_code(&status, Code::PermissionDenied);
        let status = expect_err(
            h.client
                .batch_report_order_events(req(
                    &actor,
                    pb::BatchReportOrderEventsRequest {
                        request_id: rid("batch"),
                        events: vec![event.clone()],
                    },
                ))
                .await,
        )?;
        assert_code(&status, Code::PermissionDenied);
    }
    assert_eq!(report(&h, event).await?, Applied);
    Ok(())
}

#[tokio::test]
async fn or1_an_event_for_an_unknown_shop_is_not_found() -> TestResult {
    let h = start().await?;
    let unknown = uuid::Uuid::now_v7().to_string();
    let status = refused(report(&h, order_event(&h, Paid, &unknown, "o-1", "u1", 100)).await)?;
    assert_code(&status, Code::NotFound);
    Ok(())
}

#[tokio::test]
async fn or1_a_confirmation_before_its_payment_implies_the_payment_and_the_join() -> TestResult {
    let mut h = start().await?;
    let shop = order_shop(&mut h, pb::JoinPolicy::Order, 1).await?;
    let outcome = report(
        &h,
        order_event(&h, ReceiptConfirmed, &shop, "o-1", "u1", 10_000),
    )
    .await?;
    assert_eq!(outcome, Applied);
    let m = membership(&h, &shop, "u1").await?;
    assert_eq!(m.state(), pb::MembershipState::Active);
    assert_eq!(m.join_channel(), pb::JoinChannel::Order);
    assert_eq!((totals(&m), m.points_balance), ((10_000, 1), 100));
    // The late PAID changes nothing that matters: no second join, no second count.
    h.clock.advance(chrono::Duration::minutes(5));
    let late = report(&h, order_event(&h, Paid, &shop, "o-1", "u1", 10_000)).await?;
    assert_ne!(late, Held);
    let after = membership(&h, &shop, "u1").await?;
    assert_eq!(after, m);
    let periods = count(
        &h,
        "SELECT count(*) FROM membership.membership_periods WHERE shop_id = $1::uuid",
        &shop,
    )
    .await?;
    assert_eq!(periods, 1);
    let joined = count(
        &h,
        "SELECT count(*) FROM membership.outbox WHERE shop_id = $1::uuid AND event_type = 'MEMBER_JOINED'",
        &shop,
    )
    .await?;
    assert_eq!(joined, 1);
    Ok(())
}

#[tokio::test]
async fn or1_a_refund_before_its_confirmation_is_held_then_applied_with_it() -> TestResult {
    let mut h = start().await?;
    let shop = order_shop(&mut h, pb::JoinPolicy::Order, 1).await?;
    report(&h, order_event(&h, Paid, &shop, "o-1", "u1", 10_000)).await?;
    let refund = refund_event(&h, &shop, "o-1", "u1", 2_000, "r-1");
    assert_eq!(report(&h, refund.clone()).await?, Held);
    assert_eq!(report(&h, refund).await?, Duplicate);
    assert_eq!(totals(&membership(&h, &shop, "u1").await?), (0, 0));
    let outcome = report(
        &h,
        order_event(&h, ReceiptConfirmed, &shop, "o-1", "u1", 10_000),
    )
    .await?;
    assert_eq!(outcome, Applied);
    let m = membership(&h, &shop, "u1").await?;
    assert_eq!(totals(&m), (8_000, 1));
    // 100 points earned, 20 reversed for the refunded fifth.
    assert_eq!(m.points_balance, 80);
    Ok(assert_ledger_balanced(&h).await?)
}

#[tokio::test]
async fn or3_an_order_fully_refunded_before_its_confirmation_never_counts() -> TestResult {
    let mut h = start().await?;
    let shop = order_shop(&mut h, pb::JoinPolicy::Order, 1).await?;
    paid_and_confirmed(&h, &shop, "u1", "o-0", 1_000).await?;
    report(&h, order_event(&h, Paid, &shop, "o-1", "u1", 10_000)).await?;
    let refund = refund_event(&h, &shop, "o-1", "u1", 10_000, "r-all");
    assert_eq!(report(&h, refund).await?, Held);
    report(
        &h,
        order_event(&h, ReceiptConfirmed, &shop, "o-1", "u1", 10_000),
    )
    .await?;
    let m = membership(&h, &shop, "u1").await?;
    assert_eq!((totals(&m), m.points_balance), ((1_000, 1), 10));
    Ok(assert_ledger_balanced(&h).await?)
}

#[tokio::test]
async fn or1_a_refund_and_its_confirmation_in_one_batch_apply_together_in_any_order() -> TestResult
{
    let mut h = start().await?;
    let shop = order_shop(&mut h, pb::JoinPolicy::Order, 1).await?;
    let outcomes = report_batch(
        &h,
        vec![
            refund_event(&h, &shop, "o-1", "u1", 2_500, "r-1"),
            order_event(&h, ReceiptConfirmed, &shop, "o-1", "u1", 10_000),
            refund_event(&h, &shop, "o-1", "u1", 2_500, "r-2"),
            order_event(&h, Paid, &shop, "o-1", "u1", 10_000),
        ],
    )
    .await?;
    assert!(!outcomes.contains(&Duplicate), "{outcomes:?}");
    let m = membership(&h, &shop, "u1").await?;
    assert_eq!((totals(&m), m.points_balance), ((5_000, 1), 50));
    Ok(assert_ledger_balanced(&h).await?)
}

// ------------------------------------------------------------------------------ OR-2

#[tokio::test]
async fn or2_a_first_paid_order_makes_a_member_under_order_and_order_or_card() -> TestResult {
    let mut h = start().await?;
    for policy in [pb::JoinPolicy::Order, pb::JoinPolicy::OrderOrCard] {
        let shop = order_shop(&mut h, policy, 1).await?;
        report(&h, order_event(&h, Paid, &shop, "o-1", "u1", 10_000)).await?;
        let m = membership(&h, &shop, "u1").await?;
        assert_eq!(m.state(), pb::MembershipState::Active, "{policy:?}");
        assert_eq!(m.join_channel(), pb::JoinChannel::Order);
        assert_eq!(m.level, 1);
        assert_eq!(time_of(m.join_time.as_ref())?, t0());
        assert_eq!(m.card_open_time, None);
        assert_eq!(totals(&m), (0, 0), "not confirmed yet (OR-3)");
        assert_eq!(m.points_balance, 0, "points come at confirmation (OR-4)");
    }
    Ok(())
}

#[tokio::test]
async fn or2_a_paid_order_alone_makes_no_member_under_card_or_order_and_card() -> TestResult {
    let mut h = start().await?;
    for policy in [pb::JoinPolicy::Card, pb::JoinPolicy::OrderAndCard] {
        let shop = order_shop(&mut h, policy, 1).await?;
        paid_and_confirmed(&h, &shop, "u1", "o-1", 10_000).await?;
        let status = refused(membership(&h, &shop, "u1").await)?;
        assert_code(&status, Code::NotFound);
    }
    Ok(())
}

// ------------------------------------------------------------------------------ OR-3

#[tokio::test]
async fn or3_only_receipt_confirmed_orders_count_toward_spend_and_order_count() -> TestResult {
    let mut h = start().await?;
    let shop = order_shop(&mut h, pb::JoinPolicy::Order, 1).await?;
    for (order, amount) in [("o-1", 10_000), ("o-2", 20_000), ("o-3", 40_000)] {
        report(&h, order_event(&h, Paid, &shop, order, "u1", amount)).await?;
    }
    assert_eq!(totals(&membership(&h, &shop, "u1").await?), (0, 0));
    for (order, amount) in [("o-1", 10_000), ("o-3", 40_000)] {
        report(
            &h,
            order_event(&h, ReceiptConfirmed, &shop, order, "u1", amount),
        )
        .await?;
    }
    assert_eq!(totals(&membership(&h, &shop, "u1").await?), (50_000, 2));
    Ok(())
}

#[tokio::test]
async fn or3_partial_refunds_reduce_spend_and_keep_the_order_counted() -> TestResult {
    let mut h = start().await?;
    let shop = order_shop(&mut h, pb::JoinPolicy::Order, 1).await?;
    paid_and_confirmed(&h, &shop, "u1", "o-1", 10_000).await?;
    paid_and_confirmed(&h, &shop, "u1", "o-2", 6_000).await?;
    report(&h, refund_event(&h, &shop, "o-1", "u1", 3_000, "r-1")).await?;
    report(&h, refund_event(&h, &shop, "o-1", "u1", 2_000, "r-2")).await?;
    assert_eq!(totals(&membership(&h, &shop, "u1").await?), (11_000, 2));
    Ok(())
}

#[tokio::test]
async fn or3_a_full_refund_removes_the_order_from_the_count() -> TestResult {
    let mut h = start().await?;
    let shop = order_shop(&mut h, pb::JoinPolicy::Order, 1).await?;
    paid_and_confirmed(&h, &shop, "u1", "o-1", 10_000).await?;
    paid_and_confirmed(&h, &shop, "u1", "o-2", 6_000).await?;
    // o-2 in one refund.
    report(&h, refund_event(&h, &shop, "o-2", "u1", 6_000, "r-all")).await?;
    assert_eq!(totals(&membership(&h, &shop, "u1").await?), (10_000, 1));
    // o-1 in two partial refunds that add up to everything.
    report(&h, refund_event(&h, &shop, "o-1", "u1", 4_000, "r-1")).await?;
    assert_eq!(totals(&membership(&h, &shop, "u1").await?), (6_000, 1));
    report(&h, refund_event(&h, &shop, "o-1", "u1", 6_000, "r-2")).await?;
    let m = membership(&h, &shop, "u1").await?;
    assert_eq!(totals(&m), (0, 0));
    assert_eq!(m.points_balance, 0);
    Ok(assert_ledger_balanced(&h).await?)
}

#[tokio::test]
async fn or3_a_refund_beyond_the_order_amount_takes_back_no_more_than_the_order() -> TestResult {
    let mut h = start().await?;
    let shop = order_shop(&mut h, pb::JoinPolicy::Order, 1).await?;
    paid_and_confirmed(&h, &shop, "u1", "o-1", 10_000).await?;
    paid_and_confirmed(&h, &shop, "u1", "o-2", 5_000).await?;
    report(&h, refund_event(&h, &shop, "o-1", "u1", 15_000, "r-1")).await?;
    report(&h, refund_event(&h, &shop, "o-1", "u1", 1_000, "r-2")).await?;
    let m = membership(&h, &shop, "u1").await?;
    assert_eq!(totals(&m), (5_000, 1), "o-2 is untouched");
    assert_eq!(m.points_balance, 50);
    Ok(assert_ledger_balanced(&h).await?)
}

#[tokio::test]
async fn lv5_order_events_move_a_members_level_up_and_refunds_move_it_down() -> TestResult {
    let mut h = start().await?;
    let shop = order_shop(&mut h, pb::JoinPolicy::Order, 1).await?;
    set_ladder(
        &h,
        &shop,
        vec![
            level_one(),
            rung(2, "", Some(10_000), None, pb::ConditionOperator::And),
            rung(3, "", Some(30_000), Some(3), pb::ConditionOperator::And),
        ],
    )
    .await?;
    paid_and_confirmed(&h, &shop, "u1", "o-1", 12_000).await?;
    assert_eq!(membership(&h, &shop, "u1").await?.level, 2);
    paid_and_confirmed(&h, &shop, "u1", "o-2", 12_000).await?;
    paid_and_confirmed(&h, &shop, "u1", "o-3", 12_000).await?;
    assert_eq!(membership(&h, &shop, "u1").await?.level, 3);
    report(&h, refund_event(&h, &shop, "o-3", "u1", 12_000, "r-1")).await?;
    assert_eq!(membership(&h, &shop, "u1").await?.level, 2);
    report(&h, refund_event(&h, &shop, "o-2", "u1", 12_000, "r-1")).await?;
    report(&h, refund_event(&h, &shop, "o-1", "u1", 3_000, "r-1")).await?;
    assert_eq!(membership(&h, &shop, "u1").await?.level, 1);
    Ok(())
}

// ------------------------------------------------------------------------------ OR-4

#[tokio::test]
async fn or4_points_are_earned_at_confirmation_by_rate_and_level_multiplier() -> TestResult {
    let mut h = start().await?;
    let shop = order_shop(&mut h, pb::JoinPolicy::Order, 3).await?;
    set_benefits(
        &h,
        &shop,
        1,
        pb::LevelBenefits {
            points_multiplier_percent: 150,
            ..Default::default()
        },
    )
    .await?;
    report(&h, order_event(&h, Paid, &shop, "o-1", "u1", 12_345)).await?;
    assert_eq!(points(&h, &shop, "u1").await?, 0, "nothing at payment");
    report(
        &h,
        order_event(&h, ReceiptConfirmed, &shop, "o-1", "u1", 12_345),
    )
    .await?;
    // floor(123.45 yuan × 3 × 1.5) = floor(555.525).
    assert_eq!(points(&h, &shop, "u1").await?, 555);
    let history = h
        .client
        .list_ledger_entries(req(
            &shopper("u1"),
            pb::ListLedgerEntriesRequest {
                shop_id: shop.clone(),
                user_id: "u1".into(),
                ..Default::default()
            },
        ))
        .await?
        .into_inner();
    assert_eq!(history.entries.len(), 1);
    assert_eq!(
        (history.entries[0].delta, history.entries[0].balance_after),
        (555, 555)
    );
    Ok(assert_ledger_balanced(&h).await?)
}

#[tokio::test]
async fn or4_points_use_the_level_held_before_the_order_counts() -> TestResult {
    let mut h = start().await?;
    let shop = order_shop(&mut h, pb::JoinPolicy::Order, 1).await?;
    set_ladder(
        &h,
        &shop,
        vec![
            level_one(),
            rung(2, "", Some(10_000), None, pb::ConditionOperator::And),
        ],
    )
    .await?;
    set_benefits(
        &h,
        &shop,
        2,
        pb::LevelBenefits {
            points_multiplier_percent: 200,
            ..Default::default()
        },
    )
    .await?;
    // The first order lifts the member to level 2 but is earned at level 1 (1x).
    paid_and_confirmed(&h, &shop, "u1", "o-1", 10_000).await?;
    let m = membership(&h, &shop, "u1").await?;
    assert_eq!((m.level, m.points_balance), (2, 100));
    // The second is earned at level 2 (2x).
    paid_and_confirmed(&h, &shop, "u1", "o-2", 10_000).await?;
    assert_eq!(points(&h, &shop, "u1").await?, 300);
    Ok(())
}

#[tokio::test]
async fn or4_a_partial_refund_reverses_points_proportionally() -> TestResult {
    let mut h = start().await?;
    let shop = order_shop(&mut h, pb::JoinPolicy::Order, 2).await?;
    paid_and_confirmed(&h, &shop, "u1", "o-1", 12_345).await?;
    // floor(123.45 × 2) = 246.
    assert_eq!(points(&h, &shop, "u1").await?, 246);
    report(&h, refund_event(&h, &shop, "o-1", "u1", 2_345, "r-1")).await?;
    // 2345/12345 of 246 = 46.7 -> 46 reversed.
    assert_eq!(points(&h, &shop, "u1").await?, 200);
    report(&h, refund_event(&h, &shop, "o-1", "u1", 10_000, "r-2")).await?;
    assert_eq!(
        points(&h, &shop, "u1").await?,
        0,
        "a full refund takes all back"
    );
    Ok(assert_ledger_balanced(&h).await?)
}

#[tokio::test]
async fn or4_many_small_refunds_reverse_the_cumulative_proportional_share() -> TestResult {
    let mut h = start().await?;
    let shop = order_shop(&mut h, pb::JoinPolicy::Order, 1).await?;
    paid_and_confirmed(&h, &shop, "u1", "o-1", 9_900).await?;
    assert_eq!(points(&h, &shop, "u1").await?, 99);
    // Ten refunds of 1% each: 10% of the order is refunded.
    for i in 0..10 {
        report(
            &h,
            refund_event(&h, &shop, "o-1", "u1", 99, &format!("r-{i}")),
        )
        .await?;
        let refunded = 99 * (i + 1);
        // Cumulative floor: floor(99 × refunded / 9900) reversed so far.
        let reversed = 99 * refunded / 9_900;
        assert_eq!(
            points(&h, &shop, "u1").await?,
            99 - reversed,
            "after refunding {refunded} of 9900 fen"
        );
    }
    Ok(assert_ledger_balanced(&h).await?)
}

#[tokio::test]
async fn or4_a_reversal_never_makes_a_balance_negative_and_records_the_shortfall() -> TestResult {
    let mut h = start().await?;
    let shop = order_shop(&mut h, pb::JoinPolicy::Order, 1).await?;
    paid_and_confirmed(&h, &shop, "u1", "o-1", 10_000).await?;
    spend_points(&h, &shop, "u1", 80).await?;
    assert_eq!(points(&h, &shop, "u1").await?, 20);
    report(&h, refund_event(&h, &shop, "o-1", "u1", 10_000, "r-all")).await?;
    assert_eq!(points(&h, &shop, "u1").await?, 0);
    assert_eq!(
        transfers_like(&h, &shop, "refund").await?,
        [(20, 80)],
        "20 taken back, 80 short"
    );
    Ok(assert_ledger_balanced(&h).await?)
}

#[tokio::test]
async fn or4_a_reversal_with_nothing_left_records_the_whole_shortfall() -> TestResult {
    let mut h = start().await?;
    let shop = order_shop(&mut h, pb::JoinPolicy::Order, 1).await?;
    paid_and_confirmed(&h, &shop, "u1", "o-1", 10_000).await?;
    spend_points(&h, &shop, "u1", 100).await?;
    report(&h, refund_event(&h, &shop, "o-1", "u1", 4_000, "r-1")).await?;
    report(&h, refund_event(&h, &shop, "o-1", "u1", 6_000, "r-2")).await?;
    assert_eq!(points(&h, &shop, "u1").await?, 0);
    let reversals = transfers_like(&h, &shop, "refund").await?;
    assert_eq!(
        reversals.iter().map(|r| r.0).sum::<i64>(),
        0,
        "{reversals:?}"
    );
    assert_eq!(
        reversals.iter().map(|r| r.1).sum::<i64>(),
        100,
        "{reversals:?}"
    );
    // Points earned later are not clawed back for the old shortfall.
    paid_and_confirmed(&h, &shop, "u1", "o-2", 3_000).await?;
    assert_eq!(points(&h, &shop, "u1").await?, 30);
    Ok(assert_ledger_balanced(&h).await?)
}

#[tokio::test]
async fn or4_points_rate_outside_0_to_100_is_invalid_on_points_per_yuan() -> TestResult {
    let mut h = start().await?;
    let shop = order_shop(&mut h, pb::JoinPolicy::Order, 1).await?;
    assert_eq!(program(&mut h, &shop).await?.points_per_yuan, 1);
    for rate in [-1, 101] {
        let status = refused(update_settings(&h, &shop, Some(rate), None, None).await)?;
        assert_invalid(&status, "points_per_yuan");
    }
    let saved = update_settings(&h, &shop, Some(5), None, None).await?;
    assert_eq!(saved.program.unwrap_or_default().points_per_yuan, 5);
    paid_and_confirmed(&h, &shop, "u1", "o-1", 1_999).await?;
    // floor(19.99 × 5).
    assert_eq!(points(&h, &shop, "u1").await?, 99);
    Ok(())
}

// ------------------------------------------------------------------------------

#[tokio::test]
async fn x3_order_amounts_that_overflow_the_totals_are_refused_not_internal() -> TestResult {
    let mut h = start().await?;
    let shop = order_shop(&mut h, pb::JoinPolicy::Order, 1).await?;
    let huge = i64::MAX / 2 + 1;
    let first = report_batch(
        &h,
        vec![
            order_event(&h, Paid, &shop, "o-1", "u1", huge),
            order_event(&h, ReceiptConfirmed, &shop, "o-1", "u1", huge),
        ],
    )
    .await;
    let second = report_batch(
        &h,
        vec![
            order_event(&h, Paid, &shop, "o-2", "u1", huge),
            order_event(&h, ReceiptConfirmed, &shop, "o-2", "u1", huge),
        ],
    )
    .await;
    for result in [first, second] {
        if let Err(status) = result {
            // A crashed handler shows as CANCELLED ("h2 protocol error"), not as an answer.
            assert!(
                matches!(
                    status.code(),
                    Code::InvalidArgument | Code::OutOfRange | Code::FailedPrecondition
                ),
                "{status:?}"
            );
        }
    }
    // Amounts beyond 10 billion yuan are refused at the edge, so no member may exist; if
    // one does, its totals must not have wrapped.
    if let Ok(m) = membership(&h, &shop, "u1").await {
        assert!(
            m.total_spend_fen >= 0 && m.points_balance >= 0,
            "totals wrapped: {m:?}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn x3_an_occur_time_out_of_the_databases_range_is_invalid_not_internal() -> TestResult {
    let mut h = start().await?;
    let shop = order_shop(&mut h, pb::JoinPolicy::Order, 1).await?;
    let mut event = order_event(&h, Paid, &shop, "o-1", "u1", 100);
    event.occur_time = Some(prost_types::Timestamp {
        seconds: -220_000_000_000,
        nanos: 0,
    });
    let status = refused(report(&h, event).await)?;
    assert_not_internal(&status);
    assert_invalid(&status, "event.occur_time");
    Ok(())
}

#[tokio::test]
async fn or1_bad_order_lines_are_invalid_naming_the_line_and_field() -> TestResult {
    let mut h = start().await?;
    let shop = order_shop(&mut h, pb::JoinPolicy::Order, 1).await?;
    let base = order_event(&h, Paid, &shop, "o-1", "u1", 10_000);
    let cases: Vec<(Change, &str)> = vec![
        (
            Box::new(|e| e.lines[0].quantity = -1),
            "event.lines[0].quantity",
        ),
        (
            Box::new(|e| e.lines[0].quantity = 0),
            "event.lines[0].quantity",
        ),
        (
            Box::new(|e| e.lines[0].unit_price_fen = -1),
            "event.lines[0].unit_price_fen",
        ),
        (
            Box::new(|e| e.lines[0].sku = "sku\0".into()),
            "event.lines[0].sku",
        ),
        (
            Box::new(|e| e.lines[0].sku = String::new()),
            "event.lines[0].sku",
        ),
        (
            Box::new(|e| e.lines[0].sku = "s".repeat(65)),
            "event.lines[0].sku",
        ),
        (
            Box::new(|e| e.lines[0].category = "tea\u{7}".into()),
            "event.lines[0].category",
        ),
        (
            Box::new(|e| {
                let line = e.lines[0].clone();
                e.lines = vec![line; 501];
            }),
            "event.lines",
        ),
        (
            Box::new(|e| {
                e.r#type = Refunded.into();
                e.refund_id = "r\u{0}1".into();
            }),
            "event.refund_id",
        ),
    ];
    for (change, field) in cases {
        let mut event = base.clone();
        change(&mut event);
        let status = refused(report(&h, event).await)?;
        assert_invalid(&status, field);
    }
    // In a batch the path names the event too.
    let mut bad = order_event(&h, Paid, &shop, "o-2", "u1", 10_000);
    bad.lines[0].quantity = -3;
    let status = refused(report_batch(&h, vec![base.clone(), bad]).await)?;
    assert_invalid(&status, "events[1].lines[0].quantity");
    assert_eq!(report(&h, base).await?, Applied, "nothing was recorded");
    Ok(())
}
