//! Pure rules of campaign-svc: open-card gifts (OC-1..OC-9), gift packs (GP-1..GP-9),
//! exchanges (PT-3), member sprint plans (SP-1..SP-3, SP-7) and the claim model every claim
//! runs by (OC-7, GP-9, PT-3). No I/O: times are passed in, and other services' data arrives
//! as plain views (`types::BatchView`, `types::MemberView`, `sprint_plan::RewardBatch`).

pub(crate) mod claim;
pub(crate) mod exchange;
pub(crate) mod gift_pack;
pub(crate) mod open_card_gift;
pub(crate) mod sprint_plan;
pub(crate) mod sprint_registration;
pub(crate) mod types;
