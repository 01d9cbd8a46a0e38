//! Build script: gives the shared library (cdylib) an ELF SONAME so that programs linked
//! against it record which ABI they need, and several ABI generations can sit side by side.
//!
//! The SONAME follows Cargo's semver rule for what stays compatible: `libcrystalpot.so.MAJOR`
//! from 1.0 on, `libcrystalpot.so.0.MINOR` before (every 0.MINOR may break the ABI). The C/C++
//! package (bindings/CMakeLists.txt) installs the same name as a symlink.

use std::env;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let target_os = env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    // ELF platforms only: macOS uses install names, Windows import libraries.
    if !matches!(
        target_os.as_str(),
        "linux" | "android" | "freebsd" | "netbsd" | "openbsd"
    ) {
        return;
    }
    let major = env::var("CARGO_PKG_VERSION_MAJOR").expect("cargo sets CARGO_PKG_VERSION_MAJOR");
    let minor = env::var("CARGO_PKG_VERSION_MINOR").expect("cargo sets CARGO_PKG_VERSION_MINOR");
    let abi = if major == "0" {
        format!("0.{minor}")
    } else {
        major
    };
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libcrystalpot.so.{abi}");
}
