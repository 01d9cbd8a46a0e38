#!/usr/bin/env bash
# Builds the wheel of one of the Python packages (pip wheel ./PACKAGE: ase-calculator, the
# default, or lammps-plugin) into target/wheel/PACKAGE/ and prints its path. Both run cargo
# for the release library, so a call costs seconds once cargo has built it. Fails unless the
# wheel is tagged py3-none-<platform> (ctypes / a LAMMPS plugin: no libpython, no Python ABI).
# Usage: bash tests/wheel.sh [ase-calculator|lammps-plugin]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
package=${1:-ase-calculator}
case $package in
    ase-calculator) name=crystalpot_ase ;;
    lammps-plugin) name=crystalpot_lammps ;;
    *) echo "unknown package '$package' (ase-calculator or lammps-plugin)" >&2; exit 1 ;;
esac
bash tests/venv.sh
dist="$root/target/wheel/$package"
rm -rf "$dist"
"$root/target/venv/bin/python" -m pip wheel --quiet --disable-pip-version-check --no-deps \
    -w "$dist" "./$package" >&2
wheels=("$dist"/"$name"-*-py3-none-*.whl)
[ -f "${wheels[0]}" ] || { echo "no py3-none wheel in $dist: $(ls "$dist")" >&2; exit 1; }
echo "${wheels[0]}"
