//! SP-4, SP-5, SP-6: who may register, how the sprint counts spend, and the award's states.
//! The arithmetic of spend and the award's ranking run in SQL over many rows at once
//! (`store::sprint_registrations`, `store::sprint_awards`); the decisions a single request
//! takes are here.

use chrono::{DateTime, Utc};
use memberhub_kit::error::Failure;

use super::sprint_plan::{Phase, Phases, ShopState};
use super::types::JoinPolicy;

/// SP-6: where a registered shopper stands in the award, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AwardState {
    /// Ranked within the distribution quantity; the issue is being made.
    Due,
    Awarded,
    NotAwardedOutOfStock,
}

memberhub_kit::db_enum!(pub(crate) AwardState { Due => "DUE", Awarded => "AWARDED", NotAwardedOutOfStock => "NOT_AWARDED_OUT_OF_STOCK" });

/// SP-4: a shopper registers only during the registration phase, with a shop that joined.
pub(crate) fn may_register(
    phases: &Phases,
    shop: ShopState,
    now: DateTime<Utc>,
) -> Result<(), Failure> {
    let phase = phases.at(now);
    if phase != Phase::Registration {
        return Err(Failure::FailedPrecondition {
            reason: "SPRINT_PLAN_PHASE",
            message: format!(
                "shoppers register only during the registration phase; the plan is in {}",
                phase.name()
            ),
            metadata: vec![("phase", phase.name().to_string())],
        });
    }
    if shop != ShopState::Joined {
        return Err(Failure::precondition(
            "SPRINT_SHOP_NOT_PARTICIPATING",
            "this shop does not take part in the plan",
        ));
    }
    Ok(())
}

/// SP-4: how a shopper who is not an active member becomes one while registering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Joining {
    /// Already an active member: nothing to do.
    Member,
    /// Open the shop's card (MB-2): the join policy makes that a membership at once.
    OpenCard,
}

/// SP-4 with MB-2: under `CARD` and `ORDER_OR_CARD` opening the card makes a member at once;
/// under `ORDER` a card cannot be opened and under `ORDER_AND_CARD` it waits for an order,
/// so registering cannot make a member there: FAILED_PRECONDITION `NOT_A_MEMBER`.
pub(crate) fn joining(active_member: bool, policy: JoinPolicy) -> Result<Joining, Failure> {
    if active_member {
        return Ok(Joining::Member);
    }
    match policy {
        JoinPolicy::Card | JoinPolicy::OrderOrCard => Ok(Joining::OpenCard),
        JoinPolicy::Order | JoinPolicy::OrderAndCard => Err(not_a_member()),
    }
}

pub(crate) fn not_a_member() -> Failure {
    Failure::precondition(
        "NOT_A_MEMBER",
        "only members of the shop register, and its join policy does not let registering \
         make one: become a member first (e.g. by ordering)",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn phases() -> Phases {
        let at = |d: u32| {
            Utc.with_ymd_and_hms(2026, 11, d, 0, 0, 0)
                .single()
                .expect("valid date")
        };
        Phases {
            registration_start: at(2),
            sprint_start: at(4),
            award_start: at(6),
            redemption_start: at(8),
            redemption_end: at(10),
        }
    }

    #[test]
    fn sp4_registration_is_open_only_in_its_phase_and_only_with_joined_shops() {
        let p = phases();
        let during = p.registration_start;
        assert!(may_register(&p, ShopState::Joined, during).is_ok());
        let before = p.registration_start - chrono::Duration::seconds(1);
        let refused = may_register(&p, ShopState::Joined, before).err();
        assert_eq!(refused.and_then(|f| f.reason()), Some("SPRINT_PLAN_PHASE"));
        let refused = may_register(&p, ShopState::Joined, p.sprint_start).err();
        assert_eq!(refused.and_then(|f| f.reason()), Some("SPRINT_PLAN_PHASE"));
        for state in [ShopState::Invited, ShopState::Withdrawn] {
            let refused = may_register(&p, state, during).err();
            assert_eq!(
                refused.and_then(|f| f.reason()),
                Some("SPRINT_SHOP_NOT_PARTICIPATING")
            );
        }
    }

    #[test]
    fn sp4_non_members_join_by_card_only_where_the_policy_makes_that_a_membership() {
        for policy in [
            JoinPolicy::Order,
            JoinPolicy::Card,
            JoinPolicy::OrderOrCard,
            JoinPolicy::OrderAndCard,
        ] {
            assert_eq!(joining(true, policy).ok(), Some(Joining::Member));
        }
        assert_eq!(
            joining(false, JoinPolicy::Card).ok(),
            Some(Joining::OpenCard)
        );
        assert_eq!(
            joining(false, JoinPolicy::OrderOrCard).ok(),
            Some(Joining::OpenCard)
        );
        for policy in [JoinPolicy::Order, JoinPolicy::OrderAndCard] {
            let refused = joining(false, policy).err();
            assert_eq!(refused.and_then(|f| f.reason()), Some("NOT_A_MEMBER"));
        }
    }
}
