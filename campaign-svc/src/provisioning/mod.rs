//! What campaigns hold in other services: an open-card gift's join hold, budget and bound
//! allocations; a gift pack's CRM allocations. Taken under keys derived from the campaign,
//! given back when refused, abandoned or settled.

pub(crate) mod gift_pack;
pub(crate) mod open_card_gift;
