//! Pure rules: validation, the batch status machine, issuing checks, allocation and binding
//! rules, wallet states and cart evaluation. No I/O.

pub(crate) mod allocation;
pub(crate) mod batch;
pub(crate) mod coupon;
pub(crate) mod ids;
pub(crate) mod issue;
pub(crate) mod member_price;
