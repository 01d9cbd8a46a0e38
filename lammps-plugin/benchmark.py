#!/usr/bin/env python3
"""Speed of pair_style crystalpot inside LAMMPS's domain decomposition (not a test): rigid-ion
MgO (Lewis-Catlow, lammps-plugin/tests/mgo-lewis-catlow.json), rattled, 4,096 / 32,768 /
262,144 atoms on 1 and 2 MPI ranks, the plugin beside buck/long/coul/long + pppm/disp 1e-6 in
the same run of this script: seconds per MD step of each, their ratio and the relative energy
difference. Prints a Markdown table.

Usage: benchmark.py --lmp LMP --mpirun MPIRUN --plugin crystalpotplugin.so [--work DIR]
       [--sizes 8,16,32]   (conventional cells per edge)
(after tests/run-lammps.sh: target/venv/bin/lmp, target/venv/bin/mpirun,
target/lammps-plugin/crystalpotplugin.so)
"""

import argparse
import os
import re
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.join(HERE, "tests")
INPUT = os.path.join(TESTS, "mgo-compare.in")
MODEL = os.path.join(TESTS, "mgo-lewis-catlow.json")
# Timesteps per size: about the same wall time per size.
STEPS = {8: 20, 16: 5, 32: 2}


def run(args, ranks, cells, style):
    steps = STEPS.get(cells, 2)
    cmd = [os.path.abspath(args.mpirun), "-np", str(ranks), os.path.abspath(args.lmp),
           "-in", INPUT, "-log", "none", "-var", "plugin", os.path.abspath(args.plugin),
           "-var", "model", MODEL, "-var", "cells", str(cells), "-var", "steps", str(steps),
           "-var", "style", os.path.join(TESTS, style), "-var", "newton", "on",
           "-var", "acc", "1e-6", "-var", "kspace", "pppm/disp"]
    out = subprocess.run(cmd, cwd=args.work, capture_output=True, text=True, check=True).stdout
    loop = float(re.search(r"Loop time of ([0-9.e+-]+) on", out).group(1))
    lines = out.splitlines()
    head = next(i for i, l in enumerate(lines) if l.split()[:1] == ["Step"])
    energy = float(lines[head + 1].split()[1])
    return loop / steps, energy


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lmp", required=True)
    parser.add_argument("--mpirun", required=True)
    parser.add_argument("--plugin", required=True)
    parser.add_argument("--work", default=tempfile.gettempdir())
    parser.add_argument("--sizes", default="8,16,32")
    args = parser.parse_args()
    print("| atoms | ranks | native s/step | plugin s/step | ratio | energy rel. diff |")
    print("|---|---|---|---|---|---|")
    for cells in (int(c) for c in args.sizes.split(",")):
        for ranks in (1, 2):
            native, e_native = run(args, ranks, cells, "native")
            plugin, e_plugin = run(args, ranks, cells, "crystalpot")
            diff = abs(e_plugin - e_native) / abs(e_native)
            print(f"| {8 * cells ** 3} | {ranks} | {native:.4g} | {plugin:.4g} | "
                  f"{plugin / native:.2f} | {diff:.1e} |", flush=True)


if __name__ == "__main__":
    main()
