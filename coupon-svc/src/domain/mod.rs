//! Pure rules: validation, the batch status machine, issuing checks, allocation and binding
//! rules, wallet states and cart evaluation. No I/O.

pub mod allocation;
pub mod batch;
pub mod coupon;
pub mod ids;
pub mod issue;
pub mod member_price;
