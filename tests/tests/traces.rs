//! Traces end to end: the gateway and the three services run as separate processes, each
//! exporting OTLP to a receiver in this test (a tonic server implementing the collector's
//! trace service). One storefront member-center call and one gift-pack claim each arrive
//! as one trace with spans from all four processes, each service span the child of a span
//! of a process that calls it, and the gateway's `x-trace-id` naming that trace.

mod support;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use memberhub_kit::testing::TestResult;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use support::Api;
use support::processes::{Deployment, jwt_secret};
use support::shop::{Shop, text};

/// One received span.
#[derive(Debug, Clone)]
struct Span {
    service: String,
    #[expect(dead_code, reason = "read through Debug in failure messages")]
    name: String,
    trace_id: String,
    span_id: String,
    parent_span_id: String,
}

#[derive(Clone, Default)]
struct Receiver {
    spans: Arc<Mutex<Vec<Span>>>,
}

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut received = Vec::new();
        for resource_spans in request.into_inner().resource_spans {
            let service = resource_spans
                .resource
                .iter()
                .flat_map(|r| &r.attributes)
                .find(|a| a.key == "service.name")
                .and_then(|a| a.value.as_ref()?.value.as_ref())
                .map(|v| match v {
                    AnyValue::StringValue(s) => s.clone(),
                    other => format!("{other:?}"),
                })
                .unwrap_or_default();
            for span in resource_spans.scope_spans.into_iter().flat_map(|s| s.spans) {
                received.push(Span {
                    service: service.clone(),
                    name: span.name,
                    trace_id: hex(&span.trace_id),
                    span_id: hex(&span.span_id),
                    parent_span_id: hex(&span.parent_span_id),
                });
            }
        }
        self.spans
            .lock()
            .map_err(|_| tonic::Status::internal("poisoned"))?
            .extend(received);
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Receiver {
    /// The spans of `trace_id` once every service in `services` has sent one (the
    /// processes export in batches every 100 ms).
    async fn trace(&self, trace_id: &str, services: &[&str]) -> anyhow::Result<Vec<Span>> {
        let mut spans = Vec::new();
        for _ in 0..100 {
            spans = self
                .spans
                .lock()
                .map_err(|_| anyhow::anyhow!("poisoned"))?
                .iter()
                .filter(|s| s.trace_id == trace_id)
                .cloned()
                .collect();
            let seen: HashSet<&str> = spans.iter().map(|s| s.service.as_str()).collect();
            if services.iter().all(|s| seen.contains(s)) {
                // what a service's batch may still hold of the same trace
                tokio::time::sleep(Duration::from_millis(300)).await;
                return Ok(self
                    .spans
                    .lock()
                    .map_err(|_| anyhow::anyhow!("poisoned"))?
                    .iter()
                    .filter(|s| s.trace_id == trace_id)
                    .cloned()
                    .collect());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        anyhow::bail!("trace {trace_id} lacks one of {services:?} after 10 s: {spans:#?}")
    }
}

/// Every span but the gateway's root has its parent in the trace; a service's spans hang
/// from a span of a process that calls it.
fn assert_one_tree(spans: &[Span], callers: &HashMap<&str, &[&str]>) {
    let by_id: HashMap<&str, &Span> = spans.iter().map(|s| (s.span_id.as_str(), s)).collect();
    let roots: Vec<&Span> = spans
        .iter()
        .filter(|s| s.parent_span_id.is_empty() || s.parent_span_id == "0000000000000000")
        .collect();
    assert_eq!(roots.len(), 1, "one root: {roots:#?}");
    assert_eq!(
        roots[0].service, "gateway",
        "the gateway starts the trace: {roots:#?}"
    );
    for span in spans.iter().filter(|s| s.span_id != roots[0].span_id) {
        let parent = by_id
            .get(span.parent_span_id.as_str())
            .unwrap_or_else(|| panic!("the parent of {span:?} is not in the trace: {spans:#?}"));
        if parent.service != span.service {
            let allowed = callers.get(span.service.as_str()).copied().unwrap_or(&[]);
            assert!(
                allowed.contains(&parent.service.as_str()),
                "{} is called by {}, which does not call it: {span:?} under {parent:?}",
                span.service,
                parent.service
            );
        }
    }
}

#[tokio::test]
async fn deploy_traces_cross_every_process_under_the_gateways_trace_id() -> TestResult {
    let receiver = Receiver::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let collector = listener.local_addr()?;
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(receiver.clone()))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );

    let db = support::migrated_db().await?;
    let mut deployment = Deployment::new(&db.url)?;
    deployment.env = vec![
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT".into(),
            format!("http://{collector}"),
        ),
        ("OTEL_BSP_SCHEDULE_DELAY".into(), "100".into()),
    ];
    let membership = deployment.membership().await?;
    let coupon = deployment.coupon(&membership.url()).await?;
    let campaign = deployment
        .campaign(&membership.url(), &coupon.url())
        .await?;
    let gateway = deployment
        .gateway(&membership.url(), &coupon.url(), &campaign.url())
        .await?;

    let api = Api::new(gateway.url(), &jwt_secret())?;
    let s = Shop::on(api.clone(), None, "Traced Tea", "u-trace-1").await?;
    let batch_key = s.live_batch("CRM", "traced coupon").await?;
    let pack_id = s.new_member_pack(&batch_key, 10).await?;
    s.open_card().await?;

    let callers: HashMap<&str, &[&str]> = HashMap::from([
        (
            "membership-svc",
            &["gateway", "coupon-svc", "campaign-svc"][..],
        ),
        ("coupon-svc", &["gateway", "campaign-svc"][..]),
        ("campaign-svc", &["gateway"][..]),
    ]);

    // The member center composes all three services.
    let response = api
        .http
        .get(format!(
            "{}/api/storefront/v1/shops/{}/member-center",
            api.base, s.shop
        ))
        .bearer_auth(&s.shopper)
        .send()
        .await?;
    assert_eq!(response.status(), 200);
    let trace_id = response
        .headers()
        .get("x-trace-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .ok_or_else(|| anyhow::anyhow!("no x-trace-id on the member center"))?;
    let spans = receiver
        .trace(
            &trace_id,
            &["gateway", "membership-svc", "coupon-svc", "campaign-svc"],
        )
        .await?;
    assert_one_tree(&spans, &callers);

    // The claim: the gateway, campaign-svc reading the membership from membership-svc, its
    // saga issuing through coupon-svc.
    let response = api
        .http
        .post(format!(
            "{}/api/storefront/v1/shops/{}/gift-packs/{pack_id}/claim",
            api.base, s.shop
        ))
        .bearer_auth(&s.shopper)
        .header("Idempotency-Key", uuid::Uuid::now_v7().to_string())
        .send()
        .await?;
    let trace_id = response
        .headers()
        .get("x-trace-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .ok_or_else(|| anyhow::anyhow!("no x-trace-id on the claim"))?;
    let claim: serde_json::Value = response.json().await?;
    let claim = s.settled_claim(&text(&claim, "claim_id")?).await?;
    assert_eq!(claim["state"], "GRANTED", "{claim}");
    let spans = receiver
        .trace(
            &trace_id,
            &["gateway", "membership-svc", "campaign-svc", "coupon-svc"],
        )
        .await?;
    assert_one_tree(&spans, &callers);

    drop((gateway, campaign, coupon, membership));
    server.abort();
    Ok(())
}
