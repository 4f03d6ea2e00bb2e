//! The first slice end to end through the HTTP gateway: MP-1..MP-5, X-1 tenancy, X-2
//! idempotency, X-3 error shape, W3C trace context.

mod support;

use memberhub_gateway::{JwtConfig, Role};
use memberhub_kit::testing::TestResult;
use reqwest::Method;
use serde_json::json;
use support::{SECRET, start};

#[tokio::test]
async fn mp1_mp5_operator_registers_shop_merchant_reads_defaults_shopper_sees_member_center()
-> TestResult {
    let w = start().await?;
    let shop = w.register_shop("Blue Tea", "POP").await?;
    let (status, program) = w
        .call(
            Method::GET,
            &format!("/api/backoffice/v1/shops/{shop}/program"),
            Some(&w.merchant(&shop)?),
            None,
            None,
        )
        .await?;
    assert_eq!(status, 200, "{program}");
    assert_eq!(program["join_policy"], "ORDER");
    assert_eq!(program["card_face"]["card_name"], "Blue Tea");
    assert_eq!(program["sms_verification_enabled"], false);
    let path = format!("/api/storefront/v1/shops/{shop}/member-center");
    let (status, center) = w
        .call(Method::GET, &path, Some(&w.shopper("u-1")?), None, None)
        .await?;
    assert_eq!(status, 200, "{center}");
    assert_eq!(center["is_member"], false);
    assert_eq!(center["join_route"], "PLACE_ORDER");
    assert_eq!(center["card_face"]["card_name"], "Blue Tea");
    Ok(())
}

#[tokio::test]
async fn mp2_mp3_merchant_sets_policy_and_card_face_with_field_errors() -> TestResult {
    let w = start().await?;
    let shop = w.register_shop("Red Tea", "POP").await?;
    let token = w.merchant(&shop)?;
    let base = format!("/api/backoffice/v1/shops/{shop}/program");
    let (status, program) = w
        .call(
            Method::PUT,
            &format!("{base}/join-policy"),
            Some(&token),
            Some("p1"),
            Some(json!({"join_policy": "CARD"})),
        )
        .await?;
    assert_eq!(
        (status, program["join_policy"].clone()),
        (200, json!("CARD"))
    );
    let long_name = "会".repeat(21);
    let (status, error) = w
        .call(
            Method::PATCH,
            &format!("{base}/card-face"),
            Some(&token),
            Some("f1"),
            Some(json!({"card_name": long_name})),
        )
        .await?;
    assert_eq!(status, 400);
    assert_eq!(error["code"], "INVALID_ARGUMENT");
    assert_eq!(error["field_violations"][0]["field"], "card_name");
    let (status, error) = w
        .call(
            Method::PATCH,
            &format!("{base}/card-face"),
            Some(&token),
            Some("f2"),
            Some(json!({"logo_url": "not a url"})),
        )
        .await?;
    assert_eq!(
        (status, error["field_violations"][0]["field"].clone()),
        (400, json!("logo_url"))
    );
    let twenty = "会".repeat(20);
    let (status, program) = w
        .call(
            Method::PATCH,
            &format!("{base}/card-face"),
            Some(&token),
            Some("f3"),
            Some(json!({"card_name": twenty})),
        )
        .await?;
    assert_eq!(
        (status, program["card_face"]["card_name"].clone()),
        (200, json!(twenty))
    );
    let (status, error) = w
        .call(
            Method::PUT,
            &format!("{base}/join-policy"),
            Some(&token),
            Some("p2"),
            Some(json!({"join_policy": "SOMETIMES"})),
        )
        .await?;
    assert_eq!(
        (status, error["field_violations"][0]["field"].clone()),
        (400, json!("body"))
    );
    Ok(())
}

#[tokio::test]
async fn mp4_sms_verification_needs_pop_and_an_activated_service() -> TestResult {
    let w = start().await?;
    let pop = w.register_shop("Pop Shop", "POP").await?;
    let own = w.register_shop("Own Shop", "SELF_OPERATED").await?;
    let enable = json!({"enabled": true});
    let path = |shop: &str| format!("/api/backoffice/v1/shops/{shop}/program/sms-verification");
    let (status, error) = w
        .call(
            Method::PUT,
            &path(&pop),
            Some(&w.merchant(&pop)?),
            Some("s1"),
            Some(enable.clone()),
        )
        .await?;
    assert_eq!(
        (status, error["reason"].clone()),
        (400, json!("SMS_SERVICE_NOT_ACTIVATED"))
    );
    let (status, _) = w
        .call(
            Method::POST,
            &format!("/api/backoffice/v1/shops/{pop}/sms-service/activate"),
            Some(&w.merchant(&pop)?),
            Some("a1"),
            None,
        )
        .await?;
    assert_eq!(status, 200);
    // The refused attempt stored nothing, so the same key now succeeds.
    let (status, program) = w
        .call(
            Method::PUT,
            &path(&pop),
            Some(&w.merchant(&pop)?),
            Some("s1"),
            Some(enable.clone()),
        )
        .await?;
    assert_eq!(
        (status, program["sms_verification_enabled"].clone()),
        (200, json!(true))
    );
    let (status, _) = w
        .call(
            Method::POST,
            &format!("/api/platform/v1/shops/{own}/sms-service/activate"),
            Some(&w.operator()?),
            Some("a2"),
            None,
        )
        .await?;
    assert_eq!(status, 200);
    let (status, error) = w
        .call(
            Method::PUT,
            &path(&own),
            Some(&w.merchant(&own)?),
            Some("s2"),
            Some(enable),
        )
        .await?;
    assert_eq!(
        (status, error["reason"].clone()),
        (400, json!("SMS_VERIFICATION_POP_ONLY"))
    );
    let center = format!("/api/storefront/v1/shops/{pop}/member-center");
    let (_, center) = w
        .call(Method::GET, &center, Some(&w.shopper("u-9")?), None, None)
        .await?;
    assert_eq!(
        center["sms_code_required"], false,
        "ORDER policy: no card opening at all"
    );
    Ok(())
}

#[tokio::test]
async fn x1_tenancy_matrix() -> TestResult {
    let w = start().await?;
    let shop_a = w.register_shop("Shop A", "POP").await?;
    let shop_b = w.register_shop("Shop B", "POP").await?;
    let program_b = format!("/api/backoffice/v1/shops/{shop_b}/program");
    let merchant_a = w.merchant(&shop_a)?;
    // merchant of A on shop B: 403, and B is unchanged
    let (status, error) = w
        .call(Method::GET, &program_b, Some(&merchant_a), None, None)
        .await?;
    assert_eq!(
        (status, error["code"].clone()),
        (403, json!("PERMISSION_DENIED"))
    );
    let (status, _) = w
        .call(
            Method::PUT,
            &format!("{program_b}/join-policy"),
            Some(&merchant_a),
            Some("k"),
            Some(json!({"join_policy": "CARD"})),
        )
        .await?;
    assert_eq!(status, 403);
    let (_, program) = w
        .call(
            Method::GET,
            &program_b,
            Some(&w.merchant(&shop_b)?),
            None,
            None,
        )
        .await?;
    assert_eq!(program["join_policy"], "ORDER");
    // a shopper on the back-office, a merchant on the platform, an operator on the storefront
    assert_eq!(
        w.call(Method::GET, &program_b, Some(&w.shopper("u")?), None, None)
            .await?
            .0,
        403
    );
    let create = json!({"name": "X", "type": "POP", "logo_url": "https://x/l.png"});
    assert_eq!(
        w.call(
            Method::POST,
            "/api/platform/v1/shops",
            Some(&merchant_a),
            Some("c"),
            Some(create)
        )
        .await?
        .0,
        403
    );
    let center = format!("/api/storefront/v1/shops/{shop_a}/member-center");
    assert_eq!(
        w.call(Method::GET, &center, Some(&w.operator()?), None, None)
            .await?
            .0,
        403
    );
    // no token, garbage, expired, wrong audience, wrong issuer, wrong secret, no exp: 401
    let expired = w.jwt.issue(
        Role::Merchant,
        "m",
        Some(&shop_b),
        chrono::Duration::minutes(-5),
    )?;
    let wrong_audience = JwtConfig {
        audience: "someone-else".into(),
        ..w.jwt.clone()
    }
    .issue(
        Role::Merchant,
        "m",
        Some(&shop_b),
        chrono::Duration::hours(1),
    )?;
    let wrong_issuer = JwtConfig {
        issuer: "evil".into(),
        ..w.jwt.clone()
    }
    .issue(
        Role::Merchant,
        "m",
        Some(&shop_b),
        chrono::Duration::hours(1),
    )?;
    let wrong_secret = JwtConfig {
        secret: "guess".into(),
        ..w.jwt.clone()
    }
    .issue(
        Role::Merchant,
        "m",
        Some(&shop_b),
        chrono::Duration::hours(1),
    )?;
    let no_exp = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &json!({"sub": "m", "role": "merchant", "shop_id": shop_b, "iss": w.jwt.issuer, "aud": w.jwt.audience, "iat": 0}),
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )?;
    assert_eq!(
        w.call(Method::GET, &program_b, None, None, None).await?.0,
        401
    );
    for token in [
        expired,
        wrong_audience,
        wrong_issuer,
        wrong_secret,
        no_exp,
        "garbage".to_string(),
    ] {
        let (status, error) = w
            .call(Method::GET, &program_b, Some(&token), None, None)
            .await?;
        assert_eq!(
            (status, error["code"].clone()),
            (401, json!("UNAUTHENTICATED")),
            "token {token}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn x2_idempotent_replay_and_key_reuse_over_http() -> TestResult {
    let w = start().await?;
    let operator = w.operator()?;
    let body = json!({"name": "Once", "type": "POP", "logo_url": "https://x/l.png"});
    let (s1, first) = w
        .call(
            Method::POST,
            "/api/platform/v1/shops",
            Some(&operator),
            Some("same-key"),
            Some(body.clone()),
        )
        .await?;
    let (s2, second) = w
        .call(
            Method::POST,
            "/api/platform/v1/shops",
            Some(&operator),
            Some("same-key"),
            Some(body),
        )
        .await?;
    assert_eq!((s1, s2), (200, 200));
    assert_eq!(first, second, "a replay returns the first response");
    let other = json!({"name": "Twice", "type": "POP", "logo_url": "https://x/l.png"});
    let (status, error) = w
        .call(
            Method::POST,
            "/api/platform/v1/shops",
            Some(&operator),
            Some("same-key"),
            Some(other),
        )
        .await?;
    assert_eq!(
        (status, error["reason"].clone()),
        (400, json!("IDEMPOTENCY_KEY_REUSED"))
    );
    let (status, error) = w
        .call(
            Method::POST,
            "/api/platform/v1/shops",
            Some(&operator),
            None,
            Some(json!({"name": "x"})),
        )
        .await?;
    assert_eq!(
        (status, error["field_violations"][0]["field"].clone()),
        (400, json!("Idempotency-Key"))
    );
    Ok(())
}

#[tokio::test]
async fn w3c_trace_context_passes_from_gateway_to_the_service() -> TestResult {
    let w = start().await?;
    let shop = w.register_shop("Traced", "POP").await?;
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let response = w
        .http
        .get(format!("{}/api/backoffice/v1/shops/{shop}/program", w.base))
        .bearer_auth(w.merchant(&shop)?)
        .header("traceparent", format!("00-{trace_id}-00f067aa0ba902b7-01"))
        .send()
        .await?;
    assert_eq!(response.status().as_u16(), 200);
    // x-trace-id is set by membership-svc from the context the gateway passed on.
    let echoed = response
        .headers()
        .get("x-trace-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    assert_eq!(echoed.as_deref(), Some(trace_id));
    Ok(())
}

#[tokio::test]
async fn openapi_and_swagger_ui_are_served() -> TestResult {
    let w = start().await?;
    let doc: serde_json::Value = w
        .http
        .get(format!("{}/api/openapi.json", w.base))
        .send()
        .await?
        .json()
        .await?;
    for path in [
        "/api/platform/v1/shops",
        "/api/backoffice/v1/shops/{shop_id}/program/card-face",
        "/api/storefront/v1/shops/{shop_id}/member-center",
    ] {
        assert!(doc["paths"][path].is_object(), "openapi lacks {path}");
    }
    let ui = w.http.get(format!("{}/api/docs/", w.base)).send().await?;
    assert_eq!(ui.status().as_u16(), 200);
    assert!(ui.text().await?.contains("swagger"), "swagger ui page");
    Ok(())
}

/// every limit the gateway publishes in `/api/openapi.json` is the constant the
/// service checks. The gateway copies them as literals (utoipa's attributes take no
/// constants, and the gateway does not depend on the services): this is where a service
/// changing a limit finds the copy it has to change too.
#[tokio::test]
async fn x3_published_limits_are_the_services_constants() -> TestResult {
    use campaign_svc::limits;
    use coupon_svc::limits::{batch, coupon};
    use membership_svc::limits::{ledger, levels, members, program, shop};

    let w = start().await?;
    let doc: serde_json::Value = w
        .http
        .get(format!("{}/api/openapi.json", w.base))
        .send()
        .await?
        .json()
        .await?;
    let n = |v: usize| i64::try_from(v).unwrap_or(i64::MAX);
    let levels_max = i64::from(program::MAX_LEVELS);
    // (schema, property, keyword, the service's value)
    let published: Vec<(&str, &str, &str, i64)> = vec![
        (
            "CreateShop",
            "name",
            "maxLength",
            n(shop::MAX_SHOP_NAME_CHARS),
        ),
        (
            "UpdateShop",
            "name",
            "maxLength",
            n(shop::MAX_SHOP_NAME_CHARS),
        ),
        (
            "UpdateCardFace",
            "card_name",
            "maxLength",
            n(program::MAX_CARD_NAME_CHARS),
        ),
        ("UpdateCardFace", "level_images", "maxItems", levels_max),
        ("LevelCardImage", "level", "maximum", levels_max),
        ("UpdateLevelRules", "levels", "maxItems", levels_max),
        ("LevelDefinition", "level", "maximum", levels_max),
        (
            "LevelDefinition",
            "name",
            "maxLength",
            n(levels::MAX_LEVEL_NAME_CHARS),
        ),
        (
            "ExchangeItem",
            "item_id",
            "maxLength",
            n(levels::MAX_ITEM_ID_CHARS),
        ),
        (
            "MemberProfile",
            "nickname",
            "maxLength",
            n(members::MAX_NICKNAME_CHARS),
        ),
        ("RechargeBudget", "amount", "maximum", ledger::MAX_AMOUNT),
        ("OrderEvent", "amount_fen", "maximum", ledger::MAX_AMOUNT),
        ("OrderLine", "unit_price_fen", "maximum", ledger::MAX_AMOUNT),
        (
            "CreateCouponBatch",
            "internal_name",
            "maxLength",
            n(batch::MAX_INTERNAL_NAME_CHARS),
        ),
        (
            "CreateCouponBatch",
            "face_value_fen",
            "maximum",
            batch::MAX_FEN,
        ),
        (
            "CreateCouponBatch",
            "threshold_fen",
            "maximum",
            batch::MAX_FEN,
        ),
        (
            "CreateCouponBatch",
            "discount_cap_fen",
            "maximum",
            batch::MAX_FEN,
        ),
        (
            "CreateCouponBatch",
            "total_quantity",
            "maximum",
            batch::MAX_QUANTITY,
        ),
        (
            "CreateCouponBatch",
            "per_user_limit",
            "maximum",
            i64::from(batch::MAX_PER_USER_LIMIT),
        ),
        (
            "CreateCouponBatch",
            "per_issue_count",
            "maximum",
            i64::from(batch::MAX_PER_ISSUE),
        ),
        (
            "CreateCouponBatch",
            "regions",
            "maxItems",
            n(batch::MAX_SCOPE_ENTRIES),
        ),
        ("ItemScope", "skus", "maxItems", n(batch::MAX_SCOPE_ENTRIES)),
        (
            "Validity",
            "relative_days",
            "maximum",
            i64::from(*batch::RELATIVE_DAYS.end()),
        ),
        (
            "RejectCouponBatch",
            "reason",
            "maxLength",
            n(batch::MAX_REASON_CHARS),
        ),
        ("CartLine", "sku", "maxLength", n(batch::MAX_CODE_CHARS)),
        ("CartLine", "quantity", "maximum", coupon::MAX_LINE_QUANTITY),
        ("CartLine", "unit_price_fen", "maximum", batch::MAX_FEN),
        ("EvaluateCart", "lines", "maxItems", n(coupon::MAX_LINES)),
        (
            "EvaluateCart",
            "coupon_ids",
            "maxItems",
            n(coupon::MAX_COUPONS_PER_CALL),
        ),
        (
            "LockOrderCoupons",
            "lines",
            "maxItems",
            n(coupon::MAX_LINES),
        ),
        (
            "LockOrderCoupons",
            "coupon_ids",
            "maxItems",
            n(coupon::MAX_COUPONS_PER_CALL),
        ),
        (
            "OpenCardGiftBody",
            "name",
            "maxLength",
            n(limits::MAX_GIFT_NAME_CHARS),
        ),
        (
            "OpenCardGiftBody",
            "prizes",
            "maxItems",
            n(limits::MAX_PRIZES),
        ),
        (
            "OpenCardGiftBody",
            "gift_quantity",
            "maximum",
            limits::MAX_AMOUNT,
        ),
        ("NewPrize", "amount", "maximum", limits::MAX_AMOUNT),
        (
            "CreateGiftPack",
            "name",
            "maxLength",
            n(limits::MAX_PACK_NAME_CHARS),
        ),
        (
            "CreateGiftPack",
            "batch_keys",
            "maxItems",
            n(limits::MAX_BATCHES),
        ),
        (
            "CreateGiftPack",
            "min_level",
            "maximum",
            i64::from(limits::MAX_LEVEL),
        ),
        ("GiftItem", "sku", "maxLength", n(limits::MAX_SKU_CHARS)),
        (
            "UpsertGiftItem",
            "title",
            "maxLength",
            n(limits::MAX_TITLE_CHARS),
        ),
        (
            "ExchangePoints",
            "item_id",
            "maxLength",
            n(limits::MAX_REF_CHARS),
        ),
        (
            "ConsumeEntitlement",
            "order_id",
            "maxLength",
            n(limits::MAX_REF_CHARS),
        ),
    ];
    for (schema, field, keyword, expected) in published {
        let property = &doc["components"]["schemas"][schema]["properties"][field];
        assert_eq!(
            property[keyword].as_i64(),
            Some(expected),
            "{schema}.{field} {keyword}: {property}"
        );
    }
    // The exchange item title's limit is inside its pattern (the service keeps the title
    // untrimmed, so a maxLength would not hold for replies).
    assert_eq!(levels::MAX_ITEM_TITLE_CHARS, 30);
    assert_eq!(
        doc["components"]["schemas"]["ExchangeItem"]["properties"]["title"]["pattern"],
        memberhub_gateway::constraints::REQUIRED_TEXT_30_TRIMMED
    );
    let claims = &doc["paths"]["/api/backoffice/v1/shops/{shop_id}/claims"]["get"]["parameters"];
    let limit = |name: &str| {
        claims
            .as_array()
            .and_then(|ps| ps.iter().find(|p| p["name"] == name))
            .and_then(|p| p["schema"]["maxLength"].as_i64())
    };
    assert_eq!(limit("user_id"), Some(n(limits::MAX_USER_ID_CHARS)));
    assert_eq!(limit("source_id"), Some(n(limits::MAX_REF_CHARS)));
    Ok(())
}
