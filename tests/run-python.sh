#!/usr/bin/env bash
# Python stage of the tests: builds crystalpot, installs the ASE package crystalpot_ase into the
# shared test venv (target/venv) exactly as a user would (pip install ./ase-calculator) and runs
# its pytest suite with warnings as errors.
# Usage: bash tests/run-python.sh [pytest arguments]   (from anywhere; needs cargo and python3)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
python="$root/target/venv/bin/python"

bash tests/venv.sh ase-calculator/requirements-test.txt
# The library the package bundles and the command-line tool the tests compare with.
cargo build --release --locked
"$python" -m pip install --quiet --disable-pip-version-check ./ase-calculator
cd ase-calculator
"$python" -m pytest -W error -p no:cacheprovider -q tests "$@"
