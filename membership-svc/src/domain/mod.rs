//! Pure rules: validation, policies, defaults. No I/O.

pub mod ids;
pub mod program;
pub mod shop;
pub mod text;
