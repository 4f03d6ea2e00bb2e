//! The three surfaces.

pub mod backoffice;
pub mod platform;
pub mod storefront;
