//! CP-4 and OC-6: allocations reserve units of a batch for a campaign; a binding makes the
//! batch claimable only through one allocation, within its window.

use chrono::{DateTime, Utc};
use memberhub_kit::error::{Failure, Violations};

use super::batch::{Batch, Channel, Status, Validity, Window};
use super::ids::{AllocationId, BatchId, Holder};

/// The largest reservation.
pub(crate) const MAX_RESERVATION: i64 = super::batch::MAX_QUANTITY;

/// An allocation as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Allocation {
    pub id: AllocationId,
    pub batch: BatchId,
    pub channel: Channel,
    pub holder: Holder,
    pub reserved: i64,
    pub issued: i64,
    /// Units still held (0 once released).
    pub remaining: i64,
    pub bound: bool,
    /// The claim window of issues against it, when narrower than the batch's.
    pub window: Option<Window>,
    pub created_at: DateTime<Utc>,
    pub released_at: Option<DateTime<Utc>>,
}

/// A validated reservation request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NewAllocation {
    pub batch: BatchId,
    pub channel: Channel,
    pub holder: Holder,
    pub quantity: i64,
    pub window: Option<Window>,
    pub bind: bool,
}

impl NewAllocation {
    pub(crate) fn parse(
        batch_id: &str,
        channel: Option<Channel>,
        holder: &str,
        quantity: i64,
        window: (Option<DateTime<Utc>>, Option<DateTime<Utc>>),
        bind: bool,
    ) -> Result<Self, Failure> {
        let mut v = Violations::new();
        let batch = v.check(BatchId::parse("batch_id", batch_id));
        if channel.is_none() {
            v.add(
                "channel",
                "must be GENERAL, CRM, INTERACTIVE or SPRINT_PLAN",
            );
        }
        let holder = v.check(Holder::parse("holder", holder));
        if !(1..=MAX_RESERVATION).contains(&quantity) {
            v.add("quantity", format!("must be 1 to {MAX_RESERVATION}"));
        }
        let window = match window {
            (None, None) => {
                if bind {
                    v.add("claim_start_time", "required when binding (OC-6)");
                    v.add("claim_end_time", "required when binding (OC-6)");
                }
                None
            }
            (Some(start), Some(end)) if end > start => Some(Window { start, end }),
            (Some(_), Some(_)) => {
                v.add("claim_end_time", "must be after the start");
                None
            }
            (None, Some(_)) => {
                v.add("claim_start_time", "required with claim_end_time");
                None
            }
            (Some(_), None) => {
                v.add("claim_end_time", "required with claim_start_time");
                None
            }
        };
        v.finish()?;
        match (batch, channel, holder) {
            (Some(batch), Some(channel), Some(holder)) => Ok(Self {
                batch,
                channel,
                holder,
                quantity,
                window,
                bind,
            }),
            _ => Err(Failure::Internal),
        }
    }
}

/// CP-9: only ACTIVE batches can be issued, allocated or bound.
pub(crate) fn not_active(status: Status) -> Failure {
    Failure::FailedPrecondition {
        reason: "BATCH_NOT_ACTIVE",
        message: format!("the batch is {}, not ACTIVE", status.as_db()),
        metadata: vec![("status", status.as_db().to_string())],
    }
}

/// CP-4, OC-6: may `new` reserve units of `batch` at `now`? Stock and an existing binding
/// are re-checked by the store's conditional update.
pub(crate) fn check_reserve(
    batch: &Batch,
    new: &NewAllocation,
    now: DateTime<Utc>,
) -> Result<(), Failure> {
    let status = batch.status_at(now);
    if !status.is_issuable() {
        return Err(not_active(status));
    }
    if new.channel != batch.spec.channel {
        return Err(super::issue::channel_mismatch(batch.spec.channel));
    }
    if let Some(window) = &new.window
        && !batch.spec.claim_window.covers(window)
    {
        return Err(Failure::precondition(
            "CLAIM_WINDOW_NOT_COVERED",
            "the batch's claim window must start no later and end no earlier than the allocation's",
        ));
    }
    if new.bind {
        if batch.spec.channel != Channel::Interactive {
            return Err(Failure::precondition(
                "CHANNEL_NOT_INTERACTIVE",
                "only an INTERACTIVE batch can be bound to a campaign (OC-6)",
            ));
        }
        if !matches!(batch.spec.validity, Validity::Relative { .. }) {
            return Err(Failure::precondition(
                "VALIDITY_NOT_RELATIVE",
                "a bound batch must have RELATIVE validity (OC-6)",
            ));
        }
        if batch.bound_allocation.is_some() {
            return Err(already_bound());
        }
    }
    if new.quantity > batch.remaining {
        return Err(insufficient_stock(batch.remaining));
    }
    Ok(())
}

pub(crate) fn already_bound() -> Failure {
    Failure::precondition(
        "BATCH_ALREADY_BOUND",
        "the batch is bound to another campaign",
    )
}

pub(crate) fn insufficient_stock(remaining: i64) -> Failure {
    Failure::ResourceExhausted {
        reason: "INSUFFICIENT_STOCK",
        message: format!("only {remaining} unit(s) of the batch are free"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::batch::tests::{at, input};
    use crate::domain::batch::{NewBatch, ValidityInput};
    use crate::domain::ids::BatchKey;

    fn active(channel: Channel, relative: bool) -> Batch {
        let mut i = input();
        i.channel = Some(channel);
        if !relative {
            i.validity = Some(ValidityInput {
                absolute: Some(true),
                start: Some(at(8, 0)),
                end: Some(at(23, 0)),
                ..Default::default()
            });
        }
        let spec = NewBatch::parse(i).unwrap_or_else(|e| panic!("{e:?}"));
        Batch {
            id: BatchId::new(),
            key: BatchKey::random(),
            remaining: spec.total_quantity,
            spec,
            status: Status::Active,
            reject_reason: None,
            issued: 0,
            reserved: 0,
            bound_allocation: None,
            binding: None,
            created_at: at(7, 0),
            updated_at: at(7, 0),
        }
    }

    fn reserve(batch: &Batch, bind: bool, window: Option<Window>) -> NewAllocation {
        NewAllocation {
            batch: batch.id,
            channel: batch.spec.channel,
            holder: Holder::from_db("campaign-1".into()),
            quantity: 10,
            window,
            bind,
        }
    }

    fn reason(result: Result<(), Failure>) -> Option<&'static str> {
        match result {
            Err(Failure::FailedPrecondition { reason, .. })
            | Err(Failure::ResourceExhausted { reason, .. }) => Some(reason),
            _ => None,
        }
    }

    #[test]
    fn oc6_binding_accepts_equal_windows_and_refuses_wider_ones() {
        let batch = active(Channel::Interactive, true);
        let equal = batch.spec.claim_window;
        assert!(check_reserve(&batch, &reserve(&batch, true, Some(equal)), at(9, 0)).is_ok());
        let wider = Window {
            start: at(7, 0),
            end: equal.end,
        };
        assert_eq!(
            reason(check_reserve(
                &batch,
                &reserve(&batch, true, Some(wider)),
                at(9, 0)
            )),
            Some("CLAIM_WINDOW_NOT_COVERED")
        );
    }

    #[test]
    fn oc6_binding_needs_interactive_and_relative_validity() {
        let crm = active(Channel::Crm, true);
        let window = Some(crm.spec.claim_window);
        assert_eq!(
            reason(check_reserve(&crm, &reserve(&crm, true, window), at(9, 0))),
            Some("CHANNEL_NOT_INTERACTIVE")
        );
        let absolute = active(Channel::Interactive, false);
        let window = Some(absolute.spec.claim_window);
        assert_eq!(
            reason(check_reserve(
                &absolute,
                &reserve(&absolute, true, window),
                at(9, 0)
            )),
            Some("VALIDITY_NOT_RELATIVE")
        );
    }

    #[test]
    fn cp9_only_active_batches_are_allocated() {
        let mut batch = active(Channel::Crm, true);
        batch.status = Status::PendingApproval;
        assert_eq!(
            reason(check_reserve(
                &batch,
                &reserve(&batch, false, None),
                at(9, 0)
            )),
            Some("BATCH_NOT_ACTIVE")
        );
    }

    #[test]
    fn cp4_a_reservation_cannot_exceed_the_free_stock() {
        let mut batch = active(Channel::Crm, true);
        batch.remaining = 9;
        assert_eq!(
            reason(check_reserve(
                &batch,
                &reserve(&batch, false, None),
                at(9, 0)
            )),
            Some("INSUFFICIENT_STOCK")
        );
    }
}
