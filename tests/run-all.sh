#!/usr/bin/env bash
# Runs every test of crystalpot (Rust, C, C++, Python/ASE, LAMMPS), installing what the tests
# need from the package registries into target/venv.
# Usage: bash tests/run-all.sh        (from anywhere; CI calls it through .ci/run)
# Environment: CRYSTALPOT_DATA (default ../shared/data) points at the shared DFT data and fixtures.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
export CRYSTALPOT_DATA=${CRYSTALPOT_DATA:-$root/../shared/data}

source tests/common.sh

step "tools the registries cannot provide"
require_tools cargo gcc g++ valgrind readelf python3

step "toolchain components"
rustup component add rustfmt clippy >/dev/null 2>&1 || true

step "format and lints"
cargo fmt --all -- --check
cargo clippy --all-targets --locked -- -D warnings
# The inference-only library that embedders get with default-features = false.
cargo clippy --lib --no-default-features --locked -- -D warnings

step "Rust tests (unit, integration, doc)"
cargo test --locked

step "C and C++ (installed package, valgrind)"
bash tests/run-c.sh

step "Python / ASE"
bash tests/run-python.sh

step "LAMMPS plugin"
bash tests/run-lammps.sh

step "documentation code blocks"
bash tests/run-docs.sh

step "all test suites passed"
