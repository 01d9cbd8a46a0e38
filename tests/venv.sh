#!/usr/bin/env bash
# Creates (once) the test virtual environment target/venv and installs the pinned requirement
# files given as arguments into it. Prints nothing but pip's errors; safe to call repeatedly.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/target/venv"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --upgrade pip
fi
for req in "$@"; do
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
done
