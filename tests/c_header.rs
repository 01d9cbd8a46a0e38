//! The committed C header must be what cbindgen generates from src/c_api today: C, C++,
//! Python and LAMMPS code is compiled against the committed file.

use std::path::Path;

#[test]
fn committed_header_is_up_to_date() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config =
        cbindgen::Config::from_file(root.join("cbindgen.toml")).expect("cannot read cbindgen.toml");
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
        "include/crystalpot.h is stale (or missing): the C ABI in src/c_api changed. \
         Regenerate it with `CRYSTALPOT_BLESS=1 cargo test --test c_header` and commit it."
    );
}
