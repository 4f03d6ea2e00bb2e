//! LV-6 at checkout, end to end: a level's member discount and exclusive access price the
//! cart that coupon-svc evaluates (CP-6), read from membership-svc as the member stands now.
//! A non-member, a member one level short and a member at the level try the same cart with
//! each coupon kind, over HTTP (storefront) and gRPC (the order system's lock).

mod support;

use anyhow::Context;
use chrono::Utc;
use memberhub_kit::actor::Actor;
use memberhub_kit::auth::{ORDER_SYSTEM, Signer};
use memberhub_kit::testing::TestResult;
use memberhub_kit::testing::wait_until_serving;
use memberhub_proto::common::OrderLine;
use memberhub_proto::coupon as pb;
use memberhub_proto::coupon::coupon_service_client::CouponServiceClient;
use reqwest::Method;
use serde_json::{Value, json};
use support::World;

fn key() -> String {
    uuid::Uuid::now_v7().to_string()
}

fn ok((status, body): (u16, Value), what: &str) -> anyhow::Result<Value> {
    anyhow::ensure!(status == 200, "{what}: {status} {body}");
    Ok(body)
}

/// A shop whose level 1 pays 98 % and level 2 (one order) pays 90 % with exclusive access.
async fn shop_with_levels(w: &World) -> anyhow::Result<String> {
    let shop = w.register_shop("Member Tea", "POP").await?;
    let merchant = w.merchant(&shop)?;
    let backoffice = |path: &str| format!("/api/backoffice/v1/shops/{shop}{path}");
    ok(
        w.call(
            Method::PUT,
            &backoffice("/program/join-policy"),
            Some(&merchant),
            Some(&key()),
            Some(json!({"join_policy": "CARD"})),
        )
        .await?,
        "join policy",
    )?;
    let ladder = json!({"levels": [
        {"level": 1, "name": "会员"},
        {"level": 2, "name": "银卡", "condition": {"min_spend_fen": 1, "min_order_count": 1, "operator": "OR"}},
    ]});
    ok(
        w.call(
            Method::PUT,
            &backoffice("/levels"),
            Some(&merchant),
            Some(&key()),
            Some(ladder),
        )
        .await?,
        "levels",
    )?;
    for (level, benefits) in [
        (1, json!({"discount_permille": 98})),
        (
            2,
            json!({"discount_permille": 90, "exclusive_access": true}),
        ),
    ] {
        ok(
            w.call(
                Method::PUT,
                &backoffice(&format!("/levels/{level}/benefits")),
                Some(&merchant),
                Some(&key()),
                Some(benefits),
            )
            .await?,
            "benefits",
        )?;
    }
    Ok(shop)
}

async fn open_card(w: &World, shop: &str, user: &str) -> anyhow::Result<()> {
    ok(
        w.call(
            Method::POST,
            &format!("/api/storefront/v1/shops/{shop}/card/open"),
            Some(&w.shopper(user)?),
            Some(&key()),
            Some(json!({"phone": "13800138000"})),
        )
        .await?,
        "open card",
    )?;
    Ok(())
}

/// One paid and received order: enough for level 2.
async fn order(w: &World, shop: &str, user: &str) -> anyhow::Result<()> {
    w.paid_and_received(shop, user, &format!("o-{user}"), 5_000, Utc::now())
        .await
}

async fn level_of(w: &World, shop: &str, user: &str) -> anyhow::Result<i64> {
    let center = ok(
        w.call(
            Method::GET,
            &format!("/api/storefront/v1/shops/{shop}/member-center"),
            Some(&w.shopper(user)?),
            None,
            None,
        )
        .await?,
        "member center",
    )?;
    Ok(center["membership"]["level"].as_i64().unwrap_or(0))
}

/// Publishes a GENERAL batch and has `users` claim it; returns each user's coupon id.
async fn coupons(
    w: &World,
    shop: &str,
    batch: Value,
    users: &[&str],
) -> anyhow::Result<Vec<String>> {
    let merchant = w.merchant(shop)?;
    let batches = format!("/api/backoffice/v1/shops/{shop}/coupon-batches");
    let created = ok(
        w.call(
            Method::POST,
            &batches,
            Some(&merchant),
            Some(&key()),
            Some(batch),
        )
        .await?,
        "batch",
    )?;
    let id = created["batch_id"]
        .as_str()
        .context("batch id")?
        .to_string();
    ok(
        w.call(
            Method::POST,
            &format!("{batches}/{id}/submit"),
            Some(&merchant),
            Some(&key()),
            None,
        )
        .await?,
        "submit",
    )?;
    let mut ids = Vec::new();
    for user in users {
        let claimed = ok(
            w.call(
                Method::POST,
                &format!("/api/storefront/v1/shops/{shop}/coupon-batches/{id}/claim"),
                Some(&w.shopper(user)?),
                Some(&key()),
                None,
            )
            .await?,
            "claim",
        )?;
        ids.push(
            claimed["coupons"][0]["coupon_id"]
                .as_str()
                .context("coupon id")?
                .to_string(),
        );
    }
    Ok(ids)
}

fn batch(kind: &str, extra: Value) -> Value {
    let now = Utc::now();
    let mut body = json!({
        "internal_name": format!("{kind} coupon"),
        "kind": kind,
        "item_scope": {},
        "channel": "GENERAL",
        "total_quantity": 100,
        "per_user_limit": 1,
        "per_issue_count": 1,
        "claim_start_time": (now - chrono::Duration::hours(1)).to_rfc3339(),
        "claim_end_time": (now + chrono::Duration::days(1)).to_rfc3339(),
        "validity": {"kind": "RELATIVE", "relative_days": 7},
    });
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    body
}

async fn evaluate(
    w: &World,
    shop: &str,
    user: &str,
    lines: Value,
    coupon_ids: &[&String],
) -> anyhow::Result<Value> {
    ok(
        w.call(
            Method::POST,
            &format!("/api/storefront/v1/shops/{shop}/cart/evaluate"),
            Some(&w.shopper(user)?),
            None,
            Some(json!({"lines": lines, "coupon_ids": coupon_ids})),
        )
        .await?,
        "evaluate",
    )
}

fn evaluation<'a>(result: &'a Value, coupon: &str) -> &'a Value {
    result["evaluations"]
        .as_array()
        .and_then(|all| all.iter().find(|e| e["coupon_id"] == json!(coupon)))
        .unwrap_or(&Value::Null)
}

#[tokio::test]
async fn lv6_level_discount_and_exclusive_access_price_the_cart_before_coupons() -> TestResult {
    let w = support::start().await?;
    let shop = shop_with_levels(&w).await?;
    // "nm" never joined; "l1" opened the card (level 1); "l2" also ordered (level 2).
    for user in ["l1", "l2"] {
        open_card(&w, &shop, user).await?;
    }
    order(&w, &shop, "l2").await?;
    assert_eq!(level_of(&w, &shop, "l1").await?, 1);
    assert_eq!(level_of(&w, &shop, "l2").await?, 2);

    let users = ["nm", "l1", "l2"];
    let threshold = coupons(
        &w,
        &shop,
        batch(
            "THRESHOLD",
            json!({"face_value_fen": 2_000, "threshold_fen": 10_000, "item_scope": {"categories": ["tea"]}}),
        ),
        &users,
    )
    .await?;
    let cash = coupons(
        &w,
        &shop,
        batch("CASH", json!({"face_value_fen": 500})),
        &users,
    )
    .await?;
    let percent = coupons(
        &w,
        &shop,
        batch("DISCOUNT", json!({"discount_percent": 10})),
        &users,
    )
    .await?;

    // 111.11 yuan of tea: level 2 pays 90 % = 9 999.9 -> 10 000 fen, exactly the threshold.
    // A member-exclusive cup, and a pot with a member price.
    let lines = json!([
        {"sku": "tea-1", "category": "tea", "quantity": 1, "unit_price_fen": 11_111},
        {"sku": "cup-x", "category": "cups", "quantity": 1, "unit_price_fen": 5_000, "member_exclusive": true},
        {"sku": "pot-m", "category": "pots", "quantity": 2, "unit_price_fen": 1_000, "member_price_fen": 800},
    ]);
    // (user, level, tea, pot, pot's reason, cup purchasable, cup's reason)
    let expected = [
        (
            "nm",
            0,
            11_111,
            2_000,
            "MEMBERS_ONLY",
            false,
            "MEMBERS_ONLY",
        ),
        (
            "l1",
            1,
            10_889,
            1_960,
            "LEVEL_TOO_LOW",
            false,
            "LEVEL_TOO_LOW",
        ),
        ("l2", 2, 10_000, 1_600, "", true, ""),
    ];
    for (i, (user, level, tea, pot, pot_reason, cup_ok, cup_reason)) in
        expected.into_iter().enumerate()
    {
        let result = evaluate(
            &w,
            &shop,
            user,
            lines.clone(),
            &[&threshold[i], &cash[i], &percent[i]],
        )
        .await?;
        assert_eq!(result["member"]["level"], level, "{user}: {result}");
        assert_eq!(result["member"]["exclusive_access_level"], 2, "{result}");
        assert_eq!(result["cart_total_fen"], 11_111 + 5_000 + 2_000, "{result}");
        let line = |n: usize| &result["lines"][n];
        assert_eq!(line(0)["payable_fen"], tea, "{user}: {result}");
        assert_eq!(line(2)["payable_fen"], pot, "{user}: {result}");
        assert_eq!(
            line(2)["reason"].as_str().unwrap_or(""),
            pot_reason,
            "{result}"
        );
        assert_eq!(line(1)["purchasable"], cup_ok, "{user}: {result}");
        assert_eq!(
            line(1)["reason"].as_str().unwrap_or(""),
            cup_reason,
            "{result}"
        );
        let cup = if cup_ok { 4_500 } else { 0 };
        let payable = tea + pot + cup;
        assert_eq!(result["payable_fen"], payable, "{user}: {result}");
        let list = 11_111 + 2_000 + if cup_ok { 5_000 } else { 0 };
        assert_eq!(result["member_discount_fen"], list - payable, "{result}");
        // every coupon kind applies to what the shopper pays, not list prices
        let t = evaluation(&result, &threshold[i]);
        assert_eq!(
            t["usable"], true,
            "{user}: threshold met at {tea}: {result}"
        );
        assert_eq!(t["discount_fen"], 2_000);
        assert_eq!(evaluation(&result, &cash[i])["discount_fen"], 500);
        let tenth = (payable + 5) / 10;
        let off = evaluation(&result, &percent[i])["discount_fen"]
            .as_i64()
            .context("percent discount")?;
        assert!(
            (off - tenth).abs() <= 1,
            "{user}: 10 % of {payable} is about {tenth}, got {off}"
        );
    }

    // One fen less of tea: level 2 pays 9 999 (< 10 000) although the list price reaches
    // the threshold, so the threshold coupon is not usable for them; level 1 still is.
    let cheaper =
        json!([{"sku": "tea-1", "category": "tea", "quantity": 1, "unit_price_fen": 11_110}]);
    let l2 = evaluate(&w, &shop, "l2", cheaper.clone(), &[&threshold[2]]).await?;
    assert_eq!(l2["payable_fen"], 9_999, "{l2}");
    let t = evaluation(&l2, &threshold[2]);
    assert_eq!(
        (t["usable"].clone(), t["reason"].clone()),
        (json!(false), json!("THRESHOLD_NOT_MET")),
        "{l2}"
    );
    let l1 = evaluate(&w, &shop, "l1", cheaper, &[&threshold[1]]).await?;
    assert_eq!(evaluation(&l1, &threshold[1])["usable"], true, "{l1}");

    // The order system's lock refuses a member-exclusive item to a member one level short,
    // naming the item, and locks it for a member at the level.
    let channel = wait_until_serving(w.suite.coupon)
        .await
        .map_err(anyhow::Error::msg)?;
    let mut client = CouponServiceClient::new(channel);
    let signer = Signer::development(ORDER_SYSTEM);
    let as_order_system = |message: pb::LockCouponsRequest| -> anyhow::Result<_> {
        let mut request = tonic::Request::new(message);
        signer.authorize(
            &Actor::Service {
                name: ORDER_SYSTEM.into(),
            },
            request.metadata_mut(),
        )?;
        Ok(request)
    };
    let grpc_lines = vec![
        OrderLine {
            sku: "tea-1".into(),
            category: "tea".into(),
            quantity: 1,
            unit_price_fen: 11_111,
            ..Default::default()
        },
        OrderLine {
            sku: "cup-x".into(),
            category: "cups".into(),
            quantity: 1,
            unit_price_fen: 5_000,
            member_exclusive: true,
            ..Default::default()
        },
    ];
    let lock = |user: &str, coupon: &str| pb::LockCouponsRequest {
        request_id: key(),
        user_id: user.into(),
        order_id: format!("order-{user}"),
        coupon_ids: vec![coupon.to_string()],
        shop_id: shop.clone(),
        region: String::new(),
        lines: grpc_lines.clone(),
    };
    let refused = client
        .lock_coupons(as_order_system(lock("l1", &threshold[1]))?)
        .await
        .err()
        .context("a level-1 member must not lock an order with a member-exclusive item")?;
    assert_eq!(
        refused.code(),
        tonic::Code::FailedPrecondition,
        "{refused:?}"
    );
    assert!(refused.message().contains("cup-x"), "{refused:?}");
    let locked = client
        .lock_coupons(as_order_system(lock("l2", &threshold[2]))?)
        .await?
        .into_inner();
    assert_eq!(locked.coupons.len(), 1, "{locked:?}");
    Ok(())
}

#[tokio::test]
async fn cp3_the_coupon_centre_lists_claimable_general_batches_paged() -> TestResult {
    let w = support::start().await?;
    let shop = w.register_shop("Centre Tea", "POP").await?;
    let merchant = w.merchant(&shop)?;
    // three live GENERAL batches, one CRM batch, one draft
    for n in 0..3 {
        let body = batch(
            "CASH",
            json!({"face_value_fen": 100 + n, "internal_name": format!("secret {n}")}),
        );
        coupons(&w, &shop, body, &[]).await?;
    }
    let mut crm = batch("CASH", json!({"face_value_fen": 300, "channel": "CRM"}));
    crm["internal_name"] = json!("crm only");
    coupons(&w, &shop, crm, &[]).await?;
    ok(
        w.call(
            Method::POST,
            &format!("/api/backoffice/v1/shops/{shop}/coupon-batches"),
            Some(&merchant),
            Some(&key()),
            Some(batch("CASH", json!({"face_value_fen": 400}))),
        )
        .await?,
        "draft",
    )?;

    let shopper = w.shopper("browsing")?;
    let centre = format!("/api/storefront/v1/shops/{shop}/coupon-batches");
    let first = ok(
        w.call(
            Method::GET,
            &format!("{centre}?page_size=2"),
            Some(&shopper),
            None,
            None,
        )
        .await?,
        "centre page 1",
    )?;
    let page = first["batches"].as_array().context("batches")?;
    assert_eq!(page.len(), 2, "{first}");
    assert!(
        !first.to_string().contains("secret"),
        "CP-1: no internal names: {first}"
    );
    let token = first["next_page_token"].as_str().context("token")?;
    assert!(!token.is_empty());
    let second = ok(
        w.call(
            Method::GET,
            &format!("{centre}?page_size=2&page_token={token}"),
            Some(&shopper),
            None,
            None,
        )
        .await?,
        "centre page 2",
    )?;
    let rest = second["batches"].as_array().context("batches")?;
    assert_eq!(rest.len(), 1, "{second}");
    assert_eq!(second["next_page_token"], "", "{second}");
    let faces: Vec<i64> = page
        .iter()
        .chain(rest)
        .filter_map(|b| b["face_value_fen"].as_i64())
        .collect();
    assert_eq!(
        faces,
        [102, 101, 100],
        "newest first, GENERAL and ACTIVE only"
    );

    // a bad page size names the field
    let (status, error) = w
        .call(
            Method::GET,
            &format!("{centre}?page_size=-1"),
            Some(&shopper),
            None,
            None,
        )
        .await?;
    assert_eq!(status, 400, "{error}");
    assert_eq!(
        error["field_violations"][0]["field"], "page_size",
        "{error}"
    );
    Ok(())
}
