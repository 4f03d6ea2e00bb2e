//! The gateway's gates with no service behind it: who may call which surface, and
//! what is refused before a request leaves the gateway. A request that got past
//! the gates would meet a closed port and answer 503, so these tests also show that nothing
//! refused here was forwarded.

use std::time::Duration;

use axum::body::Body;
use http::{Method, Request, StatusCode};
use memberhub_gateway::{JwtConfig, Role};
use serde_json::{Value, json};
use tower::ServiceExt;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const SHOP: &str = "0197a5b0-0000-7000-8000-000000000001";

fn config() -> Result<memberhub_gateway::Config, Box<dyn std::error::Error>> {
    let mut config = memberhub_gateway::Config::from_env()?;
    // Nothing listens on port 1: a forwarded request fails as UNAVAILABLE.
    config.membership_url = "http://127.0.0.1:1".into();
    config.jwt = JwtConfig {
        secret: "surfaces-test-secret".into(),
        issuer: "memberhub".into(),
        audience: "memberhub-api".into(),
    };
    config.request_timeout = Duration::from_secs(2);
    Ok(config)
}

struct Gateway {
    app: axum::Router,
    jwt: JwtConfig,
}

impl Gateway {
    fn new() -> Result<Self, Box<dyn std::error::Error>> {
        let config = config()?;
        let state = memberhub_gateway::state(&config)?;
        Ok(Self {
            app: memberhub_gateway::app(state, &config),
            jwt: config.jwt,
        })
    }

    fn token(
        &self,
        role: Role,
        sub: &str,
        shop_id: Option<&str>,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        self.jwt
            .issue(role, sub, shop_id, chrono::Duration::minutes(5))
    }

    fn service(&self) -> Result<String, jsonwebtoken::errors::Error> {
        self.token(Role::Service, "order-system", None)
    }

    /// Sends a request and returns (status, JSON body).
    async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        idempotency_key: Option<&str>,
        body: Option<Value>,
    ) -> Result<(StatusCode, Value), Box<dyn std::error::Error>> {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        if let Some(key) = idempotency_key {
            request = request.header("idempotency-key", key);
        }
        let request = match body {
            Some(body) => request
                .header("content-type", "application/json")
                .body(Body::from(serde_json::to_vec(&body)?))?,
            None => request.body(Body::empty())?,
        };
        let response = self.app.clone().oneshot(request).await?;
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await?;
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Ok((status, json))
    }
}

fn paid_event() -> Value {
    json!({
        "type": "PAID", "order_id": "o-1", "shop_id": SHOP, "user_id": "u-1",
        "amount_fen": 12800, "occur_time": "2025-06-01T10:00:00Z",
    })
}

#[tokio::test]
async fn x1_only_services_may_report_order_events() -> TestResult {
    let gateway = Gateway::new()?;
    let others = [
        gateway.token(Role::Shopper, "u-1", None)?,
        gateway.token(Role::Merchant, "m-1", Some(SHOP))?,
        gateway.token(Role::Operator, "op-1", None)?,
    ];
    for token in &others {
        for (path, body) in [
            ("/api/internal/v1/order-events", paid_event()),
            (
                "/api/internal/v1/order-events/batch",
                json!({"events": [paid_event()]}),
            ),
        ] {
            let (status, error) = gateway
                .call(Method::POST, path, Some(token), Some("k-1"), Some(body))
                .await?;
            assert_eq!(
                (status, &error["code"]),
                (StatusCode::FORBIDDEN, &json!("PERMISSION_DENIED")),
                "{path}: {error}"
            );
        }
    }
    let (status, _) = gateway
        .call(
            Method::POST,
            "/api/internal/v1/order-events",
            None,
            Some("k-1"),
            Some(paid_event()),
        )
        .await?;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    Ok(())
}

#[tokio::test]
async fn x1_a_service_token_is_refused_on_the_other_surfaces() -> TestResult {
    let gateway = Gateway::new()?;
    let service = gateway.service()?;
    let create = json!({"name": "X", "type": "POP", "logo_url": "https://x/l.png"});
    for (method, path, body) in [
        (
            Method::GET,
            format!("/api/storefront/v1/shops/{SHOP}/membership"),
            None,
        ),
        (
            Method::GET,
            format!("/api/backoffice/v1/shops/{SHOP}/members"),
            None,
        ),
        (
            Method::POST,
            "/api/platform/v1/shops".to_string(),
            Some(create),
        ),
    ] {
        let (status, error) = gateway
            .call(method, &path, Some(&service), Some("k-1"), body)
            .await?;
        assert_eq!(
            (status, &error["code"]),
            (StatusCode::FORBIDDEN, &json!("PERMISSION_DENIED")),
            "{path}: {error}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn x2_x3_order_events_need_a_key_and_well_formed_times() -> TestResult {
    let gateway = Gateway::new()?;
    let service = gateway.service()?;
    let (status, error) = gateway
        .call(
            Method::POST,
            "/api/internal/v1/order-events",
            Some(&service),
            None,
            Some(paid_event()),
        )
        .await?;
    assert_eq!(
        (status, &error["field_violations"][0]["field"]),
        (StatusCode::BAD_REQUEST, &json!("Idempotency-Key"))
    );
    let mut late = paid_event();
    late["occur_time"] = json!("yesterday");
    let (status, error) = gateway
        .call(
            Method::POST,
            "/api/internal/v1/order-events",
            Some(&service),
            Some("k-2"),
            Some(late.clone()),
        )
        .await?;
    assert_eq!(
        (status, &error["field_violations"][0]["field"]),
        (StatusCode::BAD_REQUEST, &json!("occur_time"))
    );
    let (status, error) = gateway
        .call(
            Method::POST,
            "/api/internal/v1/order-events/batch",
            Some(&service),
            Some("k-3"),
            Some(json!({"events": [paid_event(), late]})),
        )
        .await?;
    assert_eq!(
        (status, &error["field_violations"][0]["field"]),
        (StatusCode::BAD_REQUEST, &json!("events[1].occur_time"))
    );
    let (status, error) = gateway
        .call(
            Method::POST,
            "/api/internal/v1/order-events",
            Some(&service),
            Some("k-4"),
            Some(json!({"type": "SHIPPED", "order_id": "o-1"})),
        )
        .await?;
    assert_eq!(
        (status, &error["field_violations"][0]["field"]),
        (StatusCode::BAD_REQUEST, &json!("body"))
    );
    Ok(())
}

#[tokio::test]
async fn x1_x3_member_filters_are_checked_after_tenancy() -> TestResult {
    let gateway = Gateway::new()?;
    let merchant = gateway.token(Role::Merchant, "m-1", Some(SHOP))?;
    let path = format!(
        "/api/backoffice/v1/shops/{SHOP}/members?level=gold&join_time_from=soon&source=STOREFRONT"
    );
    let (status, error) = gateway
        .call(Method::GET, &path, Some(&merchant), None, None)
        .await?;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    assert_eq!(
        error["field_violations"],
        json!([
            {"field": "level", "description": "must be a whole number"},
            {"field": "join_time_from", "description": "must be an RFC 3339 time such as 2025-06-01T00:00:00Z"},
        ])
    );
    let other_shop = gateway.token(Role::Merchant, "m-2", Some("another-shop"))?;
    let (status, _) = gateway
        .call(Method::GET, &path, Some(&other_shop), None, None)
        .await?;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let benefits = format!("/api/backoffice/v1/shops/{SHOP}/levels/two/benefits");
    let (status, error) = gateway
        .call(
            Method::PUT,
            &benefits,
            Some(&merchant),
            Some("k-1"),
            Some(json!({})),
        )
        .await?;
    assert_eq!(
        (status, &error["field_violations"][0]["field"]),
        (StatusCode::BAD_REQUEST, &json!("level"))
    );
    Ok(())
}

#[tokio::test]
async fn mutations_on_every_new_surface_require_an_idempotency_key() -> TestResult {
    let gateway = Gateway::new()?;
    let merchant = gateway.token(Role::Merchant, "m-1", Some(SHOP))?;
    let shopper = gateway.token(Role::Shopper, "u-1", None)?;
    let backoffice = format!("/api/backoffice/v1/shops/{SHOP}");
    let storefront = format!("/api/storefront/v1/shops/{SHOP}");
    let mutations = [
        (
            &merchant,
            Method::PATCH,
            format!("{backoffice}/program/settings"),
            json!({}),
        ),
        (
            &merchant,
            Method::PUT,
            format!("{backoffice}/levels"),
            json!({"levels": []}),
        ),
        (
            &merchant,
            Method::PUT,
            format!("{backoffice}/levels/2/benefits"),
            json!({}),
        ),
        (
            &merchant,
            Method::POST,
            format!("{backoffice}/budget/recharge"),
            json!({"asset": "BEANS", "amount": 1}),
        ),
        (
            &merchant,
            Method::POST,
            format!("{backoffice}/points/expire"),
            json!({}),
        ),
        (
            &shopper,
            Method::POST,
            format!("{storefront}/card/sms-code"),
            json!({"phone": "13800138000"}),
        ),
        (
            &shopper,
            Method::POST,
            format!("{storefront}/card/open"),
            json!({"phone": "13800138000"}),
        ),
        (
            &shopper,
            Method::POST,
            format!("{storefront}/membership/quit"),
            json!({}),
        ),
        (
            &shopper,
            Method::PUT,
            format!("{storefront}/follow"),
            json!({}),
        ),
        (
            &shopper,
            Method::DELETE,
            format!("{storefront}/follow"),
            json!({}),
        ),
    ];
    for (token, method, path, body) in mutations {
        let (status, error) = gateway
            .call(method.clone(), &path, Some(token), None, Some(body))
            .await?;
        assert_eq!(
            (status, &error["field_violations"][0]["field"]),
            (StatusCode::BAD_REQUEST, &json!("Idempotency-Key")),
            "{method} {path}: {error}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn openapi_documents_the_membership_routes() -> TestResult {
    let gateway = Gateway::new()?;
    let (status, doc) = gateway
        .call(Method::GET, "/api/openapi.json", None, None, None)
        .await?;
    assert_eq!(status, StatusCode::OK);
    for (path, method) in [
        (
            "/api/backoffice/v1/shops/{shop_id}/program/settings",
            "patch",
        ),
        ("/api/backoffice/v1/shops/{shop_id}/levels", "get"),
        ("/api/backoffice/v1/shops/{shop_id}/levels", "put"),
        (
            "/api/backoffice/v1/shops/{shop_id}/levels/{level}/benefits",
            "put",
        ),
        ("/api/backoffice/v1/shops/{shop_id}/members", "get"),
        (
            "/api/backoffice/v1/shops/{shop_id}/members/{user_id}",
            "get",
        ),
        ("/api/backoffice/v1/shops/{shop_id}/budget", "get"),
        ("/api/backoffice/v1/shops/{shop_id}/budget/recharge", "post"),
        ("/api/backoffice/v1/shops/{shop_id}/points/expire", "post"),
        ("/api/storefront/v1/shops/{shop_id}/card/sms-code", "post"),
        ("/api/storefront/v1/shops/{shop_id}/card/open", "post"),
        ("/api/storefront/v1/shops/{shop_id}/membership", "get"),
        ("/api/storefront/v1/shops/{shop_id}/membership/quit", "post"),
        ("/api/storefront/v1/shops/{shop_id}/ledger", "get"),
        ("/api/storefront/v1/shops/{shop_id}/follow", "put"),
        ("/api/storefront/v1/shops/{shop_id}/follow", "delete"),
        ("/api/internal/v1/order-events", "post"),
        ("/api/internal/v1/order-events/batch", "post"),
    ] {
        assert!(
            doc["paths"][path][method].is_object(),
            "openapi lacks {method} {path}"
        );
    }
    let member_filters: Vec<&str> =
        doc["paths"]["/api/backoffice/v1/shops/{shop_id}/members"]["get"]["parameters"]
            .as_array()
            .map(|ps| ps.iter().filter_map(|p| p["name"].as_str()).collect())
            .unwrap_or_default();
    for filter in [
        "level",
        "join_time_from",
        "join_time_to",
        "join_channel",
        "source",
        "page_size",
        "page_token",
    ] {
        assert!(
            member_filters.contains(&filter),
            "members lacks ?{filter}: {member_filters:?}"
        );
    }
    let membership = &doc["components"]["schemas"]["Membership"]["properties"];
    assert!(membership["points_balance"].is_object());
    assert!(
        membership["phone"].is_null(),
        "MB-4: no phone in a member row"
    );
    Ok(())
}

/// The schema of `name`'s property `field` in the served document.
fn property<'a>(doc: &'a Value, name: &str, field: &str) -> &'a Value {
    &doc["components"]["schemas"][name]["properties"][field]
}

/// The parameter `name` of `method path` in the served document.
fn parameter<'a>(doc: &'a Value, path: &str, method: &str, name: &str) -> &'a Value {
    doc["paths"][path][method]["parameters"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == name))
        .map_or(&Value::Null, |p| &p["schema"])
}

/// the request constraints the services enforce are published, so that a client (and
/// schemathesis) can send valid data without learning the rules from 400s.
#[tokio::test]
async fn x3_openapi_publishes_the_request_constraints_the_services_enforce() -> TestResult {
    use memberhub_gateway::constraints;
    let gateway = Gateway::new()?;
    let (status, doc) = gateway
        .call(Method::GET, "/api/openapi.json", None, None, None)
        .await?;
    assert_eq!(status, StatusCode::OK);

    // MP-1: a shop name is required text of 1 to 30 characters, no control characters.
    let name = property(&doc, "CreateShop", "name");
    assert_eq!(
        (&name["minLength"], &name["maxLength"], &name["pattern"]),
        (&json!(1), &json!(30), &json!(constraints::REQUIRED_TEXT)),
        "{name}"
    );
    // OC-1: 1 to 10 characters; OC-4: 1 to 3 prizes.
    assert_eq!(property(&doc, "OpenCardGiftBody", "name")["maxLength"], 10);
    let prizes = property(&doc, "OpenCardGiftBody", "prizes");
    assert_eq!(
        (&prizes["minItems"], &prizes["maxItems"]),
        (&json!(1), &json!(3))
    );
    // LV-1: 1 to 5 levels.
    assert_eq!(property(&doc, "UpdateLevelRules", "levels")["maxItems"], 5);
    // CP-2: discount 1-99 %, at most 10 coupons an issue.
    assert_eq!(
        property(&doc, "CreateCouponBatch", "discount_percent")["maximum"],
        99
    );
    assert_eq!(
        property(&doc, "CreateCouponBatch", "per_issue_count")["maximum"],
        10
    );
    // CP-6: 1 to 50 distinct coupon ids.
    let ids = property(&doc, "EvaluateCart", "coupon_ids");
    assert_eq!(
        (
            &ids["maxItems"],
            &ids["uniqueItems"],
            &ids["items"]["format"]
        ),
        (&json!(50), &json!(true), &json!("uuid")),
        "{ids}"
    );
    // PT-2: only budget assets are recharged.
    let assets = &doc["components"]["schemas"]["BudgetAsset"]["enum"];
    assert_eq!(assets, &json!(["BEANS", "RED_PACKET", "DATA_PACK"]));
    // MP-4: the phone and code forms membership-svc parses.
    assert_eq!(
        property(&doc, "OpenCard", "phone")["pattern"],
        constraints::PHONE
    );
    // MB-4: page sizes 1 to 200 (0 means 50), levels 0 to 5, times RFC 3339.
    let members = "/api/backoffice/v1/shops/{shop_id}/members";
    let page_size = parameter(&doc, members, "get", "page_size");
    assert_eq!(
        (&page_size["minimum"], &page_size["maximum"]),
        (&json!(0), &json!(memberhub_kit::input::MAX_PAGE_SIZE)),
        "{page_size}"
    );
    assert_eq!(parameter(&doc, members, "get", "level")["maximum"], 5);
    assert_eq!(
        parameter(&doc, members, "get", "join_time_from")["format"],
        "date-time"
    );
    // Ids the services parse as UUIDs are published as such.
    let claim = "/api/backoffice/v1/shops/{shop_id}/claims/{claim_id}";
    assert_eq!(parameter(&doc, claim, "get", "claim_id")["format"], "uuid");
    Ok(())
}
