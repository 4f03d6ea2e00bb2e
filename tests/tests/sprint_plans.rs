//! Member sprint plans over HTTP (SP-1, SP-2, SP-3, SP-7): an operator creates a plan and
//! invites a shop on the platform surface; the shop's merchant reads the invitation and its
//! thresholds, makes a reward batch from the plan, joins once it meets the thresholds and
//! withdraws on the back-office surface; other merchants see nothing.

mod support;

use anyhow::Context;
use chrono::{DurationRound, Utc};
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
-> anyhow::Result<()> {
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
