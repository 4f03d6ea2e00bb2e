//! memberhub's contracts: the Rust code generated from `proto/memberhub/**.proto`.
//!
//! The generated files under `src/gen/` are committed so that builds need no code
//! generation; `tests/codegen.rs` regenerates them and fails on any difference
//! (`MEMBERHUB_BLESS=1 cargo test -p memberhub-proto` rewrites them).

#![allow(clippy::all, missing_docs, unreachable_pub)]

pub mod memberhub {
    pub mod common {
        pub mod v1 {
            include!("gen/memberhub.common.v1.rs");
        }
    }
    pub mod membership {
        pub mod v1 {
            include!("gen/memberhub.membership.v1.rs");
        }
    }
    pub mod coupon {
        pub mod v1 {
            include!("gen/memberhub.coupon.v1.rs");
        }
    }
    pub mod campaign {
        pub mod v1 {
            include!("gen/memberhub.campaign.v1.rs");
        }
    }
    pub mod sandbox {
        pub mod v1 {
            include!("gen/memberhub.sandbox.v1.rs");
        }
    }
}

pub use memberhub::{
    campaign::v1 as campaign, common::v1 as common, coupon::v1 as coupon,
    membership::v1 as membership, sandbox::v1 as sandbox,
};

/// The encoded `FileDescriptorSet` of every contract (with imports), for gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!("gen/descriptor_set.bin");
