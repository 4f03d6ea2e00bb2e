//! Pure rules: validation, policies, defaults, the order fold. No I/O.

pub mod cart;
pub mod events;
pub mod ids;
pub mod ledger;
pub mod levels;
pub mod members;
pub mod orders;
pub mod program;
pub mod shop;
pub mod sms;
pub mod text;
