//! Pure rules: validation, policies, defaults, the order fold. No I/O.

pub(crate) mod cart;
pub(crate) mod events;
pub(crate) mod ids;
pub(crate) mod ledger;
pub(crate) mod levels;
pub(crate) mod members;
pub(crate) mod orders;
pub(crate) mod program;
pub(crate) mod shop;
pub(crate) mod sms;
pub(crate) mod text;
