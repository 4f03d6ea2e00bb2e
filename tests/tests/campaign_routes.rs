//! The campaign routes' gates and what the gateway does with campaign-svc's
//! replies, without campaign-svc's logic: either nothing behind the gates is reached, or a
//! second gateway talks to a scripted campaign-svc that records what it was asked.

mod support;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use memberhub_kit::testing::TestResult;
use memberhub_proto::campaign as pb;
use memberhub_proto::campaign::campaign_service_server::{CampaignService, CampaignServiceServer};
use reqwest::Method;
use serde_json::{Value, json};
use support::{World, start};
use tonic::{Request, Response, Status};

fn key() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Every mutating campaign route of a shop: (surface token kind, method, path, body).
fn mutations(shop: &str) -> Vec<(&'static str, Method, String, Value)> {
    let b = format!("/api/backoffice/v1/shops/{shop}");
    let s = format!("/api/storefront/v1/shops/{shop}");
    let gift = json!({"name": "开卡礼", "start_time": "2030-01-01T00:00:00Z", "end_time": "2030-01-05T00:00:00Z",
        "prizes": [{"type": "BEANS", "amount": 1}], "gift_quantity": 1});
    let pack = json!({"kind": "NEW_MEMBER", "name": "新人礼", "start_time": "2030-01-01T00:00:00Z",
        "end_time": "2030-01-05T00:00:00Z", "batch_keys": ["BA_aaaaaaa"]});
    vec![
        (
            "merchant",
            Method::POST,
            format!("{b}/open-card-gifts"),
            gift.clone(),
        ),
        (
            "merchant",
            Method::PUT,
            format!("{b}/open-card-gifts/c-1"),
            gift,
        ),
        (
            "merchant",
            Method::POST,
            format!("{b}/open-card-gifts/c-1/close"),
            json!({}),
        ),
        ("merchant", Method::POST, format!("{b}/gift-packs"), pack),
        (
            "merchant",
            Method::POST,
            format!("{b}/gift-packs/p-1/close"),
            json!({}),
        ),
        (
            "merchant",
            Method::PUT,
            format!("{b}/gift-items/sku-1"),
            json!({"title": "杯子", "gift_category": true, "stock": 10}),
        ),
        (
            "merchant",
            Method::PUT,
            format!("{b}/new-member-exclusive"),
            json!({"batch_key": "BA_aaaaaaa"}),
        ),
        (
            "shopper",
            Method::POST,
            format!("{s}/gift-packs/p-1/claim"),
            json!({}),
        ),
        (
            "shopper",
            Method::POST,
            format!("{s}/new-member-exclusive/claim"),
            json!({"choice": "COUPON"}),
        ),
        (
            "shopper",
            Method::POST,
            format!("{s}/points-exchange"),
            json!({"item_id": "x-1"}),
        ),
        (
            "service",
            Method::POST,
            "/api/internal/v1/entitlements/e-1/consume".to_string(),
            json!({"order_id": "o-1"}),
        ),
    ]
}

/// The back-office campaign reads of a shop.
fn backoffice_reads(shop: &str) -> Vec<String> {
    let b = format!("/api/backoffice/v1/shops/{shop}");
    [
        "/open-card-gifts",
        "/open-card-gifts/c-1",
        "/open-card-gifts/c-1/statistics",
        "/gift-packs?kind=MEMBER",
        "/gift-packs/p-1",
        "/gift-items",
        "/new-member-exclusive",
        "/claims?state=GRANTED",
        "/claims/k-1",
    ]
    .iter()
    .map(|p| format!("{b}{p}"))
    .collect()
}

fn token_for(w: &World, kind: &str, shop: &str) -> anyhow::Result<String> {
    match kind {
        "merchant" => w.merchant(shop),
        "shopper" => w.shopper("u-routes"),
        _ => w.service("order-system"),
    }
}

#[tokio::test]
async fn x2_every_campaign_mutation_needs_an_idempotency_key() -> TestResult {
    let w = start().await?;
    let shop = w.register_shop("Keyed Tea", "POP").await?;
    for (kind, method, path, body) in mutations(&shop) {
        let token = token_for(&w, kind, &shop)?;
        let (status, error) = w
            .call(method.clone(), &path, Some(&token), None, Some(body))
            .await?;
        assert_eq!(
            (status, &error["field_violations"][0]["field"]),
            (400, &json!("Idempotency-Key")),
            "{method} {path}: {error}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn x1_a_merchant_manages_only_their_own_shops_campaigns() -> TestResult {
    let w = start().await?;
    let shop = w.register_shop("Own Tea", "POP").await?;
    let other = w.register_shop("Other Tea", "POP").await?;
    let intruder = w.merchant(&other)?;
    for path in backoffice_reads(&shop) {
        for token in [&intruder, &w.shopper("u-1")?, &w.service("order-system")?] {
            let (status, error) = w.call(Method::GET, &path, Some(token), None, None).await?;
            assert_eq!(
                (status, &error["code"]),
                (403, &json!("PERMISSION_DENIED")),
                "GET {path}: {error}"
            );
        }
    }
    for (kind, method, path, body) in mutations(&shop) {
        if kind != "merchant" {
            continue;
        }
        let (status, error) = w
            .call(
                method.clone(),
                &path,
                Some(&intruder),
                Some(&key()),
                Some(body),
            )
            .await?;
        assert_eq!(
            (status, &error["code"]),
            (403, &json!("PERMISSION_DENIED")),
            "{method} {path}: {error}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn x1_only_a_service_consumes_entitlements_and_shoppers_stay_on_the_storefront() -> TestResult
{
    let w = start().await?;
    let shop = w.register_shop("Gate Tea", "POP").await?;
    let consume = "/api/internal/v1/entitlements/e-1/consume";
    for token in [w.shopper("u-1")?, w.merchant(&shop)?, w.operator()?] {
        let (status, error) = w
            .call(
                Method::POST,
                consume,
                Some(&token),
                Some(&key()),
                Some(json!({"order_id": "o-1"})),
            )
            .await?;
        assert_eq!((status, &error["code"]), (403, &json!("PERMISSION_DENIED")));
    }
    for (kind, method, path, body) in mutations(&shop) {
        if kind != "shopper" {
            continue;
        }
        for token in [w.merchant(&shop)?, w.service("order-system")?] {
            let (status, _) = w
                .call(
                    method.clone(),
                    &path,
                    Some(&token),
                    Some(&key()),
                    Some(body.clone()),
                )
                .await?;
            assert_eq!(status, 403, "{method} {path} is for shoppers");
        }
    }
    let (status, bad) = w
        .call(
            Method::GET,
            &format!("/api/backoffice/v1/shops/{shop}/claims?state=DONE&page_size=x"),
            Some(&w.merchant(&shop)?),
            None,
            None,
        )
        .await?;
    let fields: Vec<&str> = bad["field_violations"]
        .as_array()
        .map(|v| v.iter().filter_map(|f| f["field"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!((status, fields), (400, vec!["state", "page_size"]), "{bad}");
    Ok(())
}

// ------------------------------------------------------------------ a scripted campaign-svc

/// What the scripted campaign-svc was asked: (rpc, actor metadata, user id in the request).
type Calls = Arc<Mutex<Vec<(String, String, String)>>>;

/// campaign-svc with fixed answers: every resource belongs to `owner` (shop) and every claim
/// to `claimant` (shopper).
#[derive(Clone)]
struct Scripted {
    owner: String,
    claimant: String,
    calls: Calls,
}

impl Scripted {
    fn record<T>(&self, rpc: &str, request: &Request<T>, user_id: &str) {
        // This fake is served without the kit's auth layer: verify the gateway's token here.
        let actor = request
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .and_then(|token| {
                memberhub_kit::auth::Verifier::development()
                    .verify(token)
                    .ok()
            })
            .map(|actor| actor.to_string())
            .unwrap_or_default();
        if let Ok(mut calls) = self.calls.lock() {
            calls.push((rpc.into(), actor, user_id.into()));
        }
    }

    fn claim(&self, user_id: &str) -> pb::Claim {
        pb::Claim {
            claim_id: "k-1".into(),
            shop_id: self.owner.clone(),
            user_id: user_id.into(),
            state: pb::ClaimState::Pending.into(),
            kind: pb::ClaimKind::NewMemberPack.into(),
            source_id: "p-1".into(),
            ..Default::default()
        }
    }
}

#[tonic::async_trait]
impl CampaignService for Scripted {
    async fn get_open_card_gift(
        &self,
        request: Request<pb::GetOpenCardGiftRequest>,
    ) -> Result<Response<pb::OpenCardGift>, Status> {
        self.record("GetOpenCardGift", &request, "");
        Ok(Response::new(pb::OpenCardGift {
            campaign_id: request.into_inner().campaign_id,
            shop_id: self.owner.clone(),
            name: "开卡礼".into(),
            status: pb::CampaignStatus::Live.into(),
            ..Default::default()
        }))
    }

    async fn close_open_card_gift(
        &self,
        request: Request<pb::CloseOpenCardGiftRequest>,
    ) -> Result<Response<pb::OpenCardGift>, Status> {
        self.record("CloseOpenCardGift", &request, "");
        Ok(Response::new(pb::OpenCardGift {
            campaign_id: request.into_inner().campaign_id,
            shop_id: self.owner.clone(),
            status: pb::CampaignStatus::Closed.into(),
            ..Default::default()
        }))
    }

    async fn get_claim(
        &self,
        request: Request<pb::GetClaimRequest>,
    ) -> Result<Response<pb::Claim>, Status> {
        self.record("GetClaim", &request, "");
        Ok(Response::new(self.claim(&self.claimant)))
    }

    async fn claim_gift_pack(
        &self,
        request: Request<pb::ClaimGiftPackRequest>,
    ) -> Result<Response<pb::Claim>, Status> {
        let user_id = request.get_ref().user_id.clone();
        self.record("ClaimGiftPack", &request, &user_id);
        Ok(Response::new(self.claim(&user_id)))
    }

    async fn get_storefront_offers(
        &self,
        request: Request<pb::GetStorefrontOffersRequest>,
    ) -> Result<Response<pb::StorefrontOffers>, Status> {
        let user_id = request.get_ref().user_id.clone();
        self.record("GetStorefrontOffers", &request, &user_id);
        Ok(Response::new(pb::StorefrontOffers {
            open_card_gift: Some(pb::OpenCardGift {
                campaign_id: "c-1".into(),
                shop_id: self.owner.clone(),
                name: "开卡礼".into(),
                prizes: vec![pb::Prize {
                    r#type: pb::PrizeType::Beans.into(),
                    amount: 10,
                    batch_key: String::new(),
                }],
                gift_quantity: 100,
                packs_left: 99,
                ..Default::default()
            }),
            show_popup: true,
            shop_type: memberhub_proto::common::ShopType::Pop.into(),
            ..Default::default()
        }))
    }
}

/// Serves `scripted` on a port of its own.
async fn serve_scripted(scripted: Scripted) -> anyhow::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let address = listener.local_addr()?;
    let incoming = tonic::transport::server::TcpIncoming::from(listener);
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(CampaignServiceServer::new(scripted))
            .serve_with_incoming(incoming),
    );
    Ok(address)
}

fn rpcs(calls: &Calls) -> Vec<String> {
    calls
        .lock()
        .map(|c| c.iter().map(|(rpc, _, _)| rpc.clone()).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn x1_resources_of_another_shop_or_shopper_stay_theirs() -> TestResult {
    let w = start().await?;
    let shop = w.register_shop("Mine Tea", "POP").await?;
    let other = w.register_shop("Theirs Tea", "POP").await?;
    let calls = Calls::default();
    let scripted = serve_scripted(Scripted {
        owner: other.clone(),
        claimant: "u-someone-else".into(),
        calls: calls.clone(),
    })
    .await?;
    let base = w
        .extra_gateway(|c| c.campaign_url = format!("http://{scripted}"))
        .await?;
    let merchant = w.merchant(&shop)?;
    let gift = format!("/api/backoffice/v1/shops/{shop}/open-card-gifts/c-1");

    // another shop's campaign named under my shop does not exist here, and closing it
    // is refused before campaign-svc is asked to close anything.
    let (status, error) = w
        .call_at(&base, Method::GET, &gift, Some(&merchant), None, None)
        .await?;
    assert_eq!(
        (status, &error["code"]),
        (404, &json!("NOT_FOUND")),
        "{error}"
    );
    let (status, error) = w
        .call_at(
            &base,
            Method::POST,
            &format!("{gift}/close"),
            Some(&merchant),
            Some(&key()),
            None,
        )
        .await?;
    assert_eq!(status, 404, "{error}");
    assert!(
        !rpcs(&calls).contains(&"CloseOpenCardGift".to_string()),
        "the close was forwarded: {:?}",
        rpcs(&calls)
    );
    // The owner's merchant may close it.
    let (status, closed) = w
        .call_at(
            &base,
            Method::POST,
            &format!("/api/backoffice/v1/shops/{other}/open-card-gifts/c-1/close"),
            Some(&w.merchant(&other)?),
            Some(&key()),
            None,
        )
        .await?;
    assert_eq!(
        (status, &closed["status"]),
        (200, &json!("CLOSED")),
        "{closed}"
    );

    // a shopper reads only their own claims.
    let shopper = w.shopper("u-me")?;
    let (status, error) = w
        .call_at(
            &base,
            Method::GET,
            &format!("/api/storefront/v1/shops/{other}/claims/k-1"),
            Some(&shopper),
            None,
            None,
        )
        .await?;
    assert_eq!(
        (status, &error["code"]),
        (403, &json!("PERMISSION_DENIED")),
        "{error}"
    );
    let (status, mine) = w
        .call_at(
            &base,
            Method::GET,
            &format!("/api/storefront/v1/shops/{other}/claims/k-1"),
            Some(&w.shopper("u-someone-else")?),
            None,
            None,
        )
        .await?;
    assert_eq!((status, &mine["state"]), (200, &json!("PENDING")), "{mine}");

    // a claim is always for the token's user, whatever the request says.
    let (status, claim) = w
        .call_at(
            &base,
            Method::POST,
            &format!("/api/storefront/v1/shops/{other}/gift-packs/p-1/claim?user_id=u-victim"),
            Some(&shopper),
            Some(&key()),
            Some(json!({"user_id": "u-victim"})),
        )
        .await?;
    assert_eq!(
        (status, &claim["user_id"]),
        (200, &json!("u-me")),
        "{claim}"
    );
    let recorded = calls.lock().map(|c| c.clone()).unwrap_or_default();
    let (_, actor, user_id) = recorded
        .iter()
        .find(|(rpc, _, _)| rpc == "ClaimGiftPack")
        .cloned()
        .unwrap_or_default();
    assert_eq!(user_id, "u-me");
    assert_eq!(actor, "shopper:u-me", "the actor metadata");
    Ok(())
}

#[tokio::test]
async fn mp5_the_member_center_carries_campaign_offers() -> TestResult {
    let w = start().await?;
    let shop = w.register_shop("Offer Tea", "POP").await?;
    let calls = Calls::default();
    let scripted = serve_scripted(Scripted {
        owner: shop.clone(),
        claimant: "u-offers".into(),
        calls: calls.clone(),
    })
    .await?;
    let base = w
        .extra_gateway(|c| c.campaign_url = format!("http://{scripted}"))
        .await?;
    let (status, center) = w
        .call_at(
            &base,
            Method::GET,
            &format!("/api/storefront/v1/shops/{shop}/member-center"),
            Some(&w.shopper("u-offers")?),
            None,
            None,
        )
        .await?;
    assert_eq!(status, 200, "{center}");
    assert_eq!(center["degraded"], json!([]), "{center}");
    assert_eq!(center["is_member"], false);
    assert_eq!(center["join_route"], "PLACE_ORDER");
    let offers = &center["offers"];
    assert_eq!(offers["open_card_gift"]["name"], "开卡礼", "{center}");
    assert_eq!(offers["open_card_gift"]["prizes"][0]["type"], "BEANS");
    assert!(
        offers["open_card_gift"].get("gift_quantity").is_none(),
        "no merchant counters on the storefront: {offers}"
    );
    assert_eq!(
        (&offers["show_popup"], &offers["shop_type"]),
        (&json!(true), &json!("POP"))
    );
    assert_eq!(center["coupons"]["available_count"], 0, "{center}");
    let recorded = calls.lock().map(|c| c.clone()).unwrap_or_default();
    assert!(
        recorded
            .iter()
            .any(|(rpc, _, user)| rpc == "GetStorefrontOffers" && user == "u-offers"),
        "{recorded:?}"
    );
    Ok(())
}

#[tokio::test]
async fn openapi_documents_the_campaign_routes() -> TestResult {
    let w = start().await?;
    let doc: Value = w
        .http
        .get(format!("{}/api/openapi.json", w.base))
        .send()
        .await?
        .json()
        .await?;
    for (path, method) in [
        ("/api/backoffice/v1/shops/{shop_id}/open-card-gifts", "post"),
        ("/api/backoffice/v1/shops/{shop_id}/open-card-gifts", "get"),
        (
            "/api/backoffice/v1/shops/{shop_id}/open-card-gifts/{campaign_id}",
            "put",
        ),
        (
            "/api/backoffice/v1/shops/{shop_id}/open-card-gifts/{campaign_id}/close",
            "post",
        ),
        (
            "/api/backoffice/v1/shops/{shop_id}/open-card-gifts/{campaign_id}/statistics",
            "get",
        ),
        ("/api/backoffice/v1/shops/{shop_id}/gift-packs", "post"),
        (
            "/api/backoffice/v1/shops/{shop_id}/gift-packs/{pack_id}/close",
            "post",
        ),
        ("/api/backoffice/v1/shops/{shop_id}/gift-items/{sku}", "put"),
        (
            "/api/backoffice/v1/shops/{shop_id}/new-member-exclusive",
            "put",
        ),
        ("/api/backoffice/v1/shops/{shop_id}/claims", "get"),
        (
            "/api/storefront/v1/shops/{shop_id}/gift-packs/{pack_id}/claim",
            "post",
        ),
        (
            "/api/storefront/v1/shops/{shop_id}/new-member-exclusive/claim",
            "post",
        ),
        ("/api/storefront/v1/shops/{shop_id}/points-exchange", "post"),
        (
            "/api/storefront/v1/shops/{shop_id}/claims/{claim_id}",
            "get",
        ),
        ("/api/storefront/v1/shops/{shop_id}/entitlements", "get"),
        ("/api/storefront/v1/shops/{shop_id}/member-center", "get"),
        (
            "/api/internal/v1/entitlements/{entitlement_id}/consume",
            "post",
        ),
    ] {
        let operation = &doc["paths"][path][method];
        assert!(operation.is_object(), "openapi lacks {method} {path}");
        if method != "get" {
            let names: Vec<&str> = operation["parameters"]
                .as_array()
                .map(|ps| ps.iter().filter_map(|p| p["name"].as_str()).collect())
                .unwrap_or_default();
            assert!(
                names.contains(&"Idempotency-Key"),
                "{method} {path} documents no Idempotency-Key: {names:?}"
            );
        }
    }
    let schemas = &doc["components"]["schemas"];
    for schema in [
        "OpenCardGift",
        "GiftPack",
        "Claim",
        "StorefrontMemberCenter",
        "StorefrontOffers",
    ] {
        assert!(schemas[schema].is_object(), "openapi lacks schema {schema}");
    }
    let center = schemas["StorefrontMemberCenter"].to_string();
    assert!(center.contains("degraded"), "{center}");
    Ok(())
}
