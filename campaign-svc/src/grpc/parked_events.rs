//! What the event consumer parked, for operators.

use memberhub_kit::clock::to_timestamp;
use memberhub_kit::error::Failure;
use memberhub_proto::campaign as pb;
use memberhub_proto::membership::EventType;
use tonic::{Request, Response};

use super::{Campaigns, Rpc, actor, page_size};
use crate::saga::consumer::CONSUMER;
use crate::store::events;

pub(super) async fn list(
    svc: &Campaigns,
    request: Request<pb::ListParkedEventsRequest>,
) -> Rpc<pb::ListParkedEventsResponse> {
    actor(&request)?.ensure_operator()?;
    let request = request.into_inner();
    let limit = page_size(request.page_size)?;
    let before = page_position(&request.page_token)?;
    let mut conn = svc.conn().await?;
    let found = events::parked(&mut conn, CONSUMER, before, limit).await?;
    let next_page_token = match found.last() {
        Some(last) if found.len() as i64 == limit => {
            format!("{}|{}", last.parked_at.timestamp_micros(), last.cursor)
        }
        _ => String::new(),
    };
    Ok(Response::new(pb::ListParkedEventsResponse {
        parked_events: found
            .into_iter()
            .map(|e| pb::ParkedEvent {
                event_type: EventType::try_from(e.event_type)
                    .map(|t| t.as_str_name().to_string())
                    .unwrap_or_else(|_| format!("EVENT_TYPE_{}", e.event_type)),
                cursor: e.cursor,
                shop_id: e.shop_id,
                reason: e.reason,
                park_time: Some(to_timestamp(e.parked_at)),
            })
            .collect(),
        next_page_token,
    }))
}

/// A page token: `<parked_at in µs>|<cursor>` of the previous page's last event.
fn page_position(raw: &str) -> Result<Option<(chrono::DateTime<chrono::Utc>, String)>, Failure> {
    if raw.is_empty() {
        return Ok(None);
    }
    let invalid = || Failure::invalid("page_token", "must be a token from a previous page");
    let (micros, cursor) = raw.split_once('|').ok_or_else(invalid)?;
    let at = micros
        .parse::<i64>()
        .ok()
        .and_then(chrono::DateTime::from_timestamp_micros)
        .ok_or_else(invalid)?;
    Ok(Some((at, cursor.to_string())))
}
