//! OR-1..OR-4: the commerce platform's order and add-to-cart events (a service caller
//! only).

use memberhub_kit::actor::Actor;
use memberhub_kit::idempotency::IdempotencyKey;
use memberhub_proto::membership as pb;
use tonic::{Request, Response};

use super::{Membership, Rpc};
use crate::convert;
use crate::store::{cart, orders};

pub(super) async fn report_order_event(
    svc: &Membership,
    request: Request<pb::ReportOrderEventRequest>,
) -> Rpc<pb::ReportOrderEventResponse> {
    let actor = Actor::from_request(&request)?;
    // OR-1: only the order system is granted these methods (`memberhub_kit::auth`).
    actor.ensure_service()?;
    let request = request.into_inner();
    let key = IdempotencyKey::new(&actor, "ReportOrderEvent", &request.request_id, &request)?;
    let event = convert::single_order_event(request.event.as_ref())?;
    let now = svc.clock.now();
    let response = svc
        .store
        .idempotent(&key, now, async |tx| {
            let outcomes = orders::ingest(tx, std::slice::from_ref(&event), now).await?;
            let outcome = outcomes
                .first()
                .copied()
                .map(pb::OrderEventOutcome::from)
                .unwrap_or_default();
            Ok(pb::ReportOrderEventResponse {
                outcome: outcome.into(),
            })
        })
        .await?;
    Ok(Response::new(response))
}

/// OR-1: up to 1,000 events in one transaction, one outcome each in request order.
pub(super) async fn batch_report_order_events(
    svc: &Membership,
    request: Request<pb::BatchReportOrderEventsRequest>,
) -> Rpc<pb::BatchReportOrderEventsResponse> {
    let actor = Actor::from_request(&request)?;
    // OR-1: only the order system is granted these methods (`memberhub_kit::auth`).
    actor.ensure_service()?;
    let request = request.into_inner();
    let key = IdempotencyKey::new(
        &actor,
        "BatchReportOrderEvents",
        &request.request_id,
        &request,
    )?;
    let events = convert::order_events(&request.events)?;
    let now = svc.clock.now();
    let response = svc
        .store
        .idempotent(&key, now, async |tx| {
            let outcomes = orders::ingest(tx, &events, now).await?;
            let outcomes = outcomes
                .into_iter()
                .map(|o| pb::OrderEventOutcome::from(o).into())
                .collect();
            Ok(pb::BatchReportOrderEventsResponse { outcomes })
        })
        .await?;
    Ok(Response::new(response))
}

/// OR-1: up to 1,000 add-to-cart events in one transaction, one outcome each in request
/// order.
pub(super) async fn batch_report_cart_events(
    svc: &Membership,
    request: Request<pb::BatchReportCartEventsRequest>,
) -> Rpc<pb::BatchReportCartEventsResponse> {
    let actor = Actor::from_request(&request)?;
    // only the order system is granted this method (`memberhub_kit::auth`)
    actor.ensure_service()?;
    let request = request.into_inner();
    let key = IdempotencyKey::new(
        &actor,
        "BatchReportCartEvents",
        &request.request_id,
        &request,
    )?;
    let events = convert::cart_events(&request.events)?;
    let now = svc.clock.now();
    let response = svc
        .store
        .idempotent(&key, now, async |tx| {
            let outcomes = cart::ingest(tx, &events, now)
                .await?
                .into_iter()
                .map(|new| {
                    if new {
                        pb::CartEventOutcome::Applied
                    } else {
                        pb::CartEventOutcome::Duplicate
                    }
                    .into()
                })
                .collect();
            Ok(pb::BatchReportCartEventsResponse { outcomes })
        })
        .await?;
    Ok(Response::new(response))
}
