//! CP-3: who may issue coupons of a batch, and the rules each issue must pass before it
//! takes stock. Stock and per-user limits are not decided here: they are conditional
//! writes in the store, so that the database (not this process) guarantees them.

use chrono::{DateTime, Utc};
use memberhub_kit::actor::Actor;
use memberhub_kit::error::{Failure, Violations};

use super::allocation::Allocation;
use super::batch::{Channel, NewBatch, Window};
use super::ids::{AllocationId, BatchId, ClaimId, ShopId, UserId};

/// A validated request to issue one issue of a batch to a shopper.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IssueCommand {
    pub batch: BatchId,
    pub user: UserId,
    pub channel: Channel,
    /// Take the units from this allocation instead of the free stock (CP-4).
    pub allocation: Option<AllocationId>,
    /// GP-2: one issue per campaign claim instead of the batch's per-user limit.
    pub claim: Option<ClaimId>,
    /// The shop the caller believes the batch belongs to, when it says.
    pub shop: Option<ShopId>,
}

impl IssueCommand {
    pub(crate) fn parse(
        batch_id: &str,
        user_id: &str,
        channel: Option<Channel>,
        (allocation_id, claim_id): (&str, &str),
        shop_id: &str,
    ) -> Result<Self, Failure> {
        let mut v = Violations::new();
        let batch = v.check(BatchId::parse("batch_id", batch_id));
        let user = v.check(UserId::parse("user_id", user_id));
        if channel.is_none() {
            v.add(
                "channel",
                "must be GENERAL, CRM, INTERACTIVE or SPRINT_PLAN",
            );
        }
        let allocation = (!allocation_id.trim().is_empty())
            .then(|| v.check(AllocationId::parse("allocation_id", allocation_id)))
            .flatten();
        let claim = (!claim_id.trim().is_empty())
            .then(|| v.check(ClaimId::parse("campaign_claim_id", claim_id)))
            .flatten();
        let shop = (!shop_id.trim().is_empty())
            .then(|| v.check(ShopId::parse("shop_id", shop_id)))
            .flatten();
        v.finish()?;
        match (batch, user, channel) {
            (Some(batch), Some(user), Some(channel)) => Ok(Self {
                batch,
                user,
                channel,
                allocation,
                claim,
                shop,
            }),
            _ => Err(Failure::Internal),
        }
    }
}

/// who may issue what. Shoppers claim GENERAL batches for themselves; merchants issue
/// their own shop's GENERAL and CRM batches; INTERACTIVE and SPRINT_PLAN coupons are issued
/// only by campaigns (services); operators may do anything.
pub(crate) fn authorize(
    actor: &Actor,
    batch: &NewBatch,
    command: &IssueCommand,
) -> Result<(), Failure> {
    if command.shop.is_some_and(|shop| shop != batch.shop_id) {
        return Err(Failure::NotFound(format!(
            "batch {} not found in shop",
            command.batch
        )));
    }
    match actor {
        Actor::Operator | Actor::Service { .. } => Ok(()),
        Actor::Shopper { .. } => {
            actor.ensure_user(command.user.as_str())?;
            let plain_claim = batch.channel == Channel::General
                && command.channel == Channel::General
                && command.allocation.is_none()
                && command.claim.is_none();
            if plain_claim {
                Ok(())
            } else {
                Err(Failure::PermissionDenied(
                    "shoppers may claim only GENERAL batches".into(),
                ))
            }
        }
        Actor::Merchant { .. } => {
            actor.ensure_shop_admin(&batch.shop_id.to_string())?;
            match batch.channel {
                Channel::General | Channel::Crm => Ok(()),
                Channel::Interactive | Channel::SprintPlan => Err(Failure::PermissionDenied(
                    "INTERACTIVE and SPRINT_PLAN coupons are issued only by campaigns".into(),
                )),
            }
        }
    }
}

/// CP-3: channel and claim window, checked for each issue before it takes stock. The
/// status (only ACTIVE), the OC-6 binding, stock and limits are checked by the store's
/// conditional writes.
pub(crate) fn precheck(
    batch: &NewBatch,
    command: &IssueCommand,
    allocation: Option<&Allocation>,
    now: DateTime<Utc>,
) -> Result<(), Failure> {
    if command.channel != batch.channel {
        return Err(channel_mismatch(batch.channel));
    }
    let window = match allocation {
        Some(allocation) => {
            if allocation.batch != command.batch {
                return Err(Failure::NotFound(format!(
                    "allocation {} is not an allocation of batch {}",
                    allocation.id, command.batch
                )));
            }
            if allocation.released_at.is_some() {
                return Err(Failure::precondition(
                    "ALLOCATION_RELEASED",
                    "the allocation was released; its units are back in the batch's stock",
                ));
            }
            allocation.window.unwrap_or(batch.claim_window)
        }
        None => batch.claim_window,
    };
    check_window(&window, now)?;
    if now >= batch.ends_at() {
        return Err(Failure::precondition(
            "BATCH_ENDED",
            "the batch has ended: its coupons can no longer be valid",
        ));
    }
    Ok(())
}

/// CP-3: the claim window; a claim at its end instant is too late.
pub(crate) fn check_window(window: &Window, now: DateTime<Utc>) -> Result<(), Failure> {
    if now < window.start {
        return Err(Failure::FailedPrecondition {
            reason: "CLAIM_NOT_STARTED",
            message: "the claim window has not started".into(),
            metadata: vec![("claim_start_time", window.start.to_rfc3339())],
        });
    }
    if now >= window.end {
        return Err(Failure::FailedPrecondition {
            reason: "CLAIM_ENDED",
            message: "the claim window is over".into(),
            metadata: vec![("claim_end_time", window.end.to_rfc3339())],
        });
    }
    Ok(())
}

pub(crate) fn channel_mismatch(batch_channel: Channel) -> Failure {
    Failure::FailedPrecondition {
        reason: "CHANNEL_MISMATCH",
        message: format!(
            "the batch is issued through the {} channel only",
            batch_channel.as_db()
        ),
        metadata: vec![("channel", batch_channel.as_db().to_string())],
    }
}

/// CP-3: the stock is gone.
pub(crate) fn out_of_stock() -> Failure {
    Failure::ResourceExhausted {
        reason: "OUT_OF_STOCK",
        message: "no coupons of this batch are left".into(),
    }
}

/// CP-3: the shopper holds the batch's per-user limit already.
pub(crate) fn per_user_limit_reached(limit: i32) -> Failure {
    Failure::ResourceExhausted {
        reason: "PER_USER_LIMIT_REACHED",
        message: format!("a shopper may claim this batch {limit} time(s)"),
    }
}

/// GP-2: the claim already received its issue of this batch.
pub(crate) fn already_issued_for_claim() -> Failure {
    Failure::precondition(
        "ALREADY_ISSUED_FOR_CLAIM",
        "this campaign claim already received its coupons of this batch",
    )
}

/// OC-6: a bound batch is claimable only through its campaign's allocation.
pub(crate) fn bound_to_campaign() -> Failure {
    Failure::precondition(
        "BATCH_BOUND_TO_CAMPAIGN",
        "the batch is bound to a campaign and claimable only through it",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::batch::tests::{at, input};

    fn batch(channel: Channel) -> NewBatch {
        let mut i = input();
        i.channel = Some(channel);
        match NewBatch::parse(i) {
            Ok(b) => b,
            Err(e) => panic!("{e:?}"),
        }
    }

    fn command(batch: &NewBatch, user: &str, channel: Channel) -> IssueCommand {
        let _ = batch;
        IssueCommand {
            batch: BatchId::new(),
            user: UserId::from_db(user.into()),
            channel,
            allocation: None,
            claim: None,
            shop: None,
        }
    }

    fn reason(result: Result<(), Failure>) -> Option<&'static str> {
        match result {
            Err(Failure::FailedPrecondition { reason, .. }) => Some(reason),
            _ => None,
        }
    }

    #[test]
    fn x1_shoppers_claim_only_general_batches_for_themselves() {
        let general = batch(Channel::General);
        let me = Actor::Shopper {
            user_id: "u1".into(),
        };
        assert!(authorize(&me, &general, &command(&general, "u1", Channel::General)).is_ok());
        assert!(authorize(&me, &general, &command(&general, "u2", Channel::General)).is_err());
        let crm = batch(Channel::Crm);
        assert!(authorize(&me, &crm, &command(&crm, "u1", Channel::Crm)).is_err());
        let mut with_claim = command(&general, "u1", Channel::General);
        with_claim.claim = Some(ClaimId::from_db("c1".into()));
        assert!(authorize(&me, &general, &with_claim).is_err());
    }

    #[test]
    fn x1_merchants_issue_their_own_general_and_crm_batches_only() {
        let crm = batch(Channel::Crm);
        let owner = Actor::Merchant {
            shop_id: crm.shop_id.to_string(),
        };
        let other = Actor::Merchant {
            shop_id: "someone-else".into(),
        };
        assert!(authorize(&owner, &crm, &command(&crm, "u1", Channel::Crm)).is_ok());
        assert!(authorize(&other, &crm, &command(&crm, "u1", Channel::Crm)).is_err());
        let sprint = batch(Channel::SprintPlan);
        let owner = Actor::Merchant {
            shop_id: sprint.shop_id.to_string(),
        };
        assert!(
            authorize(
                &owner,
                &sprint,
                &command(&sprint, "u1", Channel::SprintPlan)
            )
            .is_err()
        );
    }

    #[test]
    fn cp3_channel_must_match_the_batch() {
        let general = batch(Channel::General);
        let cmd = command(&general, "u1", Channel::Crm);
        assert_eq!(
            reason(precheck(&general, &cmd, None, at(9, 0))),
            Some("CHANNEL_MISMATCH")
        );
    }

    #[test]
    fn cp3_claim_window_is_half_open() {
        let general = batch(Channel::General);
        let cmd = command(&general, "u1", Channel::General);
        assert_eq!(
            reason(precheck(&general, &cmd, None, at(7, 59))),
            Some("CLAIM_NOT_STARTED")
        );
        assert!(precheck(&general, &cmd, None, at(8, 0)).is_ok());
        assert!(precheck(&general, &cmd, None, at(19, 59)).is_ok());
        assert_eq!(
            reason(precheck(&general, &cmd, None, at(20, 0))),
            Some("CLAIM_ENDED")
        );
    }
}
