//! The committed C header must be what cbindgen generates from src/c_api today: C, C++,
//! Python and LAMMPS code is compiled against the committed file.
//!
//! The version macros (`CRYSTALPOT_VERSION_MAJOR/MINOR/PATCH`, `CRYSTALPOT_VERSION`) are added
//! here from Cargo.toml's version, so a version bump makes the committed header stale too.

use std::path::Path;

/// The `#define`s of the crate version, placed after the header's `#include`s.
fn version_macros() -> String {
    format!(
        "// The version of the library this header was generated for (Cargo.toml); compare\n\
         // with cpot_version() at run time.\n\
         #define CRYSTALPOT_VERSION_MAJOR {}\n\
         #define CRYSTALPOT_VERSION_MINOR {}\n\
         #define CRYSTALPOT_VERSION_PATCH {}\n\
         #define CRYSTALPOT_VERSION \"{}\"",
        env!("CARGO_PKG_VERSION_MAJOR"),
        env!("CARGO_PKG_VERSION_MINOR"),
        env!("CARGO_PKG_VERSION_PATCH"),
        env!("CARGO_PKG_VERSION"),
    )
}

#[test]
fn committed_header_is_up_to_date() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut config =
        cbindgen::Config::from_file(root.join("cbindgen.toml")).expect("cannot read cbindgen.toml");
    config.after_includes = Some(version_macros());
    let mut generated = Vec::new();
    // Only the FFI module: public constants elsewhere in the crate are not part of the ABI.
    cbindgen::Builder::new()
        .with_config(config)
        .with_src(root.join("src/c_api/mod.rs"))
        .generate()
        .expect("cbindgen cannot parse src/c_api")
        .write(&mut generated);
    let path = root.join("include/crystalpot.h");
    if std::env::var_os("CRYSTALPOT_BLESS").is_some_and(|v| v == "1") {
        std::fs::write(&path, &generated).expect("cannot write include/crystalpot.h");
        return;
    }
    let committed = std::fs::read(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "include/crystalpot.h is stale (or missing): the C ABI in src/c_api or the version in \
         Cargo.toml changed. Regenerate it with `CRYSTALPOT_BLESS=1 cargo test --test c_header` \
         and commit it."
    );
}
