//! Member sprint plans over HTTP (SP-1..SP-8): an operator creates a plan and
//! invites a shop on the platform surface; the shop's merchant reads the invitation and its
//! thresholds, makes a reward batch from the plan, joins once it meets the thresholds and
//! withdraws on the back-office surface; other merchants see nothing.

mod support;

use anyhow::Context;
use chrono::{DurationRound, Utc};
use memberhub_kit::testing::TestResult;
use reqwest::Method;
use serde_json::{Value, json};

fn key() -> String {
    uuid::Uuid::now_v7().to_string()
}

fn ok((status, body): (u16, Value), what: &str) -> anyhow::Result<Value> {
    anyhow::ensure!(status == 200, "{what}: {status} {body}");
    Ok(body)
}

fn plan_body(name: &str) -> anyhow::Result<Value> {
    let hour = chrono::Duration::hours(1);
    let base = Utc::now().duration_trunc(hour)? + chrono::Duration::days(1);
    let at = |days: i64| (base + chrono::Duration::days(days)).to_rfc3339();
    Ok(json!({
        "name": name,
        "registration_start_time": at(0),
        "sprint_start_time": at(2),
        "award_start_time": at(4),
        "redemption_start_time": at(6),
        "redemption_end_time": at(8),
        "min_face_value_fen": 2_000,
        "max_fold_percent": 90,
    }))
}

#[tokio::test]
async fn sp1_sp2_sp7_operator_creates_and_invites_merchant_reads_and_withdraws_over_http()
-> TestResult {
    let w = support::start().await?;
    let operator = w.operator()?;
    let shop = w.register_shop("Sprint Tea", "SELF_OPERATED").await?;
    let other = w.register_shop("Other Tea", "POP").await?;

    // SP-1: a bad plan names the field; a good one starts UPCOMING with R = 400
    let mut bad = plan_body("p")?;
    bad["award_start_time"] = bad["sprint_start_time"].clone();
    let (status, error) = w
        .call(
            Method::POST,
            "/api/platform/v1/sprint-plans",
            Some(&operator),
            Some(&key()),
            Some(bad),
        )
        .await?;
    assert_eq!(status, 400, "{error}");
    assert_eq!(
        error["field_violations"][0]["field"], "plan.award_start_time",
        "{error}"
    );
    let plan = ok(
        w.call(
            Method::POST,
            "/api/platform/v1/sprint-plans",
            Some(&operator),
            Some(&key()),
            Some(plan_body("618会员冲刺")?),
        )
        .await?,
        "create plan",
    )?;
    assert_eq!(plan["phase"], "UPCOMING", "{plan}");
    assert_eq!(plan["required_distribution"], 400, "{plan}");
    let plan_id = plan["plan_id"].as_str().context("plan id")?.to_string();
    let listed = ok(
        w.call(
            Method::GET,
            "/api/platform/v1/sprint-plans?phase=UPCOMING",
            Some(&operator),
            None,
            None,
        )
        .await?,
        "list plans",
    )?;
    assert_eq!(listed["plans"][0]["plan_id"], json!(plan_id), "{listed}");

    // SP-2: invite with thresholds; the operator sees the plan's shops
    let invited = ok(
        w.call(
            Method::POST,
            &format!("/api/platform/v1/sprint-plans/{plan_id}/shops"),
            Some(&operator),
            Some(&key()),
            Some(
                json!({"shop_id": shop, "thresholds": {"min_member_count": 1, "min_sales_fen": 0}}),
            ),
        )
        .await?,
        "invite",
    )?;
    assert_eq!(invited["state"], "INVITED", "{invited}");
    let shops = ok(
        w.call(
            Method::GET,
            &format!("/api/platform/v1/sprint-plans/{plan_id}/shops"),
            Some(&operator),
            None,
            None,
        )
        .await?,
        "plan shops",
    )?;
    assert_eq!(shops["shops"][0]["shop_id"], json!(shop), "{shops}");

    // the invited merchant reads the plan and thresholds before registration opens
    let merchant = w.merchant(&shop)?;
    let mine = format!("/api/backoffice/v1/shops/{shop}/sprint-plans");
    let page = ok(
        w.call(Method::GET, &mine, Some(&merchant), None, None)
            .await?,
        "my invitations",
    )?;
    assert_eq!(
        page["shops"][0]["thresholds"]["min_member_count"], 1,
        "{page}"
    );
    let one = ok(
        w.call(
            Method::GET,
            &format!("{mine}/{plan_id}"),
            Some(&merchant),
            None,
            None,
        )
        .await?,
        "my invitation",
    )?;
    assert_eq!(one["plan"]["min_face_value_fen"], 2_000, "{one}");
    assert_eq!(one["thresholds"]["min_sales_fen"], 0, "{one}");

    // another shop: 404 for its own path, 403 on this shop's path; no platform routes
    let stranger = w.merchant(&other)?;
    let (status, _) = w
        .call(
            Method::GET,
            &format!("/api/backoffice/v1/shops/{other}/sprint-plans/{plan_id}"),
            Some(&stranger),
            None,
            None,
        )
        .await?;
    assert_eq!(status, 404);
    let (status, _) = w
        .call(
            Method::GET,
            &format!("{mine}/{plan_id}"),
            Some(&stranger),
            None,
            None,
        )
        .await?;
    assert_eq!(status, 403);
    let (status, _) = w
        .call(
            Method::GET,
            "/api/platform/v1/sprint-plans",
            Some(&stranger),
            None,
            None,
        )
        .await?;
    assert_eq!(status, 403);

    // SP-2: the operator reads the figures thresholds are checked against
    let stats = ok(
        w.call(
            Method::GET,
            &format!("/api/platform/v1/shops/{shop}/statistics"),
            Some(&operator),
            None,
            None,
        )
        .await?,
        "shop statistics",
    )?;
    assert_eq!(
        (stats["member_count"].clone(), stats["sales_fen"].clone()),
        (json!(0), json!(0)),
        "{stats}"
    );

    // SP-3: a reward batch on the plan's phases, approved by an operator (self-operated shop)
    let batch = |per_issue_count: i64| {
        json!({
            "internal_name": "sprint reward",
            "kind": "THRESHOLD",
            "face_value_fen": 2_000,
            "threshold_fen": 20_000,
            "item_scope": {"categories": ["tea"]},
            "channel": "SPRINT_PLAN",
            "total_quantity": 500,
            "per_user_limit": 0,
            "per_issue_count": per_issue_count,
            "claim_start_time": plan["award_start_time"],
            "claim_end_time": plan["redemption_start_time"],
            "validity": {"kind": "ABSOLUTE", "start_time": plan["redemption_start_time"],
                         "end_time": plan["redemption_end_time"], "whole_hours": true},
        })
    };
    let batches = format!("/api/backoffice/v1/shops/{shop}/coupon-batches");
    let mut keys = Vec::new();
    // the good batch made from the plan (fixed fields filled in), a broken one by hand
    let from_plan = json!({"internal_name": "sprint reward", "face_value_fen": 2_000,
        "threshold_fen": 20_000, "item_scope": {"categories": ["tea"]}, "total_quantity": 500});
    for (path, body) in [
        (format!("{mine}/{plan_id}/reward-batch"), from_plan),
        (batches.clone(), batch(1)),
    ] {
        let created = ok(
            w.call(
                Method::POST,
                &path,
                Some(&merchant),
                Some(&key()),
                Some(body),
            )
            .await?,
            "reward batch",
        )?;
        assert_eq!(created["channel"], "SPRINT_PLAN", "{created}");
        let id = created["batch_id"].as_str().context("batch id")?;
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
        ok(
            w.call(
                Method::POST,
                &format!("/api/platform/v1/coupon-batches/{id}/approve"),
                Some(&operator),
                Some(&key()),
                None,
            )
            .await?,
            "approve",
        )?;
        keys.push(
            created["batch_key"]
                .as_str()
                .context("batch key")?
                .to_string(),
        );
    }
    // the fixed fields cannot be sent
    let (status, error) = w
        .call(
            Method::POST,
            &format!("{mine}/{plan_id}/reward-batch"),
            Some(&merchant),
            Some(&key()),
            Some(
                json!({"internal_name": "x", "face_value_fen": 2_000, "threshold_fen": 20_000,
                "item_scope": {"categories": ["tea"]}, "total_quantity": 500, "giftable": true}),
            ),
        )
        .await?;
    assert_eq!(status, 400, "{error}");
    let join = |batch_key: &str| json!({"spend_threshold_fen": 20_000, "distribution_quantity": 400, "batch_key": batch_key});
    // one member is required and the shop has none yet
    let (status, error) = w
        .call(
            Method::POST,
            &format!("{mine}/{plan_id}/join"),
            Some(&merchant),
            Some(&key()),
            Some(join(&keys[0])),
        )
        .await?;
    assert_eq!(
        (
            status,
            error["reason"].clone(),
            error["metadata"]["threshold"].clone()
        ),
        (
            400,
            json!("SPRINT_THRESHOLD_NOT_MET"),
            json!("min_member_count")
        ),
        "{error}"
    );
    ok(
        w.call(
            Method::PUT,
            &format!("/api/backoffice/v1/shops/{shop}/program/join-policy"),
            Some(&merchant),
            Some(&key()),
            Some(json!({"join_policy": "CARD"})),
        )
        .await?,
        "join policy",
    )?;
    ok(
        w.call(
            Method::POST,
            &format!("/api/storefront/v1/shops/{shop}/card/open"),
            Some(&w.shopper("first-member")?),
            Some(&key()),
            Some(json!({"phone": "13800138000"})),
        )
        .await?,
        "open card",
    )?;
    let (status, error) = w
        .call(
            Method::POST,
            &format!("{mine}/{plan_id}/join"),
            Some(&merchant),
            Some(&key()),
            Some(join(&keys[1])),
        )
        .await?;
    assert_eq!(status, 400, "{error}");
    assert_eq!(
        error["field_violations"][0]["field"], "batch.per_issue_count",
        "{error}"
    );
    let joined = ok(
        w.call(
            Method::POST,
            &format!("{mine}/{plan_id}/join"),
            Some(&merchant),
            Some(&key()),
            Some(join(&keys[0])),
        )
        .await?,
        "join",
    )?;
    assert_eq!(joined["state"], "JOINED", "{joined}");
    assert_eq!(joined["batch_key"], json!(keys[0]), "{joined}");

    // SP-7: withdraw before registration
    let withdrawn = ok(
        w.call(
            Method::POST,
            &format!("{mine}/{plan_id}/withdraw"),
            Some(&merchant),
            Some(&key()),
            None,
        )
        .await?,
        "withdraw",
    )?;
    assert_eq!(withdrawn["state"], "WITHDRAWN", "{withdrawn}");
    Ok(())
}

/// SP-4..SP-8 over HTTP with the services' clock moved: a shopper registers on the
/// storefront (opening the card), the order system's confirmations make them qualify, the
/// award issues their two coupons when its phase starts, and merchant and operator read
/// the shop's figures.
#[tokio::test]
async fn sp4_sp5_sp6_sp8_register_sprint_award_and_figures_over_http() -> TestResult {
    let t0 = Utc::now().duration_trunc(chrono::Duration::hours(1))?;
    let clock = memberhub_kit::clock::ManualClock::new(t0);
    let w = support::start_with_clock(std::sync::Arc::new(clock.clone())).await?;
    let operator = w.operator()?;
    let shop = w.register_shop("Sprint Tea", "POP").await?;
    let merchant = w.merchant(&shop)?;
    let at = |days: i64| t0 + chrono::Duration::days(days);
    let mut body = plan_body("sprint")?;
    for (field, days) in [
        ("registration_start_time", 1),
        ("sprint_start_time", 3),
        ("award_start_time", 5),
        ("redemption_start_time", 7),
        ("redemption_end_time", 9),
    ] {
        body[field] = json!(at(days).to_rfc3339());
    }
    body["required_distribution"] = json!(1);
    let plan = ok(
        w.call(
            Method::POST,
            "/api/platform/v1/sprint-plans",
            Some(&operator),
            Some(&key()),
            Some(body),
        )
        .await?,
        "create plan",
    )?;
    let plan_id = plan["plan_id"].as_str().context("plan id")?.to_string();
    ok(
        w.call(
            Method::POST,
            &format!("/api/platform/v1/sprint-plans/{plan_id}/shops"),
            Some(&operator),
            Some(&key()),
            Some(json!({"shop_id": shop, "thresholds": {}})),
        )
        .await?,
        "invite",
    )?;
    ok(
        w.call(
            Method::PUT,
            &format!("/api/backoffice/v1/shops/{shop}/program/join-policy"),
            Some(&merchant),
            Some(&key()),
            Some(json!({"join_policy": "CARD"})),
        )
        .await?,
        "join policy",
    )?;
    let mine = format!("/api/backoffice/v1/shops/{shop}/sprint-plans/{plan_id}");
    let batch = ok(
        w.call(
            Method::POST,
            &format!("{mine}/reward-batch"),
            Some(&merchant),
            Some(&key()),
            Some(json!({"internal_name": "sprint reward", "face_value_fen": 2_000,
                "threshold_fen": 20_000, "item_scope": {"categories": ["tea"]}, "total_quantity": 2})),
        )
        .await?,
        "reward batch",
    )?;
    let batch_id = batch["batch_id"].as_str().context("batch id")?;
    ok(
        w.call(
            Method::POST,
            &format!("/api/backoffice/v1/shops/{shop}/coupon-batches/{batch_id}/submit"),
            Some(&merchant),
            Some(&key()),
            None,
        )
        .await?,
        "submit",
    )?;
    ok(
        w.call(
            Method::POST,
            &format!("{mine}/join"),
            Some(&merchant),
            Some(&key()),
            Some(
                json!({"spend_threshold_fen": 20_000, "distribution_quantity": 1,
                "batch_key": batch["batch_key"]}),
            ),
        )
        .await?,
        "join",
    )?;

    // SP-4: registration opens the card of a non-member
    clock.set(at(1));
    let registration =
        format!("/api/storefront/v1/shops/{shop}/sprint-plans/{plan_id}/registration");
    let shopper = w.shopper("sprinter")?;
    let (status, error) = w
        .call(
            Method::POST,
            &registration,
            Some(&shopper),
            Some(&key()),
            Some(json!({})),
        )
        .await?;
    assert_eq!(status, 400, "{error}");
    assert_eq!(
        error["field_violations"][0]["field"], "card.phone",
        "{error}"
    );
    let registered = ok(
        w.call(
            Method::POST,
            &registration,
            Some(&shopper),
            Some(&key()),
            Some(json!({"phone": "13800138000"})),
        )
        .await?,
        "register",
    )?;
    assert_eq!(
        (
            registered["phase"].clone(),
            registered["award_state"].clone()
        ),
        (json!("REGISTRATION"), json!("PENDING")),
        "{registered}"
    );

    // SP-5: two confirmed orders in the sprint reach the 200-yuan threshold
    clock.set(at(3) + chrono::Duration::hours(2));
    let order_system = w.service("order-system")?;
    for (order_id, fen, hours) in [("o1", 12_000, 1), ("o2", 8_000, 2)] {
        for kind in ["PAID", "RECEIPT_CONFIRMED"] {
            ok(
                w.call(
                    Method::POST,
                    "/api/internal/v1/order-events",
                    Some(&order_system),
                    Some(&key()),
                    Some(json!({
                        "type": kind, "order_id": order_id, "shop_id": shop, "user_id": "sprinter",
                        "amount_fen": fen, "refund_id": "", "lines": [],
                        "occur_time": (at(3) + chrono::Duration::hours(hours)).to_rfc3339(),
                    })),
                )
                .await?,
                "order event",
            )?;
        }
    }
    let mut seen = Value::Null;
    for _ in 0..200 {
        seen = ok(
            w.call(Method::GET, &registration, Some(&shopper), None, None)
                .await?,
            "read",
        )?;
        if seen["spend_fen"] == json!(20_000) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(seen["spend_fen"], json!(20_000), "{seen}");
    assert_eq!(
        seen["qualify_time"],
        json!((at(3) + chrono::Duration::hours(2)).to_rfc3339()),
        "{seen}"
    );

    // SP-6: the award phase starts; the shopper's two coupons arrive
    clock.set(at(5));
    for _ in 0..300 {
        seen = ok(
            w.call(Method::GET, &registration, Some(&shopper), None, None)
                .await?,
            "read",
        )?;
        if seen["award_state"] == json!("AWARDED") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(seen["award_state"], "AWARDED", "{seen}");
    assert_eq!(
        seen["coupon_ids"].as_array().map(Vec::len),
        Some(2),
        "{seen}"
    );

    // SP-8: the merchant and the operator read the same figures; another merchant cannot
    let figures = ok(
        w.call(
            Method::GET,
            &format!("{mine}/statistics"),
            Some(&merchant),
            None,
            None,
        )
        .await?,
        "statistics",
    )?;
    for (field, expected) in [
        ("registered", 1),
        ("qualified", 1),
        ("awarded", 1),
        ("not_awarded", 0),
        ("used", 0),
        ("coupons_issued", 2),
    ] {
        assert_eq!(figures[field], json!(expected), "{field}: {figures}");
    }
    let platform = ok(
        w.call(
            Method::GET,
            &format!("/api/platform/v1/sprint-plans/{plan_id}/shops/{shop}/statistics"),
            Some(&operator),
            None,
            None,
        )
        .await?,
        "platform statistics",
    )?;
    assert_eq!(platform["awarded"], json!(1), "{platform}");
    let other = w.register_shop("Other Tea", "POP").await?;
    let (status, _) = w
        .call(
            Method::GET,
            &format!("{mine}/statistics"),
            Some(&w.merchant(&other)?),
            None,
            None,
        )
        .await?;
    assert_eq!(status, 403);
    Ok(())
}
