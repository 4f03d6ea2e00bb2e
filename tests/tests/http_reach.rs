//! Capabilities reached over HTTP by the role that needs them: the order system locks,
//! redeems and releases coupons (CP-6) and reports add-to-cart events (OR-1); a merchant reads a member's ledger (PT-4) and hands a
//! coupon to a member (CP-3); a shopper lists their own claims; operators list, search and
//! update shops, read any shop's program, levels and members, run points expiry and read
//! parked events. Tenancy on each.

mod support;

use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use memberhub_kit::testing::TestResult;
use reqwest::Method;
use serde_json::{Value, json};
use support::{World, start};

fn key() -> String {
    uuid::Uuid::now_v7().to_string()
}

fn ok(what: &str, (status, body): (u16, Value)) -> anyhow::Result<Value> {
    anyhow::ensure!(status == 200, "{what}: {status} {body}");
    Ok(body)
}

fn text(value: &Value, field: &str) -> anyhow::Result<String> {
    value[field]
        .as_str()
        .map(str::to_string)
        .with_context(|| format!("no {field} in {value}"))
}

/// Creates and publishes a THRESHOLD batch (10 yuan off 50) of `channel` in `shop`; returns
/// the batch as the back-office shows it.
async fn live_batch(w: &World, shop: &str, channel: &str) -> anyhow::Result<Value> {
    let merchant = w.merchant(shop)?;
    let now = Utc::now();
    let body = json!({
        "internal_name": format!("{channel} batch"),
        "kind": "THRESHOLD",
        "face_value_fen": 1000,
        "threshold_fen": 5000,
        "channel": channel,
        "total_quantity": 100,
        "per_user_limit": 0,
        "per_issue_count": 1,
        "claim_start_time": (now - chrono::Duration::hours(1)).to_rfc3339(),
        "claim_end_time": (now + chrono::Duration::days(30)).to_rfc3339(),
        "validity": {"kind": "RELATIVE", "relative_days": 7},
    });
    let batch = ok(
        "create batch",
        w.shop_call(
            "backoffice",
            shop,
            &merchant,
            Method::POST,
            "/coupon-batches",
            Some(body),
        )
        .await?,
    )?;
    let id = text(&batch, "batch_id")?;
    let live = ok(
        "submit batch",
        w.shop_call(
            "backoffice",
            shop,
            &merchant,
            Method::POST,
            &format!("/coupon-batches/{id}/submit"),
            None,
        )
        .await?,
    )?;
    anyhow::ensure!(live["status"] == "ACTIVE", "{live}");
    Ok(live)
}

/// One paid and received order of `order_id` for `user_id`, now.
async fn order(
    w: &World,
    shop: &str,
    user_id: &str,
    order_id: &str,
    amount_fen: i64,
) -> anyhow::Result<()> {
    w.paid_and_received(shop, user_id, order_id, amount_fen, Utc::now())
        .await
}

fn cart(shop: &str, user_id: &str, coupon_id: &str) -> Value {
    json!({
        "user_id": user_id,
        "shop_id": shop,
        "lines": [{"sku": "tea-1", "category": "tea", "quantity": 1, "unit_price_fen": 8000}],
        "coupon_ids": [coupon_id],
    })
}

#[tokio::test]
async fn or1_the_order_system_reports_add_to_cart_events_once_each_and_only_it_may() -> TestResult {
    let w = start().await?;
    let shop = w.register_shop("Cart Tea", "POP").await?;
    let order_system = w.service("order-system")?;
    let event = |id: &str, user: &str| {
        json!({"event_id": id, "shop_id": shop, "user_id": user, "sku": "oolong-250g",
               "category": "tea", "quantity": 2, "occur_time": Utc::now().to_rfc3339()})
    };
    let path = "/api/internal/v1/cart-events/batch";
    let batch = json!({"events": [event("c-1", "u1"), event("c-2", "guest"), event("c-1", "u1")]});
    let reported = ok(
        "report cart events",
        w.call(
            Method::POST,
            path,
            Some(&order_system),
            Some(&key()),
            Some(batch),
        )
        .await?,
    )?;
    assert_eq!(
        reported["outcomes"],
        json!(["APPLIED", "APPLIED", "DUPLICATE"]),
        "{reported}"
    );
    let again = json!({"events": [event("c-2", "guest"), event("c-3", "u1")]});
    let reported = ok(
        "report again",
        w.call(
            Method::POST,
            path,
            Some(&order_system),
            Some(&key()),
            Some(again),
        )
        .await?,
    )?;
    assert_eq!(reported["outcomes"], json!(["DUPLICATE", "APPLIED"]));

    let mut bad = event("c-4", "u1");
    bad["quantity"] = json!(0);
    let (status, error) = w
        .call(
            Method::POST,
            path,
            Some(&order_system),
            Some(&key()),
            Some(json!({"events": [bad]})),
        )
        .await?;
    assert_eq!(status, 400, "{error}");
    assert!(error.to_string().contains("events[0].quantity"), "{error}");

    for token in [
        w.merchant(&shop)?,
        w.shopper("u1")?,
        w.operator()?,
        w.service("campaign-svc")?,
    ] {
        let (status, _) = w
            .call(
                Method::POST,
                path,
                Some(&token),
                Some(&key()),
                Some(json!({"events": [event("c-5", "u1")]})),
            )
            .await?;
        assert_eq!(status, 403, "only the order system reports cart events");
    }
    Ok(())
}

#[tokio::test]
async fn cp6_http_lock_race_one_order_wins_replays_and_only_the_order_system_may() -> TestResult {
    let w = start().await?;
    let shop = w.register_shop("Lock Tea", "POP").await?;
    let batch = live_batch(&w, &shop, "GENERAL").await?;
    let batch_id = text(&batch, "batch_id")?;
    let shopper = w.shopper("u-lock")?;
    let claimed = ok(
        "claim",
        w.shop_call(
            "storefront",
            &shop,
            &shopper,
            Method::POST,
            &format!("/coupon-batches/{batch_id}/claim"),
            None,
        )
        .await?,
    )?;
    let coupon_id = text(&claimed["coupons"][0], "coupon_id")?;
    let order_system = w.service("order-system")?;
    let lock = |order_id: &str| format!("/api/internal/v1/orders/{order_id}/coupons/lock");

    // CP-6: two orders lock the one coupon at once; exactly one wins.
    let (key_a, key_b) = (key(), key());
    let body = cart(&shop, "u-lock", &coupon_id);
    let (lock_a, lock_b) = (lock("order-a"), lock("order-b"));
    let (a, b) = tokio::join!(
        w.call(
            Method::POST,
            &lock_a,
            Some(&order_system),
            Some(&key_a),
            Some(body.clone()),
        ),
        w.call(
            Method::POST,
            &lock_b,
            Some(&order_system),
            Some(&key_b),
            Some(body.clone()),
        ),
    );
    let (a, b) = (a?, b?);
    let (winner, winner_key, loser, loser_key, loser_body) = match (a.0, b.0) {
        (200, 400) => ("order-a", &key_a, "order-b", &key_b, b.1.clone()),
        (400, 200) => ("order-b", &key_b, "order-a", &key_a, a.1.clone()),
        _ => panic!("one order must win the coupon: {a:?} {b:?}"),
    };
    assert_eq!(loser_body["code"], "FAILED_PRECONDITION", "{loser_body}");
    let won = if winner == "order-a" { &a.1 } else { &b.1 };
    assert_eq!(won["coupons"][0]["state"], "LOCKED", "{won}");
    assert_eq!(won["coupons"][0]["order_id"], winner, "{won}");
    assert_eq!(won["evaluations"][0]["discount_fen"], 1000, "{won}");

    // the winner's retry gets the stored answer; the loser's retry is refused again
    // (a refused mutation stores no answer) and the coupon stays with the winner.
    let replay = w
        .call(
            Method::POST,
            &lock(winner),
            Some(&order_system),
            Some(winner_key),
            Some(body.clone()),
        )
        .await?;
    assert_eq!(&replay, &(200, won.clone()));
    let again = w
        .call(
            Method::POST,
            &lock(loser),
            Some(&order_system),
            Some(loser_key),
            Some(body.clone()),
        )
        .await?;
    assert_eq!(again.0, 400, "{again:?}");

    // People and other services may not lock, redeem or release.
    let other_service = w.service("campaign-svc")?;
    let merchant = w.merchant(&shop)?;
    for token in [&shopper, &merchant, &w.operator()?, &other_service] {
        let (status, error) = w
            .call(
                Method::POST,
                &lock("order-c"),
                Some(token),
                Some(&key()),
                Some(body.clone()),
            )
            .await?;
        assert_eq!(
            (status, error["code"].clone()),
            (403, json!("PERMISSION_DENIED")),
            "{error}"
        );
        let (status, _) = w
            .call(
                Method::POST,
                &format!("/api/internal/v1/orders/{winner}/coupons/redeem"),
                Some(token),
                Some(&key()),
                Some(json!({"user_id": "u-lock"})),
            )
            .await?;
        assert_eq!(status, 403);
    }

    // The winner pays: USED, once; the replay answers the same.
    let redeem = format!("/api/internal/v1/orders/{winner}/coupons/redeem");
    let redeem_key = key();
    let used = ok(
        "redeem",
        w.call(
            Method::POST,
            &redeem,
            Some(&order_system),
            Some(&redeem_key),
            Some(json!({"user_id": "u-lock"})),
        )
        .await?,
    )?;
    assert_eq!(used["coupons"][0]["state"], "USED", "{used}");
    assert_eq!(used["coupons"][0]["coupon_id"], json!(coupon_id), "{used}");
    let replay = w
        .call(
            Method::POST,
            &redeem,
            Some(&order_system),
            Some(&redeem_key),
            Some(json!({"user_id": "u-lock"})),
        )
        .await?;
    assert_eq!(replay, (200, used.clone()));
    // A paid order's coupons are not given back by a later cancellation.
    let (status, refused) = w
        .call(
            Method::POST,
            &format!("/api/internal/v1/orders/{winner}/coupons/release"),
            Some(&order_system),
            Some(&key()),
            Some(json!({"user_id": "u-lock"})),
        )
        .await?;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(refused["reason"], "ORDER_ALREADY_PAID", "{refused}");
    Ok(())
}

#[tokio::test]
async fn cp6_http_release_gives_a_cancelled_orders_coupon_back() -> TestResult {
    let w = start().await?;
    let shop = w.register_shop("Release Tea", "POP").await?;
    let batch_id = text(&live_batch(&w, &shop, "GENERAL").await?, "batch_id")?;
    let shopper = w.shopper("u-rel")?;
    let claimed = ok(
        "claim",
        w.shop_call(
            "storefront",
            &shop,
            &shopper,
            Method::POST,
            &format!("/coupon-batches/{batch_id}/claim"),
            None,
        )
        .await?,
    )?;
    let coupon_id = text(&claimed["coupons"][0], "coupon_id")?;
    let order_system = w.service("order-system")?;
    ok(
        "lock",
        w.call(
            Method::POST,
            "/api/internal/v1/orders/o-cancel/coupons/lock",
            Some(&order_system),
            Some(&key()),
            Some(cart(&shop, "u-rel", &coupon_id)),
        )
        .await?,
    )?;
    let released = ok(
        "release",
        w.call(
            Method::POST,
            "/api/internal/v1/orders/o-cancel/coupons/release",
            Some(&order_system),
            Some(&key()),
            Some(json!({"user_id": "u-rel"})),
        )
        .await?,
    )?;
    assert_eq!(released["coupons"][0]["state"], "AVAILABLE", "{released}");
    // Another order may lock it now.
    ok(
        "lock again",
        w.call(
            Method::POST,
            "/api/internal/v1/orders/o-next/coupons/lock",
            Some(&order_system),
            Some(&key()),
            Some(cart(&shop, "u-rel", &coupon_id)),
        )
        .await?,
    )?;
    Ok(())
}

#[tokio::test]
async fn pt4_merchant_reads_a_members_ledger_paged_and_filtered_x1_404_for_another_shops_member()
-> TestResult {
    let w = start().await?;
    let shop_a = w.register_shop("Ledger A", "POP").await?;
    let shop_b = w.register_shop("Ledger B", "POP").await?;
    let merchant_a = w.merchant(&shop_a)?;
    ok(
        "points rate",
        w.shop_call(
            "backoffice",
            &shop_a,
            &merchant_a,
            Method::PATCH,
            "/program/settings",
            Some(json!({"points_per_yuan": 1})),
        )
        .await?,
    )?;
    order(&w, &shop_a, "u-a", "o-1", 10_000).await?;
    order(&w, &shop_a, "u-a", "o-2", 20_000).await?;
    order(&w, &shop_b, "u-b", "o-3", 10_000).await?;

    let ledger = |shop: &str, user: &str, query: &str| {
        format!("/api/backoffice/v1/shops/{shop}/members/{user}/ledger{query}")
    };
    let first = ok(
        "first page",
        w.call(
            Method::GET,
            &ledger(&shop_a, "u-a", "?asset=POINTS&page_size=1"),
            Some(&merchant_a),
            None,
            None,
        )
        .await?,
    )?;
    assert_eq!(
        first["entries"].as_array().map(Vec::len),
        Some(1),
        "{first}"
    );
    assert_eq!(first["entries"][0]["delta"], 200, "newest first: {first}");
    assert_eq!(first["entries"][0]["balance_after"], 300, "{first}");
    let token = text(&first, "next_page_token")?;
    assert!(!token.is_empty(), "{first}");
    let second = ok(
        "second page",
        w.call(
            Method::GET,
            &ledger(
                &shop_a,
                "u-a",
                &format!("?asset=POINTS&page_size=1&page_token={token}"),
            ),
            Some(&merchant_a),
            None,
            None,
        )
        .await?,
    )?;
    assert_eq!(second["entries"][0]["delta"], 100, "{second}");
    assert_eq!(second["next_page_token"], "", "{second}");
    let beans = ok(
        "beans",
        w.call(
            Method::GET,
            &ledger(&shop_a, "u-a", "?asset=BEANS"),
            Some(&merchant_a),
            None,
            None,
        )
        .await?,
    )?;
    assert_eq!(beans["entries"], json!([]), "{beans}");
    let (status, error) = w
        .call(
            Method::GET,
            &ledger(&shop_a, "u-a", "?asset=GOLD"),
            Some(&merchant_a),
            None,
            None,
        )
        .await?;
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["field_violations"][0]["field"], "asset", "{error}");

    // shop B's member named under shop A is 404, like a user nobody knows.
    let (status, b_member) = w
        .call(
            Method::GET,
            &ledger(&shop_a, "u-b", ""),
            Some(&merchant_a),
            None,
            None,
        )
        .await?;
    let (unknown_status, unknown) = w
        .call(
            Method::GET,
            &ledger(&shop_a, "u-nobody", ""),
            Some(&merchant_a),
            None,
            None,
        )
        .await?;
    assert_eq!((status, unknown_status), (404, 404), "{b_member} {unknown}");
    assert_eq!(b_member["message"], unknown["message"]);
    // Shop B's path is refused as any other shop's is, existing or not.
    let (status, on_b) = w
        .call(
            Method::GET,
            &ledger(&shop_b, "u-b", ""),
            Some(&merchant_a),
            None,
            None,
        )
        .await?;
    assert_eq!(status, 403, "{on_b}");
    let (status, _) = w
        .call(
            Method::GET,
            &ledger(&uuid::Uuid::now_v7().to_string(), "u-b", ""),
            Some(&merchant_a),
            None,
            None,
        )
        .await?;
    assert_eq!(status, 403);
    // A shopper reads their own ledger on the storefront, not here.
    let (status, _) = w
        .call(
            Method::GET,
            &ledger(&shop_a, "u-a", ""),
            Some(&w.shopper("u-a")?),
            None,
            None,
        )
        .await?;
    assert_eq!(status, 403);
    Ok(())
}

#[tokio::test]
async fn cp3_merchant_hands_a_crm_coupon_to_a_member_once_per_key_x1_404_across_shops() -> TestResult
{
    let w = start().await?;
    let shop_a = w.register_shop("Issue A", "POP").await?;
    let shop_b = w.register_shop("Issue B", "POP").await?;
    let merchant_a = w.merchant(&shop_a)?;
    let merchant_b = w.merchant(&shop_b)?;
    order(&w, &shop_a, "u-a", "o-1", 10_000).await?;
    order(&w, &shop_b, "u-b", "o-2", 10_000).await?;
    let crm_a = text(&live_batch(&w, &shop_a, "CRM").await?, "batch_id")?;
    let interactive_a = text(&live_batch(&w, &shop_a, "INTERACTIVE").await?, "batch_id")?;
    let issue = |shop: &str, batch: &str| {
        format!("/api/backoffice/v1/shops/{shop}/coupon-batches/{batch}/issue")
    };

    let issue_key = key();
    let issued = ok(
        "issue",
        w.call(
            Method::POST,
            &issue(&shop_a, &crm_a),
            Some(&merchant_a),
            Some(&issue_key),
            Some(json!({"user_id": "u-a"})),
        )
        .await?,
    )?;
    assert_eq!(
        issued["coupons"].as_array().map(Vec::len),
        Some(1),
        "{issued}"
    );
    assert_eq!(issued["coupons"][0]["state"], "AVAILABLE", "{issued}");
    let replay = w
        .call(
            Method::POST,
            &issue(&shop_a, &crm_a),
            Some(&merchant_a),
            Some(&issue_key),
            Some(json!({"user_id": "u-a"})),
        )
        .await?;
    assert_eq!(
        replay,
        (200, issued.clone()),
        "X-2: the same coupon, not a second"
    );
    let wallet = ok(
        "wallet",
        w.call(
            Method::GET,
            &format!("/api/storefront/v1/coupons?shop_id={shop_a}"),
            Some(&w.shopper("u-a")?),
            None,
            None,
        )
        .await?,
    )?;
    assert_eq!(
        wallet["coupons"].as_array().map(Vec::len),
        Some(1),
        "{wallet}"
    );

    // shop B's member under shop A, and shop A's batch under shop B: 404 like an
    // unknown user or batch.
    let (status, error) = w
        .call(
            Method::POST,
            &issue(&shop_a, &crm_a),
            Some(&merchant_a),
            Some(&key()),
            Some(json!({"user_id": "u-b"})),
        )
        .await?;
    assert_eq!(status, 404, "{error}");
    let (status, foreign) = w
        .call(
            Method::POST,
            &issue(&shop_b, &crm_a),
            Some(&merchant_b),
            Some(&key()),
            Some(json!({"user_id": "u-b"})),
        )
        .await?;
    let (unknown_status, unknown) = w
        .call(
            Method::POST,
            &issue(&shop_b, &uuid::Uuid::now_v7().to_string()),
            Some(&merchant_b),
            Some(&key()),
            Some(json!({"user_id": "u-b"})),
        )
        .await?;
    assert_eq!((status, unknown_status), (404, 404), "{foreign} {unknown}");
    assert!(!foreign.to_string().contains(&shop_a), "{foreign}");
    // A's merchant on B's path: refused like every other shop's path.
    let (status, _) = w
        .call(
            Method::POST,
            &issue(&shop_b, &crm_a),
            Some(&merchant_a),
            Some(&key()),
            Some(json!({"user_id": "u-b"})),
        )
        .await?;
    assert_eq!(status, 403);
    // Campaign-only channels are not handed out by hand.
    let (status, error) = w
        .call(
            Method::POST,
            &issue(&shop_a, &interactive_a),
            Some(&merchant_a),
            Some(&key()),
            Some(json!({"user_id": "u-a"})),
        )
        .await?;
    assert_eq!(status, 403, "{error}");
    // Shoppers do not issue.
    let (status, _) = w
        .call(
            Method::POST,
            &issue(&shop_a, &crm_a),
            Some(&w.shopper("u-a")?),
            Some(&key()),
            Some(json!({"user_id": "u-a"})),
        )
        .await?;
    assert_eq!(status, 403);
    // A member who quit is not handed coupons: a rule the merchant can read.
    ok(
        "quit",
        w.call(
            Method::POST,
            &format!("/api/storefront/v1/shops/{shop_a}/membership/quit"),
            Some(&w.shopper("u-a")?),
            Some(&key()),
            None,
        )
        .await?,
    )?;
    let (status, error) = w
        .call(
            Method::POST,
            &issue(&shop_a, &crm_a),
            Some(&merchant_a),
            Some(&key()),
            Some(json!({"user_id": "u-a"})),
        )
        .await?;
    assert_eq!(
        (status, error["reason"].clone()),
        (400, json!("NOT_A_MEMBER")),
        "{error}"
    );
    Ok(())
}

/// Polls `path` as `token` until `done` holds for the body (the saga grants in the
/// background).
async fn eventually(
    w: &World,
    path: &str,
    token: &str,
    done: impl Fn(&Value) -> bool,
) -> anyhow::Result<Value> {
    let mut last = Value::Null;
    for _ in 0..100 {
        last = ok(
            "poll",
            w.call(Method::GET, path, Some(token), None, None).await?,
        )?;
        if done(&last) {
            return Ok(last);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("{path} never settled: {last}")
}

#[tokio::test]
async fn gp9_shopper_lists_only_their_own_claims_paged() -> TestResult {
    let w = start().await?;
    let shop = w.register_shop("Claims Tea", "POP").await?;
    let merchant = w.merchant(&shop)?;
    ok(
        "join policy",
        w.shop_call(
            "backoffice",
            &shop,
            &merchant,
            Method::PUT,
            "/program/join-policy",
            Some(json!({"join_policy": "CARD"})),
        )
        .await?,
    )?;
    let pack_batch = text(&live_batch(&w, &shop, "CRM").await?, "batch_key")?;
    let exclusive_batch = text(&live_batch(&w, &shop, "CRM").await?, "batch_key")?;
    let now = Utc::now();
    let pack = ok(
        "create pack",
        w.shop_call(
            "backoffice",
            &shop,
            &merchant,
            Method::POST,
            "/gift-packs",
            Some(json!({
                "kind": "NEW_MEMBER",
                "name": "新人礼包",
                "start_time": (now - chrono::Duration::minutes(1)).to_rfc3339(),
                "end_time": (now + chrono::Duration::days(7)).to_rfc3339(),
                "batch_keys": [pack_batch],
                "quantity": 10,
            })),
        )
        .await?,
    )?;
    let pack_id = text(&pack, "pack_id")?;
    ok(
        "set exclusive",
        w.shop_call(
            "backoffice",
            &shop,
            &merchant,
            Method::PUT,
            "/new-member-exclusive",
            Some(json!({"batch_key": exclusive_batch})),
        )
        .await?,
    )?;
    let mut claim_ids = Vec::new();
    for user in ["u-own", "u-other"] {
        let shopper = w.shopper(user)?;
        ok(
            "open card",
            w.shop_call(
                "storefront",
                &shop,
                &shopper,
                Method::POST,
                "/card/open",
                Some(json!({"phone": "13800138000"})),
            )
            .await?,
        )?;
        let claim = ok(
            "claim pack",
            w.shop_call(
                "storefront",
                &shop,
                &shopper,
                Method::POST,
                &format!("/gift-packs/{pack_id}/claim"),
                None,
            )
            .await?,
        )?;
        claim_ids.push((user, text(&claim, "claim_id")?));
    }
    let own = w.shopper("u-own")?;
    let exclusive = ok(
        "claim exclusive",
        w.shop_call(
            "storefront",
            &shop,
            &own,
            Method::POST,
            "/new-member-exclusive/claim",
            Some(json!({"choice": "COUPON"})),
        )
        .await?,
    )?;
    let mine = format!("/api/storefront/v1/shops/{shop}/claims");
    let settled = eventually(&w, &format!("{mine}?state=GRANTED"), &own, |page| {
        page["claims"].as_array().map(Vec::len) == Some(2)
    })
    .await?;
    assert!(
        settled["claims"]
            .as_array()
            .into_iter()
            .flatten()
            .all(|c| c["user_id"] == "u-own"),
        "only the caller's claims: {settled}"
    );
    let first = ok(
        "page 1",
        w.call(
            Method::GET,
            &format!("{mine}?page_size=1"),
            Some(&own),
            None,
            None,
        )
        .await?,
    )?;
    assert_eq!(
        first["claims"][0]["claim_id"], exclusive["claim_id"],
        "newest first: {first}"
    );
    let token = text(&first, "next_page_token")?;
    let second = ok(
        "page 2",
        w.call(
            Method::GET,
            &format!("{mine}?page_size=1&page_token={token}"),
            Some(&own),
            None,
            None,
        )
        .await?,
    )?;
    let own_pack_claim = claim_ids
        .iter()
        .find(|(user, _)| *user == "u-own")
        .map(|(_, id)| id.clone());
    assert_eq!(
        second["claims"][0]["claim_id"].as_str().map(str::to_string),
        own_pack_claim,
        "{second}"
    );
    // campaign-svc hands a token whenever a page is full; the page after the last is empty.
    let token = text(&second, "next_page_token")?;
    if !token.is_empty() {
        let third = ok(
            "page 3",
            w.call(
                Method::GET,
                &format!("{mine}?page_size=1&page_token={token}"),
                Some(&own),
                None,
                None,
            )
            .await?,
        )?;
        assert_eq!(third["claims"], json!([]), "{third}");
    }
    let (status, error) = w
        .call(
            Method::GET,
            &format!("{mine}?state=DONE"),
            Some(&own),
            None,
            None,
        )
        .await?;
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["field_violations"][0]["field"], "state", "{error}");
    // Merchants list a shop's claims on the back-office, not here.
    let (status, _) = w
        .call(Method::GET, &mine, Some(&merchant), None, None)
        .await?;
    assert_eq!(status, 403);
    Ok(())
}

#[tokio::test]
async fn mp1_operator_searches_and_updates_shops_and_reads_any_shops_program_levels_members()
-> TestResult {
    let w = start().await?;
    let operator = w.operator()?;
    let green = w.register_shop("Green Tea HTTP", "POP").await?;
    let black = w.register_shop("Black Tea HTTP", "SELF_OPERATED").await?;
    let coffee = w.register_shop("Coffee HTTP", "POP").await?;
    let shops = "/api/platform/v1/shops";

    // Search by name, paged: newest first, the cursor carries on.
    let first = ok(
        "search page 1",
        w.call(
            Method::GET,
            &format!("{shops}?name=tea%20http&page_size=1"),
            Some(&operator),
            None,
            None,
        )
        .await?,
    )?;
    assert_eq!(first["shops"][0]["shop_id"], json!(black), "{first}");
    let token = text(&first, "next_page_token")?;
    let second = ok(
        "search page 2",
        w.call(
            Method::GET,
            &format!("{shops}?name=tea%20http&page_size=1&page_token={token}"),
            Some(&operator),
            None,
            None,
        )
        .await?,
    )?;
    assert_eq!(second["shops"][0]["shop_id"], json!(green), "{second}");
    assert_eq!(second["next_page_token"], "", "{second}");
    let pop = ok(
        "pop shops",
        w.call(
            Method::GET,
            &format!("{shops}?type=POP&name=HTTP"),
            Some(&operator),
            None,
            None,
        )
        .await?,
    )?;
    let pop_ids: Vec<&Value> = pop["shops"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| &s["shop_id"])
        .collect();
    assert_eq!(pop_ids, [&json!(coffee), &json!(green)], "{pop}");
    let (status, error) = w
        .call(
            Method::GET,
            &format!("{shops}?type=MARKET&create_time_from=soon"),
            Some(&operator),
            None,
            None,
        )
        .await?;
    assert_eq!(status, 400, "{error}");
    assert_eq!(
        error["field_violations"].as_array().map(Vec::len),
        Some(2),
        "{error}"
    );

    // Update: the fields sent change, once per key; bad values name their field.
    let shop = format!("{shops}/{green}");
    let update_key = key();
    let body = json!({"name": "Green Leaf", "time_zone": "Europe/Berlin", "gift_items": true});
    let updated = ok(
        "update",
        w.call(
            Method::PATCH,
            &shop,
            Some(&operator),
            Some(&update_key),
            Some(body.clone()),
        )
        .await?,
    )?;
    assert_eq!(
        (
            &updated["name"],
            &updated["time_zone"],
            &updated["gift_items"],
            &updated["type"]
        ),
        (
            &json!("Green Leaf"),
            &json!("Europe/Berlin"),
            &json!(true),
            &json!("POP")
        ),
        "{updated}"
    );
    let replay = w
        .call(
            Method::PATCH,
            &shop,
            Some(&operator),
            Some(&update_key),
            Some(body),
        )
        .await?;
    assert_eq!(replay, (200, updated.clone()));
    let (status, error) = w
        .call(
            Method::PATCH,
            &shop,
            Some(&operator),
            Some(&key()),
            Some(json!({"time_zone": "Mars/Base"})),
        )
        .await?;
    assert_eq!(status, 400, "{error}");
    assert_eq!(
        error["field_violations"][0]["field"], "time_zone",
        "{error}"
    );
    let (status, error) = w
        .call(
            Method::PATCH,
            &shop,
            Some(&operator),
            Some(&key()),
            Some(json!({})),
        )
        .await?;
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["field_violations"][0]["field"], "body", "{error}");
    let (status, _) = w
        .call(
            Method::PATCH,
            &format!("{shops}/{}", uuid::Uuid::now_v7()),
            Some(&operator),
            Some(&key()),
            Some(json!({"name": "Nobody"})),
        )
        .await?;
    assert_eq!(status, 404);
    // A shop in business keeps its type.
    order(&w, &green, "u-1", "o-1", 10_000).await?;
    let (status, locked) = w
        .call(
            Method::PATCH,
            &shop,
            Some(&operator),
            Some(&key()),
            Some(json!({"type": "SELF_OPERATED"})),
        )
        .await?;
    assert_eq!(status, 400, "{locked}");
    assert_eq!(locked["reason"], "SHOP_TYPE_LOCKED", "{locked}");

    // Any shop's program, levels and members.
    let program = ok(
        "program",
        w.call(
            Method::GET,
            &format!("{shop}/program"),
            Some(&operator),
            None,
            None,
        )
        .await?,
    )?;
    assert_eq!(program["join_policy"], "ORDER", "{program}");
    let levels = ok(
        "levels",
        w.call(
            Method::GET,
            &format!("{shop}/levels"),
            Some(&operator),
            None,
            None,
        )
        .await?,
    )?;
    assert!(
        levels["levels"].as_array().is_some_and(|l| !l.is_empty()),
        "{levels}"
    );
    let members = ok(
        "members",
        w.call(
            Method::GET,
            &format!("{shop}/members?page_size=10"),
            Some(&operator),
            None,
            None,
        )
        .await?,
    )?;
    assert_eq!(members["members"][0]["user_id"], "u-1", "{members}");
    assert!(!members.to_string().contains("phone\":\""), "{members}");
    let member = ok(
        "member",
        w.call(
            Method::GET,
            &format!("{shop}/members/u-1"),
            Some(&operator),
            None,
            None,
        )
        .await?,
    )?;
    assert_eq!(member["user_id"], "u-1", "{member}");
    // An unknown shop's members are 404, not an empty page.
    let unknown = format!("/api/platform/v1/shops/{}/members", uuid::Uuid::now_v7());
    let (status, error) = w
        .call(Method::GET, &unknown, Some(&operator), None, None)
        .await?;
    assert_eq!(status, 404, "{error}");

    // Merchants and shoppers are refused on the platform surface.
    let merchant = w.merchant(&green)?;
    let shopper = w.shopper("u-1")?;
    for token in [&merchant, &shopper] {
        for path in [
            shops.to_string(),
            format!("{shop}/program"),
            format!("{shop}/levels"),
            format!("{shop}/members"),
            "/api/platform/v1/parked-events".to_string(),
        ] {
            let (status, _) = w.call(Method::GET, &path, Some(token), None, None).await?;
            assert_eq!(status, 403, "{path}");
        }
        let (status, _) = w
            .call(
                Method::PATCH,
                &shop,
                Some(token),
                Some(&key()),
                Some(json!({"name": "Mine"})),
            )
            .await?;
        assert_eq!(status, 403);
        let (status, _) = w
            .call(
                Method::POST,
                "/api/platform/v1/points/expire",
                Some(token),
                Some(&key()),
                None,
            )
            .await?;
        assert_eq!(status, 403);
    }
    Ok(())
}

#[tokio::test]
async fn pt5_operator_runs_expiry_platform_wide_and_reads_parked_events() -> TestResult {
    let w = start().await?;
    let operator = w.operator()?;
    w.register_shop("Expiry Tea", "POP").await?;
    let expire_key = key();
    let expired = ok(
        "expire",
        w.call(
            Method::POST,
            "/api/platform/v1/points/expire",
            Some(&operator),
            Some(&expire_key),
            None,
        )
        .await?,
    )?;
    assert_eq!(expired["expired_lots"], 0, "nothing is due yet: {expired}");
    let replay = w
        .call(
            Method::POST,
            "/api/platform/v1/points/expire",
            Some(&operator),
            Some(&expire_key),
            None,
        )
        .await?;
    assert_eq!(replay, (200, expired));
    let parked = ok(
        "parked events",
        w.call(
            Method::GET,
            "/api/platform/v1/parked-events?page_size=10",
            Some(&operator),
            None,
            None,
        )
        .await?,
    )?;
    assert!(parked["parked_events"].is_array(), "{parked}");
    let (status, error) = w
        .call(
            Method::GET,
            "/api/platform/v1/parked-events?page_size=many",
            Some(&operator),
            None,
            None,
        )
        .await?;
    assert_eq!(status, 400, "{error}");
    Ok(())
}
