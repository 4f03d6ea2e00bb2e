//! the sandbox clock of `memberhub dev --test-clock`, through the gateway. Operators
//! read and move one clock every service reads; a move answers once the periodic jobs ran
//! at the new time, so a 30-day level lock and a year-end points expiry can be tried at
//! once. Only operators may, and the clock only moves forward (a retry is safe).

mod support;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use memberhub_kit::clock::ManualClock;
use memberhub_kit::testing::TestResult;
use reqwest::Method;
use serde_json::{Value, json};
use support::shop::{Shop, key, ok};

const CLOCK: &str = "/api/platform/v1/sandbox/clock";

fn at(rfc3339: &str) -> anyhow::Result<DateTime<Utc>> {
    Ok(DateTime::parse_from_rfc3339(rfc3339)?.with_timezone(&Utc))
}

async fn advance(s: &Shop, to: DateTime<Utc>) -> anyhow::Result<(u16, Value)> {
    advance_as(s, &s.w.operator()?, to).await
}

async fn advance_as(s: &Shop, token: &str, to: DateTime<Utc>) -> anyhow::Result<(u16, Value)> {
    s.w.call(
        Method::POST,
        &format!("{CLOCK}/advance"),
        Some(token),
        Some(&key()),
        Some(json!({"to": to.to_rfc3339()})),
    )
    .await
}

async fn points(s: &Shop) -> anyhow::Result<Value> {
    let membership = ok(
        "membership",
        s.storefront(Method::GET, "/membership", None).await?,
    )?;
    Ok(membership["points_balance"].clone())
}

#[tokio::test]
async fn x6_operators_move_the_suite_clock_and_the_periodic_jobs_run_as_it_moves() -> TestResult {
    let start = at("2026-03-01T02:00:00Z")?;
    let clock = ManualClock::sandbox(start);
    let w = support::start_with_clock(Arc::new(clock.clone())).await?;
    let s = Shop::start_in(w, "Sandbox Tea", "u-sandbox").await?;
    let operator = s.w.operator()?;

    let shown = ok(
        "read the clock",
        s.w.call(Method::GET, CLOCK, Some(&operator), None, None)
            .await?,
    )?;
    assert_eq!(
        at(shown["now"].as_str().unwrap_or_default())?,
        start,
        "{shown}"
    );
    let (status, _) =
        s.w.call(Method::GET, CLOCK, Some(&s.merchant), None, None)
            .await?;
    assert_eq!(status, 403, "only operators read the sandbox clock");
    let (status, _) = advance_as(&s, &s.shopper, start).await?;
    assert_eq!(status, 403, "only operators move it");

    // PT-5 on, a member with 100 points earned in 2026.
    ok(
        "program settings",
        s.backoffice(
            Method::PATCH,
            "/program/settings",
            Some(json!({"points_per_yuan": 1, "points_expiry_enabled": true})),
        )
        .await?,
    )?;
    s.open_card().await?;
    s.w.paid_and_received(&s.shop, s.user_id, "sandbox-order-1", 10_000, start)
        .await?;
    assert_eq!(points(&s).await?, 100);

    // LV-4: the ladder changes once per 30 days, judged by the moved clock.
    let ladder = |name: &str| {
        json!({"levels": [{"level": 1, "name": "1星级"},
            {"level": 2, "name": name, "condition": {"min_spend_fen": 10_000, "min_order_count": 2, "operator": "OR"}}]})
    };
    ok(
        "first ladder",
        s.backoffice(Method::PUT, "/levels", Some(ladder("银卡")))
            .await?,
    )?;
    let (status, refused) = s
        .backoffice(Method::PUT, "/levels", Some(ladder("金卡")))
        .await?;
    assert_eq!(
        refused["reason"], "LEVEL_CHANGE_TOO_SOON",
        "{status} {refused}"
    );

    let month_later = start + chrono::Duration::days(30);
    let moved = ok("advance 30 days", advance(&s, month_later).await?)?;
    assert_eq!(at(moved["now"].as_str().unwrap_or_default())?, month_later);
    let jobs = moved["caught_up_jobs"].to_string();
    for job in ["points expiry", "claim reconciler", "sprint award"] {
        assert!(jobs.contains(job), "{job} ran at the new time: {moved}");
    }
    assert_eq!(moved["pending_jobs"], json!([]), "{moved}");
    let retried = ok("the same move again", advance(&s, month_later).await?)?;
    assert_eq!(
        retried["now"], moved["now"],
        "moving to the time shown changes nothing"
    );
    let (status, backwards) = advance(&s, start).await?;
    assert_eq!(
        (status, &backwards["reason"]),
        (400, &json!("CLOCK_BACKWARDS")),
        "{backwards}"
    );
    ok(
        "the ladder changes after 30 days",
        s.backoffice(Method::PUT, "/levels", Some(ladder("金卡")))
            .await?,
    )?;
    assert_eq!(
        points(&s).await?,
        100,
        "2026 points live until the end of 2027"
    );

    // PT-5: past the end of 2027 the sweep expires them by itself, before the move answers.
    let expired = ok(
        "advance past 2027",
        advance(&s, at("2028-01-01T12:00:00Z")?).await?,
    )?;
    assert!(
        expired["caught_up_jobs"]
            .to_string()
            .contains("points expiry")
    );
    assert_eq!(points(&s).await?, 0, "the hourly sweep ran at the new time");
    Ok(())
}
