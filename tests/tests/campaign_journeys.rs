//! The campaigns end to end through the HTTP gateway, one journey per campaign type:
//! - open-card gift (OC-3..OC-10): the merchant recharges beans, binds an INTERACTIVE batch
//!   and creates the gift; a shopper without a card sees it in the member center, opens the
//!   card and receives the whole pack once (coupon in the wallet, beans in the ledger);
//!   statistics and stop-loss;
//! - new-member pack (GP-1, GP-2, GP-7, GP-9): a shopper who just opened the card claims it
//!   once and gets its coupon;
//! - points exchange (PT-3): a member spends points on a level benefit's coupon;
//! - gift item and exclusive (GP-2, GP-4, GP-8): a pack's gift item becomes an entitlement
//!   the order system consumes once; a new member takes the exclusive coupon once.

mod support;

use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use memberhub_kit::testing::TestResult;
use reqwest::Method;
use serde_json::{Value, json};
use support::shop::{Shop, key, ok, text};
use support::start;

#[tokio::test]
async fn oc3_oc10_open_card_gift_journey() -> TestResult {
    let s = Shop::start("Gift Tea", "u-oc-1").await?;
    s.recharge("BEANS", 1_000).await?;
    let batch_key = s.live_batch("INTERACTIVE", "open-card coupon").await?;
    let now = Utc::now();
    let gift = json!({
        "name": "开卡有礼",
        "start_time": (now - chrono::Duration::minutes(1)).to_rfc3339(),
        "end_time": (now + chrono::Duration::days(7)).to_rfc3339(),
        "prizes": [
            {"type": "BEANS", "amount": 10},
            {"type": "THRESHOLD_COUPON", "batch_key": batch_key},
        ],
        "gift_quantity": 5,
    });
    let gifts = format!("/api/backoffice/v1/shops/{}/open-card-gifts", s.shop);
    let create_key = key();
    let created = ok(
        "create open-card gift",
        s.w.call(
            Method::POST,
            &gifts,
            Some(&s.merchant),
            Some(&create_key),
            Some(gift.clone()),
        )
        .await?,
    )?;
    let campaign_id = text(&created, "campaign_id")?;
    let replayed = ok(
        "replay",
        s.w.call(
            Method::POST,
            &gifts,
            Some(&s.merchant),
            Some(&create_key),
            Some(gift),
        )
        .await?,
    )?;
    assert_eq!(
        replayed["campaign_id"],
        json!(campaign_id),
        "X-2: a retry returns the first result"
    );
    let listed = ok(
        "list gifts",
        s.backoffice(Method::GET, "/open-card-gifts", None).await?,
    )?;
    assert_eq!(
        listed["gifts"].as_array().map(Vec::len),
        Some(1),
        "{listed}"
    );
    let other = s.w.register_shop("Other Gift Tea", "POP").await?;
    let (status, error) =
        s.w.call(
            Method::GET,
            &format!("/api/backoffice/v1/shops/{other}/open-card-gifts/{campaign_id}"),
            Some(&s.w.merchant(&other)?),
            None,
            None,
        )
        .await?;
    assert!(
        (status == 403 || status == 404) && error.get("campaign_id").is_none(),
        "X-1: another shop's gift is refused there: {status} {error}"
    );
    assert_eq!(created["status"], "LIVE", "{created}");
    assert_eq!(created["packs_left"], 5, "{created}");
    let budget = ok("budget", s.backoffice(Method::GET, "/budget", None).await?)?;
    let beans = budget["balances"]
        .as_array()
        .and_then(|b| b.iter().find(|b| b["asset"] == "BEANS"))
        .with_context(|| format!("no BEANS budget in {budget}"))?;
    assert_eq!(
        beans["reserved"], 50,
        "OC-5: 5 packs × 10 beans reserved: {budget}"
    );
    let (status, error) = s
        .backoffice(
            Method::PUT,
            "/program/join-policy",
            Some(json!({"join_policy": "ORDER"})),
        )
        .await?;
    assert_eq!(
        status, 400,
        "OC-3: no ORDER policy while the gift is live: {error}"
    );

    // MP-5, OC-3: the shopper without a card sees the gift and how to open the card.
    let center = s.member_center_with_offers().await?;
    assert_eq!(center["join_route"], "OPEN_CARD", "{center}");
    assert_eq!(
        center["offers"]["open_card_gift"]["campaign_id"],
        json!(campaign_id)
    );

    // OC-7: opening the card grants the whole pack once.
    s.open_card().await?;
    let mut claim = Value::Null;
    for _ in 0..100 {
        let center = s.member_center_with_offers().await?;
        claim = center["offers"]["open_card_gift_claim"].clone();
        if claim["state"] == "GRANTED" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(claim["state"], "GRANTED", "{claim}");
    let center = s.member_center_with_offers().await?;
    assert!(
        center["offers"]["open_card_gift"].is_null(),
        "OC-3: a carded member is no longer offered the gift: {center}"
    );
    let wallet = s.wallet().await?;
    assert_eq!(
        wallet
            .iter()
            .filter(|c| c["batch_key"] == json!(batch_key))
            .count(),
        1,
        "{wallet:?}"
    );
    let ledger = ok(
        "beans ledger",
        s.storefront(Method::GET, "/ledger?asset=BEANS", None)
            .await?,
    )?;
    let deltas: Vec<i64> = ledger["entries"]
        .as_array()
        .map(|e| e.iter().filter_map(|e| e["delta"].as_i64()).collect())
        .unwrap_or_default();
    assert_eq!(deltas, [10], "{ledger}");

    let claims = ok(
        "claims",
        s.backoffice(
            Method::GET,
            &format!("/claims?user_id={}&source_id={campaign_id}", s.user_id),
            None,
        )
        .await?,
    )?;
    assert_eq!(
        claims["claims"].as_array().map(Vec::len),
        Some(1),
        "{claims}"
    );
    let stats = ok(
        "statistics",
        s.backoffice(
            Method::GET,
            &format!("/open-card-gifts/{campaign_id}/statistics"),
            None,
        )
        .await?,
    )?;
    assert_eq!(stats["packs_left"], 4, "{stats}");
    let granted: i64 = stats["days"]
        .as_array()
        .map(|d| d.iter().filter_map(|d| d["packs_granted"].as_i64()).sum())
        .unwrap_or_default();
    assert_eq!(granted, 1, "{stats}");

    // OC-9: stop-loss.
    let closed = ok(
        "close",
        s.backoffice(
            Method::POST,
            &format!("/open-card-gifts/{campaign_id}/close"),
            None,
        )
        .await?,
    )?;
    assert_eq!(closed["status"], "CLOSED", "{closed}");
    Ok(())
}

#[tokio::test]
async fn gp1_gp9_new_member_pack_journey() -> TestResult {
    let s = Shop::start("Pack Tea", "u-gp-1").await?;
    Ok(new_member_pack_journey(&s).await?)
}

/// Production runs each service as its own Postgres role that owns its schema: the same
/// journey (membership-svc opens the card, coupon-svc issues, campaign-svc's saga grants)
/// works with each service connected as its role after `memberhub migrate`, and no role
/// reaches another service's tables.
#[tokio::test]
async fn deploy_each_service_runs_as_its_own_role_and_reads_no_other_schema() -> TestResult {
    let db = support::migrated_db().await?;
    // Fixed names (roles are per cluster), a fresh password per run.
    let password = uuid::Uuid::now_v7().simple().to_string();
    let as_role = |service: &str| -> anyhow::Result<String> {
        let mut url = url::Url::parse(&db.url)?;
        url.set_username(&format!("memberhub_test_{service}"))
            .map_err(|()| anyhow::anyhow!("no user in {url}"))?;
        url.set_password(Some(&password))
            .map_err(|()| anyhow::anyhow!("no password in {url}"))?;
        Ok(url.to_string())
    };
    let databases = memberhub::Databases {
        membership: as_role("membership")?,
        coupon: as_role("coupon")?,
        campaign: as_role("campaign")?,
    };
    let args = memberhub::migrate::MigrateArgs {
        admin_url: Some(db.url.clone()),
        membership_url: databases.membership.clone(),
        coupon_url: databases.coupon.clone(),
        campaign_url: databases.campaign.clone(),
    };
    // The schemas were made by the superuser (as a suite run by one user makes them): the
    // bootstrap hands them over; a second run changes nothing.
    memberhub::migrate::run(&args).await?;
    memberhub::migrate::run(&args).await?;

    let coupon = sqlx::PgPool::connect(&databases.coupon).await?;
    let owner: String = sqlx::query_scalar(
        "SELECT tableowner::text FROM pg_tables WHERE schemaname = 'coupon' AND tablename = 'coupons'",
    )
    .fetch_one(&coupon)
    .await?;
    assert_eq!(owner, "memberhub_test_coupon");
    for (statement, what) in [
        (
            "SELECT count(*) FROM membership.members",
            "read membership's members",
        ),
        (
            "SELECT count(*) FROM campaign.claims",
            "read campaign's claims",
        ),
        (
            "DELETE FROM membership.points_lots",
            "write membership's ledger",
        ),
    ] {
        let refused = sqlx::query(statement).execute(&coupon).await;
        let code = refused.as_ref().err().and_then(memberhub_kit::db::sqlstate);
        assert_eq!(
            code.as_deref(),
            Some("42501"),
            "coupon-svc's role may not {what}: {refused:?}"
        );
    }
    let membership = sqlx::PgPool::connect(&databases.membership).await?;
    let refused = sqlx::query("SELECT count(*) FROM coupon.coupons")
        .execute(&membership)
        .await;
    assert_eq!(
        refused
            .as_ref()
            .err()
            .and_then(memberhub_kit::db::sqlstate)
            .as_deref(),
        Some("42501"),
        "membership-svc's role may not read coupons: {refused:?}"
    );
    coupon.close().await;
    membership.close().await;

    let w = support::start_on(db, databases, memberhub_kit::clock::system()).await?;
    let s = Shop::start_in(w, "Role Tea", "u-role-1").await?;
    Ok(new_member_pack_journey(&s).await?)
}

async fn new_member_pack_journey(s: &Shop) -> anyhow::Result<()> {
    let batch_key = s.live_batch("CRM", "new-member coupon").await?;
    let pack_id = s.new_member_pack(&batch_key, 10).await?;
    let listed = ok(
        "list packs",
        s.backoffice(Method::GET, "/gift-packs?kind=NEW_MEMBER", None)
            .await?,
    )?;
    assert_eq!(listed["packs"][0]["pack_id"], json!(pack_id), "{listed}");

    s.open_card().await?;
    let center = s.member_center_with_offers().await?;
    let claimable: Vec<&Value> = center["offers"]["claimable_packs"]
        .as_array()
        .map(|p| p.iter().collect())
        .unwrap_or_default();
    assert!(
        claimable.iter().any(|p| p["pack_id"] == json!(pack_id)),
        "GP-1: a new member may claim the pack: {center}"
    );
    assert_eq!(center["offers"]["show_popup"], true, "GP-7: {center}");

    let claim = ok(
        "claim pack",
        s.storefront(Method::POST, &format!("/gift-packs/{pack_id}/claim"), None)
            .await?,
    )?;
    let claim = s.settled_claim(&text(&claim, "claim_id")?).await?;
    assert_eq!(claim["state"], "GRANTED", "{claim}");
    let wallet = s.wallet().await?;
    assert!(
        wallet.iter().any(|c| c["batch_key"] == json!(batch_key)),
        "{wallet:?}"
    );
    let (status, again) = s
        .storefront(Method::POST, &format!("/gift-packs/{pack_id}/claim"), None)
        .await?;
    assert!(
        status != 200 || again["claim_id"] == claim["claim_id"],
        "GP-1: once per shopper: {status} {again}"
    );
    let closed = ok(
        "close pack",
        s.backoffice(Method::POST, &format!("/gift-packs/{pack_id}/close"), None)
            .await?,
    )?;
    assert_eq!(closed["status"], "CLOSED", "{closed}");
    Ok(())
}

#[tokio::test]
async fn pt3_points_exchange_journey() -> TestResult {
    let s = Shop::start("Points Tea", "u-pt-1").await?;
    let batch_key = s.live_batch("CRM", "points coupon").await?;
    ok(
        "settings",
        s.backoffice(
            Method::PATCH,
            "/program/settings",
            Some(json!({"points_per_yuan": 10})),
        )
        .await?,
    )?;
    ok(
        "levels",
        s.backoffice(
            Method::PUT,
            "/levels",
            Some(json!({"levels": [{"level": 1, "name": "会员"}]})),
        )
        .await?,
    )?;
    let benefits = json!({"points_for_coupon": [
        {"item_id": "coupon-100", "title": "10 元券", "points_cost": 100, "target": batch_key},
        {"item_id": "coupon-big", "title": "大券", "points_cost": 1_000_000, "target": batch_key},
    ]});
    ok(
        "benefits",
        s.backoffice(Method::PUT, "/levels/1/benefits", Some(benefits))
            .await?,
    )?;
    s.open_card().await?;
    s.w.paid_and_received(&s.shop, s.user_id, "o-points", 10_000, Utc::now())
        .await?;
    let before = s.member_center().await?["membership"]["points_balance"]
        .as_i64()
        .context("no points")?;
    assert_eq!(before, 1_000, "100 yuan × 10 points");
    let item_id = s.member_center().await?["benefits"]["points_for_coupon"][0]["item_id"]
        .as_str()
        .map(str::to_string)
        .context("no exchange item in the member center")?;

    let claim = ok(
        "exchange",
        s.storefront(
            Method::POST,
            "/points-exchange",
            Some(json!({"item_id": item_id})),
        )
        .await?,
    )?;
    let claim = s.settled_claim(&text(&claim, "claim_id")?).await?;
    assert_eq!(claim["state"], "GRANTED", "{claim}");
    let after = s.member_center().await?["membership"]["points_balance"]
        .as_i64()
        .context("no points")?;
    assert_eq!(after, before - 100, "PT-3: the cost is spent");
    assert!(
        s.wallet()
            .await?
            .iter()
            .any(|c| c["batch_key"] == json!(batch_key))
    );

    // PT-3: an exchange the balance cannot pay changes nothing.
    let big = s.member_center().await?["benefits"]["points_for_coupon"][1]["item_id"]
        .as_str()
        .map(str::to_string)
        .context("no second exchange item")?;
    let (status, refused) = s
        .storefront(
            Method::POST,
            "/points-exchange",
            Some(json!({"item_id": big})),
        )
        .await?;
    if status == 200 {
        let refused = s.settled_claim(&text(&refused, "claim_id")?).await?;
        assert_eq!(refused["state"], "FAILED", "{refused}");
    } else {
        assert!((400..500).contains(&status), "{status} {refused}");
    }
    let last = s.member_center().await?["membership"]["points_balance"]
        .as_i64()
        .context("no points")?;
    assert_eq!(last, after, "PT-3: the points come back");
    Ok(())
}

#[tokio::test]
async fn gp4_gp8_gift_item_entitlement_and_new_member_exclusive_journey() -> TestResult {
    // A POP shop with the gift_items capability, joining by card.
    let w = start().await?;
    let operator = w.operator()?;
    let shop = ok(
        "register shop",
        w.call(
            Method::POST,
            "/api/platform/v1/shops",
            Some(&operator),
            Some(&key()),
            Some(json!({"name": "Gift Item Tea", "type": "POP",
                "logo_url": "https://img.example.com/l.png", "gift_items": true})),
        )
        .await?,
    )?;
    let shop = text(&shop, "shop_id")?;
    let s = Shop::existing(w, shop, "u-gp-4")?;
    ok(
        "join policy",
        s.backoffice(
            Method::PUT,
            "/program/join-policy",
            Some(json!({"join_policy": "CARD"})),
        )
        .await?,
    )?;

    // GP-2: a gift item, a pack with a coupon and the item; GP-8: an exclusive coupon.
    let item = ok(
        "gift item",
        s.backoffice(
            Method::PUT,
            "/gift-items/tea-sample",
            Some(json!({"title": "tea sample", "gift_category": true, "stock": 5})),
        )
        .await?,
    )?;
    assert_eq!(
        (&item["sku"], &item["stock"]),
        (&json!("tea-sample"), &json!(5))
    );
    let pack_batch = s.live_batch("CRM", "pack coupon").await?;
    let exclusive_batch = s.live_batch("CRM", "exclusive coupon").await?;
    let now = Utc::now();
    let pack = ok(
        "create pack",
        s.backoffice(
            Method::POST,
            "/gift-packs",
            Some(json!({
                "kind": "NEW_MEMBER",
                "name": "新人礼包",
                "start_time": (now - chrono::Duration::minutes(1)).to_rfc3339(),
                "end_time": (now + chrono::Duration::days(7)).to_rfc3339(),
                "batch_keys": [pack_batch],
                "gift_item": {"sku": "tea-sample", "quantity": 2},
            })),
        )
        .await?,
    )?;
    let pack_id = text(&pack, "pack_id")?;
    assert_eq!(pack["gift_item"]["sku"], "tea-sample", "{pack}");
    let exclusive = ok(
        "set exclusive",
        s.backoffice(
            Method::PUT,
            "/new-member-exclusive",
            Some(json!({"batch_key": exclusive_batch})),
        )
        .await?,
    )?;
    assert_eq!(
        exclusive["batch_key"],
        json!(exclusive_batch),
        "{exclusive}"
    );
    let read = ok(
        "get exclusive",
        s.backoffice(Method::GET, "/new-member-exclusive", None)
            .await?,
    )?;
    assert_eq!(read["batch_key"], json!(exclusive_batch), "{read}");
    let items = ok(
        "gift items",
        s.backoffice(Method::GET, "/gift-items", None).await?,
    )?;
    assert_eq!(items["items"][0]["sku"], "tea-sample", "{items}");

    // A new member sees both offers and claims them.
    s.open_card().await?;
    let center = s.member_center_with_offers().await?;
    assert_eq!(
        center["offers"]["new_member_exclusive"]["batch_key"],
        json!(exclusive_batch),
        "GP-8: {center}"
    );
    let claim = ok(
        "claim pack",
        s.storefront(Method::POST, &format!("/gift-packs/{pack_id}/claim"), None)
            .await?,
    )?;
    let claim = s.settled_claim(&text(&claim, "claim_id")?).await?;
    assert_eq!(claim["state"], "GRANTED", "{claim}");
    let entitlement_id = claim["items"]
        .as_array()
        .and_then(|items| items.iter().find_map(|i| i["entitlement_id"].as_str()))
        .map(str::to_string)
        .with_context(|| format!("GP-4: no entitlement in {claim}"))?;
    let held = ok(
        "entitlements",
        s.storefront(Method::GET, "/entitlements", None).await?,
    )?;
    let held = held["entitlements"].as_array().cloned().unwrap_or_default();
    assert_eq!(held.len(), 1, "{held:?}");
    assert_eq!(
        (&held[0]["sku"], &held[0]["price_fen"], &held[0]["state"]),
        (&json!("tea-sample"), &json!(1), &json!("AVAILABLE")),
        "GP-4: the right to buy it for 0.01 yuan"
    );

    // GP-4: the order system consumes it once.
    let order_system = s.w.service("order-system")?;
    let consume = format!("/api/internal/v1/entitlements/{entitlement_id}/consume");
    let consume_key = key();
    let consumed = ok(
        "consume",
        s.w.call(
            Method::POST,
            &consume,
            Some(&order_system),
            Some(&consume_key),
            Some(json!({"order_id": "o-gift-1"})),
        )
        .await?,
    )?;
    assert_eq!(
        (&consumed["state"], &consumed["order_id"]),
        (&json!("CONSUMED"), &json!("o-gift-1"))
    );
    let replayed = ok(
        "consume again",
        s.w.call(
            Method::POST,
            &consume,
            Some(&order_system),
            Some(&consume_key),
            Some(json!({"order_id": "o-gift-1"})),
        )
        .await?,
    )?;
    assert_eq!(replayed, consumed, "X-2: a replay returns the first result");
    let (status, refused) =
        s.w.call(
            Method::POST,
            &consume,
            Some(&order_system),
            Some(&key()),
            Some(json!({"order_id": "o-gift-2"})),
        )
        .await?;
    assert_eq!(
        status, 400,
        "a consumed entitlement is not used twice: {refused}"
    );

    // GP-8: one exclusive, once.
    let claim = ok(
        "claim exclusive",
        s.storefront(
            Method::POST,
            "/new-member-exclusive/claim",
            Some(json!({"choice": "COUPON"})),
        )
        .await?,
    )?;
    let claim = s.settled_claim(&text(&claim, "claim_id")?).await?;
    assert_eq!(claim["state"], "GRANTED", "{claim}");
    let wallet = s.wallet().await?;
    for batch in [&pack_batch, &exclusive_batch] {
        assert!(
            wallet.iter().any(|c| c["batch_key"] == json!(batch)),
            "{batch} not in {wallet:?}"
        );
    }
    let (status, again) = s
        .storefront(
            Method::POST,
            "/new-member-exclusive/claim",
            Some(json!({"choice": "COUPON"})),
        )
        .await?;
    assert!(
        status != 200 || again["claim_id"] == claim["claim_id"],
        "GP-8: once per shop: {status} {again}"
    );
    Ok(())
}

/// A points open-card gift (no budget needed) over the next `days` days, named `name`.
fn points_gift(name: &str, days: i64) -> Value {
    let now = Utc::now();
    json!({
        "name": name,
        "start_time": (now - chrono::Duration::minutes(1)).to_rfc3339(),
        "end_time": (now + chrono::Duration::days(days)).to_rfc3339(),
        "prizes": [{"type": "POINTS", "amount": 10}],
        "gift_quantity": 5,
    })
}

#[tokio::test]
async fn x1_another_shops_campaign_or_pack_id_under_ones_own_shop_is_404_revealing_nothing()
-> TestResult {
    let s = Shop::start("Owner Tea", "u-x1-1").await?;
    let created = ok(
        "create gift",
        s.backoffice(
            Method::POST,
            "/open-card-gifts",
            Some(points_gift("开卡有礼", 7)),
        )
        .await?,
    )?;
    let campaign_id = text(&created, "campaign_id")?;
    let batch = s.live_batch("CRM", "pack coupon").await?;
    let now = Utc::now();
    let pack = ok(
        "create pack",
        s.backoffice(
            Method::POST,
            "/gift-packs",
            Some(json!({
                "kind": "NEW_MEMBER",
                "name": "新人礼包",
                "start_time": (now - chrono::Duration::minutes(1)).to_rfc3339(),
                "end_time": (now + chrono::Duration::days(7)).to_rfc3339(),
                "batch_keys": [batch],
            })),
        )
        .await?,
    )?;
    let pack_id = text(&pack, "pack_id")?;

    // A merchant of another shop names these ids under their own shop's path.
    let other = s.w.register_shop("Prying Tea", "POP").await?;
    let prying = s.w.merchant(&other)?;
    let reads = [
        (Method::GET, format!("/open-card-gifts/{campaign_id}")),
        (
            Method::GET,
            format!("/open-card-gifts/{campaign_id}/statistics"),
        ),
        (
            Method::POST,
            format!("/open-card-gifts/{campaign_id}/close"),
        ),
        (Method::GET, format!("/gift-packs/{pack_id}")),
        (Method::POST, format!("/gift-packs/{pack_id}/close")),
    ];
    for (method, path) in reads {
        let (status, error) =
            s.w.shop_call("backoffice", &other, &prying, method.clone(), &path, None)
                .await?;
        assert_eq!(
            (status, &error["code"]),
            (404, &json!("NOT_FOUND")),
            "{method} {path}: {error}"
        );
        assert!(
            !error.to_string().contains(&s.shop),
            "{method} {path} names the owner: {error}"
        );
    }
    // The owner still sees both, open.
    let gift = ok(
        "own gift",
        s.backoffice(
            Method::GET,
            &format!("/open-card-gifts/{campaign_id}"),
            None,
        )
        .await?,
    )?;
    assert_eq!(gift["status"], "LIVE", "{gift}");
    Ok(())
}

#[tokio::test]
async fn x3_a_nul_in_a_gift_name_is_400_naming_the_field_and_an_overlap_names_the_campaign()
-> TestResult {
    let s = Shop::start("Strict Tea", "u-x3-1").await?;
    for name in ["开卡\u{0}有礼", "gift\u{7}"] {
        let (status, error) = s
            .backoffice(Method::POST, "/open-card-gifts", Some(points_gift(name, 7)))
            .await?;
        assert_eq!(
            (status, &error["field_violations"][0]["field"]),
            (400, &json!("name")),
            "{error}"
        );
    }
    let (status, error) = s
        .backoffice(
            Method::POST,
            "/open-card-gifts",
            Some(points_gift("gift", 400)),
        )
        .await?;
    assert_eq!(
        (status, &error["field_violations"][0]["field"]),
        (400, &json!("end_time")),
        "{error}"
    );
    let first = ok(
        "create gift",
        s.backoffice(
            Method::POST,
            "/open-card-gifts",
            Some(points_gift("first", 7)),
        )
        .await?,
    )?;
    let (status, error) = s
        .backoffice(
            Method::POST,
            "/open-card-gifts",
            Some(points_gift("second", 7)),
        )
        .await?;
    assert_eq!(
        (status, &error["reason"]),
        (400, &json!("OPEN_CARD_GIFT_OVERLAP")),
        "{error}"
    );
    assert_eq!(
        error["metadata"]["campaign_id"], first["campaign_id"],
        "the ErrorInfo metadata reaches the HTTP client: {error}"
    );
    Ok(())
}
