//! Membership end to end through the HTTP gateway: a merchant sets up points, levels and
//! benefits; a shopper opens the card with an SMS code; the order system reports a paid,
//! confirmed and partly refunded history, some of it twice; level, totals, points and the
//! ledger then follow OR-3, OR-4 and LV-5 exactly, the merchant sees the member without a
//! phone (MB-4), and only a service may report orders.
//!
//! The arithmetic (points per yuan 2; level 2 at spend >= 100 yuan OR 2 orders; level 3 at
//! spend >= 500 yuan AND 3 orders):
//!
//! | event                         | spend fen | orders | level | points                         |
//! |-------------------------------|-----------|--------|-------|--------------------------------|
//! | card opened                   |         0 |      0 |     1 |    0                           |
//! | A paid, 123.45 yuan           |         0 |      0 |     1 |    0 (OR-3, OR-4: not yet)     |
//! | A receipt confirmed           |    12 345 |      1 |     2 |  246 = floor(123.45 × 2 × 1)   |
//! | level 2 gets a 1.5x multiplier|           |        |       |                                |
//! | B paid + confirmed, 450 yuan  |    57 345 |      2 |     2 | 1596 = 246 + floor(450 × 2 × 1.5); AND needs 3 orders |
//! | B refund r-1 of 150 yuan      |    42 345 |      2 |     2 | 1146 = 1596 − 1350 × 150/450   |
//! | any of these delivered again  | unchanged (DUPLICATE)                                     |
//!
//! Order A crosses from level 1 to 2 while both levels earn 1x, so its points do not depend
//! on whether the level is recomputed before or after the points of the same event; the
//! multiplier is added (a benefit change, not a level change: LV-4) before order B.

mod support;

use anyhow::Context;
use chrono::{DateTime, SecondsFormat, Utc};
use memberhub_kit::testing::TestResult;
use reqwest::Method;
use serde_json::{Value, json};
use support::{World, start};

const SHOPPER: &str = "u-journey-1";
const PHONE: &str = "13800138000";

/// A fresh idempotency key.
fn key() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// `value` when the call answered 200, else an error naming the call.
fn ok(what: &str, (status, body): (u16, Value)) -> anyhow::Result<Value> {
    anyhow::ensure!(status == 200, "{what}: {status} {body}");
    Ok(body)
}

/// An RFC 3339 UTC time that needs no escaping in a query string.
fn query_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// An order event as the commerce platform's order system reports it (OR-1).
fn order_event(kind: &str, shop: &str, order_id: &str, amount_fen: i64, refund_id: &str) -> Value {
    json!({
        "type": kind,
        "order_id": order_id,
        "shop_id": shop,
        "user_id": SHOPPER,
        "amount_fen": amount_fen,
        "refund_id": refund_id,
        "lines": [{"sku": format!("tea-{order_id}"), "category": "tea", "quantity": 1, "unit_price_fen": amount_fen}],
        "occur_time": query_time(Utc::now()),
    })
}

/// What decides and shows a member's standing.
#[derive(Debug, PartialEq, Eq)]
struct Totals {
    level: i64,
    total_spend_fen: i64,
    order_count: i64,
    points_balance: i64,
}

impl Totals {
    fn new(level: i64, total_spend_fen: i64, order_count: i64, points_balance: i64) -> Self {
        Self {
            level,
            total_spend_fen,
            order_count,
            points_balance,
        }
    }

    fn of(membership: &Value) -> anyhow::Result<Self> {
        let field = |name: &str| {
            membership[name]
                .as_i64()
                .with_context(|| format!("no {name} in {membership}"))
        };
        Ok(Self::new(
            field("level")?,
            field("total_spend_fen")?,
            field("order_count")?,
            field("points_balance")?,
        ))
    }
}

/// The journey's shop and its three callers.
struct Journey {
    w: World,
    shop: String,
    merchant: String,
    shopper: String,
    order_system: String,
}

impl Journey {
    async fn start() -> anyhow::Result<Self> {
        let w = start().await?;
        let shop = w.register_shop("Journey Tea", "POP").await?;
        Ok(Self {
            merchant: w.merchant(&shop)?,
            shopper: w.shopper(SHOPPER)?,
            order_system: w.service("order-system")?,
            shop,
            w,
        })
    }

    /// A merchant call on the shop's back-office; mutations get a fresh idempotency key.
    async fn backoffice(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<(u16, Value)> {
        self.w
            .shop_call("backoffice", &self.shop, &self.merchant, method, path, body)
            .await
    }

    /// The shopper's call on the shop's storefront; mutations get a fresh idempotency key.
    async fn storefront(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<(u16, Value)> {
        self.w
            .shop_call("storefront", &self.shop, &self.shopper, method, path, body)
            .await
    }

    /// Reports one event as the order system, with a fresh key as a redelivery would have.
    async fn report(&self, event: &Value) -> anyhow::Result<String> {
        let reported = self
            .w
            .call(
                Method::POST,
                "/api/internal/v1/order-events",
                Some(&self.order_system),
                Some(&key()),
                Some(event.clone()),
            )
            .await?;
        let reported = ok("report order event", reported)?;
        reported["outcome"]
            .as_str()
            .map(str::to_string)
            .with_context(|| format!("no outcome in {reported}"))
    }

    /// Reports several events in one call; one outcome per event, in order.
    async fn report_batch(&self, events: &[&Value]) -> anyhow::Result<Vec<String>> {
        let reported = self
            .w
            .call(
                Method::POST,
                "/api/internal/v1/order-events/batch",
                Some(&self.order_system),
                Some(&key()),
                Some(json!({ "events": events })),
            )
            .await?;
        let reported = ok("report order events", reported)?;
        Ok(serde_json::from_value(reported["outcomes"].clone())?)
    }

    /// The shopper's own membership.
    async fn membership(&self) -> anyhow::Result<Value> {
        ok(
            "my membership",
            self.storefront(Method::GET, "/membership", None).await?,
        )
    }

    async fn totals(&self) -> anyhow::Result<Totals> {
        Totals::of(&self.membership().await?)
    }
}

#[tokio::test]
async fn issue4_levels_card_orders_points_ledger_and_member_list() -> TestResult {
    let j = Journey::start().await?;
    let started = Utc::now() - chrono::Duration::hours(1);
    set_up_points_and_levels(&j).await?;
    set_up_sms_verified_card_joining(&j).await?;
    open_card_with_the_sms_code(&j).await?;
    report_orders(&j).await?;
    shopper_sees_ledger_and_member_center(&j).await?;
    merchant_sees_the_member_without_a_phone(&j, started).await?;
    only_a_service_reports_orders(&j).await?;
    budget_expiry_following_and_quitting(&j).await?;
    Ok(())
}

/// OR-4, PT-5, MP-6, LV-1..LV-4, LV-6.
async fn set_up_points_and_levels(j: &Journey) -> anyhow::Result<()> {
    let settings = json!({"points_per_yuan": 2, "points_expiry_enabled": true});
    let saved = ok(
        "program settings",
        j.backoffice(Method::PATCH, "/program/settings", Some(settings))
            .await?,
    )?;
    assert_eq!(saved["program"]["points_per_yuan"], 2, "{saved}");
    assert_eq!(saved["program"]["points_expiry_enabled"], true, "{saved}");
    assert_eq!(
        saved["program"]["member_tab_position"], 4,
        "MP-6: position 4 of 5 by default"
    );

    let ladder = json!({"levels": [
        {"level": 1, "name": "1星级"},
        {"level": 2, "name": "银卡", "condition": {"min_spend_fen": 10_000, "min_order_count": 2, "operator": "OR"}},
        {"level": 3, "name": "金卡", "condition": {"min_spend_fen": 50_000, "min_order_count": 3, "operator": "AND"}},
    ]});
    let saved = ok(
        "level rules",
        j.backoffice(Method::PUT, "/levels", Some(ladder)).await?,
    )?;
    assert!(
        warned_about_level(&saved, 2),
        "LV-6: level 2 has no benefits yet: {saved}"
    );
    let rules = ok(
        "get level rules",
        j.backoffice(Method::GET, "/levels", None).await?,
    )?;
    let levels = rules["levels"].as_array().context("no levels")?;
    assert_eq!(levels.len(), 3, "{rules}");
    let level_1 = &levels[0]["condition"];
    assert!(
        level_1["min_spend_fen"].is_null() && level_1["min_order_count"].is_null(),
        "LV-2: level 1 is everyone: {rules}"
    );
    assert_eq!(
        levels[1]["condition"],
        json!({"min_spend_fen": 10_000, "min_order_count": 2, "operator": "OR"})
    );
    assert_eq!(levels[2]["name"], "金卡");
    let last_change = time(&rules["last_change_time"])?;
    let next_change = time(&rules["next_change_allowed_time"])?;
    assert_eq!(
        next_change - last_change,
        chrono::Duration::days(30),
        "LV-4: the next level change is allowed 30 × 24 h after this one"
    );

    // Discount and exclusive access only: a points multiplier is still recommended (LV-6).
    let benefits = json!({"discount_permille": 95, "exclusive_access": true});
    let saved = ok(
        "level 2 benefits",
        j.backoffice(Method::PUT, "/levels/2/benefits", Some(benefits))
            .await?,
    )?;
    assert!(
        warned_about_level(&saved, 2),
        "LV-6: level 2 lacks a points multiplier: {saved}"
    );
    Ok(())
}

/// MP-2, MP-4: a POP shop with the SMS service active, verification on, joining by card.
async fn set_up_sms_verified_card_joining(j: &Journey) -> anyhow::Result<()> {
    let activate = format!("/api/platform/v1/shops/{}/sms-service/activate", j.shop);
    let operator = j.w.operator()?;
    ok(
        "activate SMS service",
        j.w.call(Method::POST, &activate, Some(&operator), Some(&key()), None)
            .await?,
    )?;
    let program = ok(
        "SMS verification",
        j.backoffice(
            Method::PUT,
            "/program/sms-verification",
            Some(json!({"enabled": true})),
        )
        .await?,
    )?;
    assert_eq!(program["sms_verification_enabled"], true);
    let program = ok(
        "join policy",
        j.backoffice(
            Method::PUT,
            "/program/join-policy",
            Some(json!({"join_policy": "CARD"})),
        )
        .await?,
    )?;
    assert_eq!(program["join_policy"], "CARD");
    let center = ok(
        "member center",
        j.storefront(Method::GET, "/member-center", None).await?,
    )?;
    assert_eq!(
        (
            &center["is_member"],
            &center["join_route"],
            &center["phone_required"],
            &center["sms_code_required"]
        ),
        (
            &json!(false),
            &json!("OPEN_CARD"),
            &json!(true),
            &json!(true)
        ),
        "{center}"
    );
    Ok(())
}

/// MP-4, MB-2: a code is sent, a wrong one is refused clearly, the right one opens the card.
async fn open_card_with_the_sms_code(j: &Journey) -> anyhow::Result<()> {
    let sent = ok(
        "send SMS code",
        j.storefront(
            Method::POST,
            "/card/sms-code",
            Some(json!({"phone": PHONE})),
        )
        .await?,
    )?;
    let expires = time(&sent["expire_time"])?;
    let resend = time(&sent["resend_allowed_time"])?;
    let validity_after_resend = (expires - resend).num_seconds();
    assert!(
        (239..=241).contains(&validity_after_resend),
        "MP-4: valid 5 minutes, resend after 60 s: {sent}"
    );
    let code = sent_sms_code(&j.shop, PHONE).await?;

    let wrong = if code == "000000" { "111111" } else { "000000" };
    let open = |sms_code: &str| json!({"phone": PHONE, "sms_code": sms_code, "source": "STOREFRONT", "profile": {"nickname": "小林"}});
    let (status, error) = j
        .storefront(Method::POST, "/card/open", Some(open(wrong)))
        .await?;
    assert_eq!(status, 400, "a wrong code: {error}");
    assert!(
        error["code"] == "FAILED_PRECONDITION" || error["code"] == "INVALID_ARGUMENT",
        "{error}"
    );
    assert!(
        error["reason"].is_string() || error["field_violations"][0]["field"] == "sms_code",
        "the refusal says what was wrong: {error}"
    );
    let center = ok(
        "member center",
        j.storefront(Method::GET, "/member-center", None).await?,
    )?;
    assert_eq!(center["is_member"], false, "a wrong code opens nothing");

    let member = ok(
        "open card",
        j.storefront(Method::POST, "/card/open", Some(open(&code)))
            .await?,
    )?;
    assert_eq!(
        (
            &member["state"],
            &member["join_channel"],
            &member["source"],
            &member["has_phone"]
        ),
        (
            &json!("ACTIVE"),
            &json!("CARD"),
            &json!("STOREFRONT"),
            &json!(true)
        ),
        "MB-2: under CARD a card makes a level-1 member at once: {member}"
    );
    assert!(member["card_open_time"].is_string(), "{member}");
    assert_eq!(Totals::of(&member)?, Totals::new(1, 0, 0, 0));
    Ok(())
}

/// OR-1..OR-4, LV-3, LV-5, LV-6: see the table at the top of this file.
async fn report_orders(j: &Journey) -> anyhow::Result<()> {
    let paid_a = order_event("PAID", &j.shop, "order-a", 12_345, "");
    let confirmed_a = order_event("RECEIPT_CONFIRMED", &j.shop, "order-a", 12_345, "");
    assert_eq!(j.report(&paid_a).await?, "APPLIED");
    assert_eq!(
        j.totals().await?,
        Totals::new(1, 0, 0, 0),
        "OR-3, OR-4: nothing counts before receipt confirmation"
    );
    assert_eq!(j.report(&confirmed_a).await?, "APPLIED");
    assert_eq!(
        j.totals().await?,
        Totals::new(2, 12_345, 1, 246),
        "LV-5: spend >= 100 yuan reaches level 2; floor(123.45 × 2 × 1) points"
    );

    let benefits = json!({"discount_permille": 95, "exclusive_access": true, "points_multiplier_percent": 150});
    let saved = ok(
        "level 2 multiplier",
        j.backoffice(Method::PUT, "/levels/2/benefits", Some(benefits))
            .await?,
    )?;
    assert!(
        !warned_about_level(&saved, 2),
        "LV-6: level 2 has all three recommended benefits: {saved}"
    );

    let paid_b = order_event("PAID", &j.shop, "order-b", 45_000, "");
    let confirmed_b = order_event("RECEIPT_CONFIRMED", &j.shop, "order-b", 45_000, "");
    assert_eq!(
        j.report_batch(&[&paid_b, &confirmed_b]).await?,
        ["APPLIED", "APPLIED"]
    );
    assert_eq!(
        j.totals().await?,
        Totals::new(2, 57_345, 2, 1_596),
        "LV-3: level 3 needs 500 yuan AND 3 orders; B earns floor(450 × 2 × 1.5) = 1350"
    );

    let refund = order_event("REFUNDED", &j.shop, "order-b", 15_000, "refund-b-1");
    assert_eq!(j.report(&refund).await?, "APPLIED");
    let after_refund = Totals::new(2, 42_345, 2, 1_146);
    assert_eq!(
        j.totals().await?,
        after_refund,
        "OR-3: spend net of the refund; OR-4: a third of B's 1350 points reversed"
    );

    // OR-1: redelivered events (fresh keys, as a retrying order system sends them) change nothing.
    assert_eq!(j.report(&confirmed_a).await?, "DUPLICATE");
    assert_eq!(
        j.report_batch(&[&refund, &paid_b]).await?,
        ["DUPLICATE", "DUPLICATE"]
    );
    assert_eq!(j.totals().await?, after_refund, "duplicates change nothing");
    Ok(())
}

/// PT-4, MP-5, LV-6.
async fn shopper_sees_ledger_and_member_center(j: &Journey) -> anyhow::Result<()> {
    let ledger = ok(
        "my ledger",
        j.storefront(Method::GET, "/ledger?asset=POINTS&page_size=50", None)
            .await?,
    )?;
    let entries = ledger["entries"].as_array().context("no entries")?;
    let mut deltas: Vec<i64> = entries.iter().filter_map(|e| e["delta"].as_i64()).collect();
    deltas.sort_unstable();
    assert_eq!(deltas, [-450, 246, 1_350], "{ledger}");
    assert!(entries.iter().all(|e| e["asset"] == "POINTS"), "{ledger}");
    let reversal = entries
        .iter()
        .find(|e| e["delta"] == -450)
        .context("no reversal entry")?;
    assert_eq!(reversal["balance_after"], 1_146, "{ledger}");

    let center = ok(
        "member center",
        j.storefront(Method::GET, "/member-center", None).await?,
    )?;
    assert_eq!(
        (
            &center["is_member"],
            &center["card_opened"],
            &center["level_name"]
        ),
        (&json!(true), &json!(true), &json!("银卡")),
        "{center}"
    );
    assert_eq!(center["benefits"]["points_multiplier_percent"], 150);
    assert_eq!(center["membership"]["points_balance"], 1_146);
    assert_eq!(center["member_tab_position"], 4);
    Ok(())
}

/// MB-4: filters, a total, and rows with level, spend, orders and points but no phone.
async fn merchant_sees_the_member_without_a_phone(
    j: &Journey,
    started: DateTime<Utc>,
) -> anyhow::Result<()> {
    let since = query_time(started);
    let page = ok(
        "members",
        j.backoffice(
            Method::GET,
            &format!("/members?level=2&join_channel=CARD&source=STOREFRONT&join_time_from={since}"),
            None,
        )
        .await?,
    )?;
    assert_eq!(page["total_size"], 1, "{page}");
    let row = &page["members"][0];
    assert_eq!(row["user_id"], SHOPPER);
    assert_eq!(Totals::of(row)?, Totals::new(2, 42_345, 2, 1_146));
    assert_no_phone(&page);

    for filters in [
        "level=3".to_string(),
        "join_channel=ORDER".to_string(),
        format!("join_time_to={since}"),
    ] {
        let page = ok(
            "members",
            j.backoffice(Method::GET, &format!("/members?{filters}"), None)
                .await?,
        )?;
        assert_eq!(page["total_size"], 0, "?{filters}: {page}");
    }
    let (status, error) = j
        .backoffice(Method::GET, "/members?join_time_from=yesterday", None)
        .await?;
    assert_eq!(
        (status, &error["field_violations"][0]["field"]),
        (400, &json!("join_time_from"))
    );

    let member = ok(
        "member",
        j.backoffice(Method::GET, &format!("/members/{SHOPPER}"), None)
            .await?,
    )?;
    assert_eq!(Totals::of(&member)?, Totals::new(2, 42_345, 2, 1_146));
    assert_no_phone(&member);
    Ok(())
}

/// only a service token reports orders; a service token is no shopper.
async fn only_a_service_reports_orders(j: &Journey) -> anyhow::Result<()> {
    let forged = order_event("RECEIPT_CONFIRMED", &j.shop, "order-forged", 99_900, "");
    for token in [&j.shopper, &j.merchant, &j.w.operator()?] {
        let (status, error) =
            j.w.call(
                Method::POST,
                "/api/internal/v1/order-events",
                Some(token),
                Some(&key()),
                Some(forged.clone()),
            )
            .await?;
        assert_eq!((status, &error["code"]), (403, &json!("PERMISSION_DENIED")));
    }
    let (status, error) =
        j.w.call(
            Method::POST,
            "/api/internal/v1/order-events",
            Some(&j.order_system),
            None,
            Some(forged),
        )
        .await?;
    assert_eq!(
        (status, &error["field_violations"][0]["field"]),
        (400, &json!("Idempotency-Key")),
        "X-2: a key is required"
    );
    assert_eq!(j.totals().await?, Totals::new(2, 42_345, 2, 1_146));
    let mine = format!("/api/storefront/v1/shops/{}/membership", j.shop);
    let (status, _) =
        j.w.call(Method::GET, &mine, Some(&j.order_system), None, None)
            .await?;
    assert_eq!(status, 403, "a service token is refused on the storefront");
    Ok(())
}

/// PT-2, PT-4, PT-5, MB-5, MB-3.
async fn budget_expiry_following_and_quitting(j: &Journey) -> anyhow::Result<()> {
    let transfer = ok(
        "recharge",
        j.backoffice(
            Method::POST,
            "/budget/recharge",
            Some(json!({"asset": "BEANS", "amount": 5_000})),
        )
        .await?,
    )?;
    assert_eq!(
        (&transfer["asset"], &transfer["amount"]),
        (&json!("BEANS"), &json!(5_000))
    );
    let budget = ok("budget", j.backoffice(Method::GET, "/budget", None).await?)?;
    let beans = budget["balances"]
        .as_array()
        .and_then(|b| b.iter().find(|b| b["asset"] == "BEANS"))
        .with_context(|| format!("no BEANS budget in {budget}"))?;
    assert_eq!(
        (&beans["available"], &beans["reserved"]),
        (&json!(5_000), &json!(0))
    );

    let expired = ok(
        "expire points",
        j.backoffice(Method::POST, "/points/expire", None).await?,
    )?;
    assert_eq!(
        expired["expired_points"], 0,
        "PT-5: this year's points last until the end of next year"
    );
    assert_eq!(j.totals().await?.points_balance, 1_146);

    let followed = ok("follow", j.storefront(Method::PUT, "/follow", None).await?)?;
    assert_eq!(followed["following"], true);
    let unfollowed = ok(
        "unfollow",
        j.storefront(Method::DELETE, "/follow", None).await?,
    )?;
    assert_eq!(unfollowed["following"], false);

    let quit = ok(
        "quit",
        j.storefront(Method::POST, "/membership/quit", None).await?,
    )?;
    assert_eq!(quit["state"], "QUIT", "{quit}");
    Ok(())
}

/// Whether a save's LV-6 warnings name `level`.
fn warned_about_level(saved: &Value, level: i64) -> bool {
    saved["warnings"]
        .as_array()
        .is_some_and(|ws| ws.iter().any(|w| w["level"] == level))
}

/// MB-4: neither the number nor any phone field reaches a merchant.
fn assert_no_phone(body: &Value) {
    let text = body.to_string();
    assert!(!text.contains(PHONE), "a phone number leaked: {text}");
    assert!(
        !text.replace("\"has_phone\"", "").contains("phone\""),
        "a phone field leaked: {text}"
    );
}

fn time(value: &Value) -> anyhow::Result<DateTime<Utc>> {
    let text = value
        .as_str()
        .with_context(|| format!("not a time: {value}"))?;
    Ok(DateTime::parse_from_rfc3339(text)?.with_timezone(&Utc))
}

/// MP-4: the code membership-svc sent to `phone` for `shop`, from its record of sent SMS.
async fn sent_sms_code(shop: &str, phone: &str) -> anyhow::Result<String> {
    let messages = membership_svc::sms::recorded_messages(phone)
        .map_err(|e| anyhow::anyhow!("reading the recorded SMS: {e}"));
    let latest = messages?
        .into_iter()
        .filter(|m| m.shop_id.to_string().eq_ignore_ascii_case(shop))
        .max_by_key(|m| m.sent_at)
        .with_context(|| format!("no SMS recorded for shop {shop}"))?;
    six_digit_code(&latest.body).with_context(|| format!("no 6-digit code in {:?}", latest.body))
}

/// The first run of exactly six digits in `body`.
fn six_digit_code(body: &str) -> Option<String> {
    body.split(|c: char| !c.is_ascii_digit())
        .find(|run| run.len() == 6)
        .map(str::to_string)
}

#[test]
fn the_code_is_the_run_of_six_digits() {
    assert_eq!(
        six_digit_code("【Journey Tea】验证码 042917，5 分钟内有效").as_deref(),
        Some("042917")
    );
    assert_eq!(
        six_digit_code("code 1234567 or 12345").as_deref(),
        None,
        "seven or five digits are not a code"
    );
}

#[tokio::test]
async fn lv4_a_refused_level_change_tells_the_http_client_when_the_next_is_allowed() -> TestResult {
    let j = Journey::start().await?;
    let ladder = |name: &str| {
        json!({"levels": [
            {"level": 1, "name": "1星级"},
            {"level": 2, "name": name, "condition": {"min_spend_fen": 10_000, "operator": "OR"}},
        ]})
    };
    ok(
        "level rules",
        j.backoffice(Method::PUT, "/levels", Some(ladder("银卡")))
            .await?,
    )?;
    let rules = ok(
        "get level rules",
        j.backoffice(Method::GET, "/levels", None).await?,
    )?;
    let allowed = time(&rules["next_change_allowed_time"])?;
    let (status, error) = j
        .backoffice(Method::PUT, "/levels", Some(ladder("金卡")))
        .await?;
    assert_eq!(
        (status, &error["reason"]),
        (400, &json!("LEVEL_CHANGE_TOO_SOON")),
        "{error}"
    );
    let next = error["metadata"]["next_allowed_at"]
        .as_str()
        .with_context(|| format!("no metadata.next_allowed_at in {error}"))?;
    assert_eq!(DateTime::parse_from_rfc3339(next)?.to_utc(), allowed);
    Ok(())
}

#[tokio::test]
async fn or1_a_negative_quantity_or_a_nul_in_a_line_sku_is_400_naming_the_line() -> TestResult {
    let j = Journey::start().await?;
    let mut event = order_event("PAID", &j.shop, "o-lines", 1_000, "");
    event["lines"][0]["quantity"] = json!(-1);
    event["lines"][0]["sku"] = json!("tea\u{0}");
    let (status, error) =
        j.w.call(
            Method::POST,
            "/api/internal/v1/order-events",
            Some(&j.order_system),
            Some(&key()),
            Some(event),
        )
        .await?;
    assert_eq!(status, 400, "{error}");
    let fields: Vec<&str> = error["field_violations"]
        .as_array()
        .map(|v| v.iter().filter_map(|f| f["field"].as_str()).collect())
        .unwrap_or_default();
    assert!(
        fields.iter().any(|f| f.ends_with("lines[0].quantity"))
            && fields.iter().any(|f| f.ends_with("lines[0].sku")),
        "{error}"
    );
    Ok(())
}
