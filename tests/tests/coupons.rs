//! Coupons end to end through the HTTP gateway (CP-1..CP-9): a merchant creates and
//! publishes batches, an operator approves a self-operated shop's, shoppers claim, see their
//! wallet and evaluate carts; storefront responses never carry the internal name.

mod support;

use memberhub_kit::testing::TestResult;
use reqwest::Method;
use serde_json::{Value, json};
use support::start;

fn batch_body(name: &str) -> Value {
    let now = chrono::Utc::now();
    json!({
        "internal_name": name,
        "kind": "THRESHOLD",
        "face_value_fen": 2000,
        "threshold_fen": 10000,
        "item_scope": {"categories": ["tea"]},
        "channel": "GENERAL",
        "total_quantity": 100,
        "per_user_limit": 1,
        "per_issue_count": 2,
        "claim_start_time": (now - chrono::Duration::hours(1)).to_rfc3339(),
        "claim_end_time": (now + chrono::Duration::days(1)).to_rfc3339(),
        "validity": {"kind": "RELATIVE", "relative_days": 7},
    })
}

fn key() -> String {
    uuid::Uuid::now_v7().to_string()
}

#[tokio::test]
async fn cp1_cp9_merchant_publishes_shopper_claims_evaluates_and_merchant_reads_statistics()
-> TestResult {
    let w = start().await?;
    let shop = w.register_shop("Green Tea", "POP").await?;
    let merchant = w.merchant(&shop)?;
    let batches = format!("/api/backoffice/v1/shops/{shop}/coupon-batches");

    // CP-2 over HTTP: the field is named as in the JSON body.
    let mut bad = batch_body("Double 11 internal");
    bad["threshold_fen"] = json!(2000);
    let (status, error) = w
        .call(
            Method::POST,
            &batches,
            Some(&merchant),
            Some(&key()),
            Some(bad),
        )
        .await?;
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["code"], "INVALID_ARGUMENT");
    assert_eq!(error["field_violations"][0]["field"], "threshold_fen");

    let (status, batch) = w
        .call(
            Method::POST,
            &batches,
            Some(&merchant),
            Some(&key()),
            Some(batch_body("Double 11 internal")),
        )
        .await?;
    assert_eq!(status, 200, "{batch}");
    assert_eq!(batch["status"], "DRAFT");
    assert_eq!(batch["internal_name"], "Double 11 internal");
    let batch_id = batch["batch_id"].as_str().unwrap_or_default().to_string();
    let batch_key = batch["batch_key"].as_str().unwrap_or_default().to_string();
    assert!(
        batch_key.starts_with("BA_") && batch_key.len() == 10,
        "{batch_key}"
    );

    let (status, live) = w
        .call(
            Method::POST,
            &format!("{batches}/{batch_id}/submit"),
            Some(&merchant),
            Some(&key()),
            None,
        )
        .await?;
    assert_eq!(
        (status, live["status"].clone()),
        (200, json!("ACTIVE")),
        "{live}"
    );
    // The merchant looks it up by key.
    let (status, by_key) = w
        .call(
            Method::GET,
            &format!("{batches}/{batch_key}"),
            Some(&merchant),
            None,
            None,
        )
        .await?;
    assert_eq!((status, by_key["batch_id"].clone()), (200, json!(batch_id)));

    // The shopper sees the batch without its internal name.
    let shopper = w.shopper("buyer-1")?;
    let storefront = format!("/api/storefront/v1/shops/{shop}/coupon-batches");
    let (status, seen) = w
        .call(
            Method::GET,
            &format!("{storefront}/{batch_key}"),
            Some(&shopper),
            None,
            None,
        )
        .await?;
    assert_eq!(status, 200, "{seen}");
    assert!(seen.get("internal_name").is_none(), "{seen}");
    assert!(!seen.to_string().contains("Double 11 internal"));

    // CP-3: claim, replay, limit.
    let claim = format!("{storefront}/{batch_id}/claim");
    let claim_key = key();
    let (status, claimed) = w
        .call(Method::POST, &claim, Some(&shopper), Some(&claim_key), None)
        .await?;
    assert_eq!(status, 200, "{claimed}");
    assert_eq!(claimed["coupons"].as_array().map(Vec::len), Some(2));
    assert!(!claimed.to_string().contains("Double 11 internal"));
    let (status, replay) = w
        .call(Method::POST, &claim, Some(&shopper), Some(&claim_key), None)
        .await?;
    assert_eq!((status, &replay), (200, &claimed));
    let (status, limited) = w
        .call(Method::POST, &claim, Some(&shopper), Some(&key()), None)
        .await?;
    assert_eq!(status, 429, "{limited}");
    assert_eq!(limited["reason"], "PER_USER_LIMIT_REACHED");
    let (status, missing_key) = w
        .call(Method::POST, &claim, Some(&shopper), None, None)
        .await?;
    assert_eq!(status, 400, "{missing_key}");

    // CP-5: the wallet.
    let (status, wallet) = w
        .call(
            Method::GET,
            &format!("/api/storefront/v1/coupons?shop_id={shop}&state=AVAILABLE"),
            Some(&shopper),
            None,
            None,
        )
        .await?;
    assert_eq!(status, 200, "{wallet}");
    let coupons = wallet["coupons"].as_array().cloned().unwrap_or_default();
    assert_eq!(coupons.len(), 2);
    assert!(coupons.iter().all(|c| c["state"] == "AVAILABLE"));
    let coupon_id = coupons[0]["coupon_id"].clone();

    // CP-6: evaluate carts.
    let evaluate = format!("/api/storefront/v1/shops/{shop}/cart/evaluate");
    let cart = |tea_quantity: i64| {
        json!({
            "lines": [
                {"sku": "green-1", "category": "tea", "quantity": tea_quantity, "unit_price_fen": 4000},
                {"sku": "pot-9", "category": "ware", "quantity": 1, "unit_price_fen": 60000}
            ],
            "coupon_ids": [coupon_id.clone()],
        })
    };
    let (status, result) = w
        .call(Method::POST, &evaluate, Some(&shopper), None, Some(cart(3)))
        .await?;
    assert_eq!(status, 200, "{result}");
    assert_eq!(result["cart_total_fen"], 72_000);
    assert_eq!(result["evaluations"][0]["usable"], true);
    assert_eq!(result["evaluations"][0]["discount_fen"], 2000);
    let (_, short) = w
        .call(Method::POST, &evaluate, Some(&shopper), None, Some(cart(1)))
        .await?;
    assert_eq!(short["evaluations"][0]["reason"], "THRESHOLD_NOT_MET");

    // CP-8: statistics.
    let (status, stats) = w
        .call(
            Method::GET,
            &format!("{batches}/{batch_id}/statistics"),
            Some(&merchant),
            None,
            None,
        )
        .await?;
    assert_eq!(status, 200, "{stats}");
    assert_eq!(
        (stats["issues"].clone(), stats["issued"].clone()),
        (json!(1), json!(2))
    );
    assert_eq!(stats["remaining_quantity"], 99);

    // CP-7: closing stops claims.
    let (status, closed) = w
        .call(
            Method::POST,
            &format!("{batches}/{batch_id}/close"),
            Some(&merchant),
            Some(&key()),
            None,
        )
        .await?;
    assert_eq!((status, closed["status"].clone()), (200, json!("CLOSED")));
    let other = w.shopper("buyer-2")?;
    let (status, refused) = w
        .call(Method::POST, &claim, Some(&other), Some(&key()), None)
        .await?;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(refused["reason"], "BATCH_NOT_ACTIVE");
    Ok(())
}

#[tokio::test]
async fn cp9_an_operator_approves_or_rejects_a_self_operated_shops_batches() -> TestResult {
    let w = start().await?;
    let shop = w.register_shop("Own Digital", "SELF_OPERATED").await?;
    let merchant = w.merchant(&shop)?;
    let batches = format!("/api/backoffice/v1/shops/{shop}/coupon-batches");
    let mut ids = Vec::new();
    for name in ["approve me", "reject me"] {
        let (status, batch) = w
            .call(
                Method::POST,
                &batches,
                Some(&merchant),
                Some(&key()),
                Some(batch_body(name)),
            )
            .await?;
        assert_eq!(status, 200, "{batch}");
        let id = batch["batch_id"].as_str().unwrap_or_default().to_string();
        let (status, pending) = w
            .call(
                Method::POST,
                &format!("{batches}/{id}/submit"),
                Some(&merchant),
                Some(&key()),
                None,
            )
            .await?;
        assert_eq!(
            (status, pending["status"].clone()),
            (200, json!("PENDING_APPROVAL"))
        );
        ids.push(id);
    }
    let operator = w.operator()?;
    let (status, queue) = w
        .call(
            Method::GET,
            "/api/platform/v1/coupon-batches?status=PENDING_APPROVAL",
            Some(&operator),
            None,
            None,
        )
        .await?;
    assert_eq!(status, 200, "{queue}");
    assert_eq!(queue["total_size"], 2);
    // Merchants and shoppers cannot approve.
    let approve = format!("/api/platform/v1/coupon-batches/{}/approve", ids[0]);
    let (status, _) = w
        .call(Method::POST, &approve, Some(&merchant), Some(&key()), None)
        .await?;
    assert_eq!(status, 403);
    let (status, approved) = w
        .call(Method::POST, &approve, Some(&operator), Some(&key()), None)
        .await?;
    assert_eq!(
        (status, approved["status"].clone()),
        (200, json!("ACTIVE")),
        "{approved}"
    );
    let (status, rejected) = w
        .call(
            Method::POST,
            &format!("/api/platform/v1/coupon-batches/{}/reject", ids[1]),
            Some(&operator),
            Some(&key()),
            Some(json!({"reason": "face value above the category's ceiling"})),
        )
        .await?;
    assert_eq!(status, 200, "{rejected}");
    assert_eq!(rejected["status"], "CLOSED");
    assert_eq!(
        rejected["reject_reason"],
        "face value above the category's ceiling"
    );
    let (status, bad_query) = w
        .call(
            Method::GET,
            "/api/platform/v1/coupon-batches?status=SOMETIMES",
            Some(&operator),
            None,
            None,
        )
        .await?;
    assert_eq!(status, 400, "{bad_query}");
    assert_eq!(bad_query["field_violations"][0]["field"], "query");
    Ok(())
}

#[tokio::test]
async fn x1_coupon_routes_keep_tenants_apart() -> TestResult {
    let w = start().await?;
    let shop = w.register_shop("Shop A", "POP").await?;
    let other = w.register_shop("Shop B", "POP").await?;
    let batches = format!("/api/backoffice/v1/shops/{shop}/coupon-batches");
    let (status, batch) = w
        .call(
            Method::POST,
            &batches,
            Some(&w.merchant(&shop)?),
            Some(&key()),
            Some(batch_body("A's batch")),
        )
        .await?;
    assert_eq!(status, 200, "{batch}");
    let id = batch["batch_id"].as_str().unwrap_or_default().to_string();
    w.call(
        Method::POST,
        &format!("{batches}/{id}/submit"),
        Some(&w.merchant(&shop)?),
        Some(&key()),
        None,
    )
    .await?;
    // Another shop's merchant, a shopper: refused on the back-office.
    let (status, _) = w
        .call(
            Method::GET,
            &batches,
            Some(&w.merchant(&other)?),
            None,
            None,
        )
        .await?;
    assert_eq!(status, 403);
    let (status, _) = w
        .call(Method::GET, &batches, Some(&w.shopper("u1")?), None, None)
        .await?;
    assert_eq!(status, 403);
    // Another shop's merchant naming its own shop does not find A's batch.
    let (status, _) = w
        .call(
            Method::GET,
            &format!("/api/backoffice/v1/shops/{other}/coupon-batches/{id}"),
            Some(&w.merchant(&other)?),
            None,
            None,
        )
        .await?;
    assert_eq!(status, 404);
    // A claim naming the wrong shop finds no such batch there.
    let (status, error) = w
        .call(
            Method::POST,
            &format!("/api/storefront/v1/shops/{other}/coupon-batches/{id}/claim"),
            Some(&w.shopper("u1")?),
            Some(&key()),
            None,
        )
        .await?;
    assert_eq!(status, 404, "{error}");
    // The platform list is for operators only.
    let (status, _) = w
        .call(
            Method::GET,
            "/api/platform/v1/coupon-batches",
            Some(&w.merchant(&shop)?),
            None,
            None,
        )
        .await?;
    assert_eq!(status, 403);
    Ok(())
}

#[tokio::test]
async fn openapi_documents_the_coupon_routes() -> TestResult {
    let w = start().await?;
    let doc: Value = w
        .http
        .get(format!("{}/api/openapi.json", w.base))
        .send()
        .await?
        .json()
        .await?;
    for path in [
        "/api/backoffice/v1/shops/{shop_id}/coupon-batches",
        "/api/backoffice/v1/shops/{shop_id}/coupon-batches/{batch}/statistics",
        "/api/storefront/v1/shops/{shop_id}/coupon-batches/{batch}/claim",
        "/api/storefront/v1/coupons",
        "/api/storefront/v1/shops/{shop_id}/cart/evaluate",
        "/api/platform/v1/coupon-batches/{batch}/approve",
    ] {
        assert!(doc["paths"][path].is_object(), "openapi lacks {path}");
    }
    let storefront = &doc["components"]["schemas"]["StorefrontCouponBatch"]["properties"];
    assert!(storefront.is_object());
    assert!(storefront.get("internal_name").is_none());
    Ok(())
}
