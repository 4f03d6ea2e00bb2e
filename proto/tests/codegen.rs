//! Generated code is committed; this test regenerates it and fails on drift.
//! Run with `MEMBERHUB_BLESS=1` to rewrite `src/gen/` after editing a `.proto`.

use std::path::{Path, PathBuf};

use prost::Message;

const PROTO_FILES: &[&str] = &[
    "memberhub/common/v1/common.proto",
    "memberhub/membership/v1/membership.proto",
    "memberhub/coupon/v1/coupon.proto",
    "memberhub/campaign/v1/campaign.proto",
    "memberhub/sandbox/v1/sandbox.proto",
];

fn generate(out_dir: &Path) -> anyhow_free::Result {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let fds = protox::Compiler::new([root])?
        .include_imports(true)
        .include_source_info(true)
        .open_files(PROTO_FILES)?
        .file_descriptor_set();
    let mut descriptor = fds.clone();
    // Reflection needs no comments; keep the committed blob small and stable.
    for file in &mut descriptor.file {
        file.source_code_info = None;
    }
    std::fs::write(
        out_dir.join("descriptor_set.bin"),
        descriptor.encode_to_vec(),
    )?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        // RPCs a service does not serve yet answer UNIMPLEMENTED, honestly.
        .generate_default_stubs(true)
        .out_dir(out_dir)
        .compile_fds(fds)?;
    Ok(())
}

/// A tiny local result alias so this test needs no error crate.
mod anyhow_free {
    pub(crate) type Result = std::result::Result<(), Box<dyn std::error::Error>>;
}

fn committed_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src/gen")
}

#[test]
fn generated_code_matches_the_protos() -> anyhow_free::Result {
    if std::env::var_os("MEMBERHUB_BLESS").is_some() {
        return generate(&committed_dir());
    }
    let fresh = std::env::temp_dir().join(format!("memberhub-proto-gen-{}", std::process::id()));
    std::fs::create_dir_all(&fresh)?;
    generate(&fresh)?;
    let mut drifted = Vec::new();
    for entry in std::fs::read_dir(&fresh)? {
        let entry = entry?;
        let committed = std::fs::read(committed_dir().join(entry.file_name())).unwrap_or_default();
        if std::fs::read(entry.path())? != committed {
            drifted.push(entry.file_name());
        }
    }
    let committed_count = std::fs::read_dir(committed_dir())?.count();
    let fresh_count = std::fs::read_dir(&fresh)?.count();
    std::fs::remove_dir_all(&fresh)?;
    assert!(
        drifted.is_empty() && committed_count == fresh_count,
        "generated code is stale: {drifted:?} differ ({committed_count} committed, {fresh_count} fresh files); \
         run `MEMBERHUB_BLESS=1 cargo test -p memberhub-proto` and commit src/gen/"
    );
    Ok(())
}
