//! X-1 robustness of the gateway: it sheds past its concurrency limit (503 + Retry-After),
//! drops clients that never finish their headers, refuses oversized bodies, and labels its
//! metrics (and the services') by route template, never by raw path.

mod support;

use std::time::{Duration, Instant};

use memberhub_kit::testing::TestResult;
use reqwest::Method;
use support::{silent_upstream, start};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const LIMIT: usize = 4;

#[tokio::test]
async fn x1_past_its_concurrency_limit_the_gateway_answers_503_with_retry_after_at_once()
-> TestResult {
    let w = start().await?;
    let shop = w.register_shop("Tea House", "POP").await?;
    let hung = silent_upstream().await?;
    let base = w
        .extra_gateway(|config| {
            config.membership_url = format!("http://{hung}");
            config.concurrency_limit = LIMIT;
            config.request_timeout = Duration::from_millis(1500);
            config.compose_critical_deadline = Duration::from_millis(1000);
            config.compose_deadline = Duration::from_millis(500);
        })
        .await?;
    let token = w.merchant(&shop)?;
    let client = reqwest::Client::new();
    let calls: Vec<_> = (0..LIMIT * 10)
        .map(|_| {
            let request = client
                .get(format!("{base}/api/backoffice/v1/shops/{shop}/program"))
                .bearer_auth(&token);
            tokio::spawn(async move {
                let started = Instant::now();
                let response = request.send().await;
                (response, started.elapsed())
            })
        })
        .collect();
    let mut refused = Vec::new();
    let mut slow = 0;
    for call in calls {
        let (response, elapsed) = call.await?;
        let response = response?;
        if response.status() == 503 {
            assert_eq!(
                response
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok()),
                Some("1")
            );
            refused.push(elapsed);
        } else {
            // the hung upstream: the gateway's own deadline answers
            slow += 1;
        }
    }
    assert_eq!(slow, LIMIT, "exactly the limit waited on the upstream");
    refused.sort();
    let p99 = refused[(refused.len() * 99).div_ceil(100) - 1];
    // "At once" means well before the 500 ms compose deadline a waiting request would hit;
    // the bound leaves room for a 2-core machine busy with the rest of the suite.
    assert!(p99 < Duration::from_millis(250), "p99 of refusals {p99:?}");
    // and the normal gateway answers normally
    let (status, _) = w
        .call(
            Method::GET,
            &format!("/api/backoffice/v1/shops/{shop}/program"),
            Some(&token),
            None,
            None,
        )
        .await?;
    assert_eq!(status, 200);
    Ok(())
}

#[tokio::test]
async fn x1_a_client_that_never_finishes_its_headers_is_disconnected() -> TestResult {
    let w = start().await?;
    let base = w
        .extra_gateway(|config| config.header_read_timeout = Duration::from_millis(300))
        .await?;
    let address = base.trim_start_matches("http://");
    let mut socket = tokio::net::TcpStream::connect(address).await?;
    socket
        .write_all(b"GET /api/openapi.json HTTP/1.1\r\nHost: x\r\n")
        .await?;
    let started = Instant::now();
    let mut buffer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), socket.read_to_end(&mut buffer)).await;
    assert!(read.is_ok(), "the connection was held open");
    assert!(started.elapsed() < Duration::from_secs(2));
    Ok(())
}

#[tokio::test]
async fn x1_an_oversized_body_is_refused_with_413() -> TestResult {
    let w = start().await?;
    let shop = w.register_shop("Tea House", "POP").await?;
    let token = w.merchant(&shop)?;
    let huge = "x".repeat(memberhub_gateway::MAX_BODY_BYTES + 1);
    let response = w
        .http
        .post(format!(
            "{}/api/backoffice/v1/shops/{shop}/coupon-batches",
            w.base
        ))
        .bearer_auth(&token)
        .header("Idempotency-Key", "huge")
        .header("Content-Type", "application/json")
        .body(format!("{{\"internal_name\":\"{huge}\"}}"))
        .send()
        .await?;
    assert_eq!(response.status(), 413);
    Ok(())
}

#[tokio::test]
async fn x1_metrics_are_labelled_by_route_template_and_known_method_only() -> TestResult {
    let w = start().await?;
    let shop = w.register_shop("Tea House", "POP").await?;
    let token = w.merchant(&shop)?;
    w.call(
        Method::GET,
        &format!("/api/backoffice/v1/shops/{shop}/program"),
        Some(&token),
        None,
        None,
    )
    .await?;
    w.call(Method::GET, "/api/no/such/route-4711", None, None, None)
        .await?;
    // a gRPC call to a path no service defines
    let channel =
        tonic::transport::Endpoint::from_shared(format!("http://{}", w.suite.membership))?
            .connect()
            .await?;
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await?;
    let codec = tonic_prost::ProstCodec::<(), ()>::default();
    let _ = grpc
        .unary(
            tonic::Request::new(()),
            http::uri::PathAndQuery::from_static("/evil.Service/Method-4711"),
            codec,
        )
        .await;
    let metrics = w
        .http
        .get(format!("{}/metrics", w.base))
        .send()
        .await?
        .text()
        .await?;
    assert!(
        metrics.contains(r#"route="/api/backoffice/v1/shops/{shop_id}/program""#),
        "{metrics}"
    );
    assert!(metrics.contains(r#"route="unmatched""#), "{metrics}");
    assert!(metrics.contains(r#"method="unknown""#), "{metrics}");
    // Only the labels: a sample's value may happen to hold the same digits.
    let labels: Vec<&str> = metrics
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.split_once('{')?.1.split_once('}'))
        .map(|(labels, _)| labels)
        .collect();
    for raw in [shop.as_str(), "4711"] {
        assert!(
            !labels.iter().any(|l| l.contains(raw)),
            "a raw path leaked into a label: {raw}"
        );
    }
    Ok(())
}
