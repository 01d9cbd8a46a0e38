#!/usr/bin/env bash
# Python stage of the tests: builds the crystalpot_ase wheel once (tests/wheel.sh), installs it
# into a fresh virtual environment (target/wheel-venv) as a user without Rust would, and runs
# the package's pytest suite there with warnings as errors, with cargo and rustup off PATH.
# The tests read the repository's model files and compare with the release CLI
# (target/release/crystalpot, built here), never with the source tree's package.
# Usage: bash tests/run-python.sh [pytest arguments]   (from anywhere; needs cargo and python3)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
source tests/common.sh

step "Python: release library and CLI, wheel"
# The library the wheel bundles and the command-line tool the tests compare with.
cargo build --release --locked
wheel=$(bash tests/wheel.sh)
echo "$wheel: $(du -h "$wheel" | cut -f1)"
# What the wheel holds: the library and the shipped models with their cards, nothing else of
# models/ (training logs, configurations, plots).
python3 - "$wheel" models <<'PY'
import pathlib, sys, zipfile
names = set(zipfile.ZipFile(sys.argv[1]).namelist())
shipped = {n.split("/models/", 1)[1] for n in names if n.startswith("crystalpot_ase/models/")}
models = pathlib.Path(sys.argv[2])
expected = {p.name for p in models.glob("*.safetensors")} | {"README.md", "nacl-rigid-ion.json"}
problems = []
if "crystalpot_ase/libcrystalpot.so" not in names:
    problems.append("no crystalpot_ase/libcrystalpot.so")
if shipped != expected:
    problems.append(f"models: extra {sorted(shipped - expected)}, missing {sorted(expected - shipped)}")
if problems:
    sys.exit("wheel content: " + "; ".join(problems))
print(f"wheel holds libcrystalpot.so and {len(shipped)} model files/cards")
PY

step "Python: fresh venv with the wheel and the test requirements"
venv="$root/target/wheel-venv"
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    -r ase-calculator/requirements-test.txt "$wheel"

step "Python: tests against the installed wheel, no cargo on PATH"
no_rust_path=$(path_without_rust)
cd ase-calculator
# -P: the working directory is not put on sys.path, so crystalpot_ase comes from the venv.
env PATH="$no_rust_path" CARGO=/nonexistent CRYSTALPOT_CLI="$root/target/release/crystalpot" \
    "$venv/bin/python" -P -c 'import crystalpot_ase, sys; print("crystalpot_ase", crystalpot_ase.__version__, "from", crystalpot_ase.__file__); sys.exit("/site-packages/" not in crystalpot_ase.__file__)'
env PATH="$no_rust_path" CARGO=/nonexistent CRYSTALPOT_CLI="$root/target/release/crystalpot" \
    "$venv/bin/python" -P -m pytest -W error -p no:cacheprovider -q tests "$@"
