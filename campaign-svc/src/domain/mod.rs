//! Pure rules of campaign-svc (issue 6 groundwork): open-card gifts (OC-1..OC-9), gift packs
//! (GP-1..GP-9) and claims as sagas (OC-7, GP-9, PT-3). No I/O: times are passed in, and
//! other services' data arrives as plain views (`types::BatchView`, `types::MemberView`).
//! The store, the RPCs and the saga driver build on these with issue 6.

pub mod claim;
pub mod exchange;
pub mod gift_pack;
pub mod open_card_gift;
pub mod types;
