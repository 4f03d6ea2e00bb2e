//! The outbox as a resumable server stream.

use std::time::Duration;

use memberhub_kit::actor::Actor;
use memberhub_kit::error::Failure;
use memberhub_proto::membership as pb;
use tonic::{Request, Response, Status};

use super::{Membership, Rpc};
use crate::domain::events::Cursor;
use crate::store::outbox;

pub(super) type EventStream = tonic::codegen::BoxStream<pb::WatchEventsResponse>;

/// How often an idle stream looks for new events.
const POLL: Duration = Duration::from_millis(100);
const PAGE: i64 = 500;

/// Every event strictly after `after_cursor`, then new ones as they commit; a consumer that
/// reconnects with the last cursor it handled misses nothing and sees nothing twice.
pub(super) async fn watch_events(
    svc: &Membership,
    request: Request<pb::WatchEventsRequest>,
) -> Rpc<EventStream> {
    let actor = Actor::from_request(&request)?;
    actor.ensure_operator()?;
    let mut cursor = Cursor::parse("after_cursor", &request.get_ref().after_cursor)
        .map_err(|v| Failure::InvalidArgument(vec![v]))?;
    let pool = svc.store.pool.clone();
    // A consumer that fell behind the feed's retention has missed events: say so loudly
    // rather than resume after a gap.
    if cursor != Cursor::default()
        && let Some(horizon) = outbox::horizon(&pool).await?
        && cursor < horizon
    {
        return Err(Failure::precondition(
            "FEED_CURSOR_EXPIRED",
            format!(
                "events after this cursor were pruned (the feed keeps {} days): rebuild from the source and resume from an empty cursor",
                crate::store::retention::FEED_KEPT.num_days()
            ),
        )
        .into());
    }
    let (tx, rx) = tokio::sync::mpsc::channel(PAGE as usize);
    tokio::spawn(async move {
        loop {
            let events = match outbox::read_after(&pool, cursor, PAGE).await {
                Ok(events) => events,
                Err(error) => {
                    let _ = tx.send(Err(Status::from(error))).await;
                    return;
                }
            };
            let idle = events.is_empty();
            for event in events {
                cursor = event.cursor;
                if tx.send(Ok(event.into())).await.is_err() {
                    return; // The client went away.
                }
            }
            if idle {
                tokio::select! {
                    () = tokio::time::sleep(POLL) => {}
                    () = tx.closed() => return,
                }
            }
        }
    });
    Ok(Response::new(Box::pin(
        tokio_stream::wrappers::ReceiverStream::new(rx),
    )))
}
