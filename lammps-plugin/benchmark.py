#!/usr/bin/env python3
"""Speed of pair_style crystalpot inside LAMMPS's domain decomposition (not a test): rigid-ion
MgO (Lewis-Catlow, lammps-plugin/tests/mgo-lewis-catlow.json), rattled, 4,096 / 32,768 /
262,144 atoms on 1 and 2 MPI ranks, the plugin beside buck/long/coul/long + pppm/disp 1e-6 in
the same run of this script: seconds per MD step of each, their ratio, the relative energy
difference and LAMMPS's Pair / Kspace / Neigh time per step of each. Every case runs --repeat
times, alternating plugin and native runs (the machine may be shared): the table gives the
median and, for the ratio, the range over the repeats. Prints a Markdown table.

Usage: benchmark.py --lmp LMP --mpirun MPIRUN --plugin crystalpotplugin.so [--work DIR]
       [--sizes 8,16,32]   (conventional cells per edge) [--ranks 1,2] [--repeat 2]
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
    # LAMMPS's timing breakdown: "Pair    | min | avg | max | %varavg | %total", avg time.
    sections = {m.group(1): float(m.group(2)) / steps for m in
                re.finditer(r"^(Pair|Kspace|Neigh)\s*\|\s*[0-9.e+-]+\s*\|\s*([0-9.e+-]+)",
                             out, re.M)}
    return loop / steps, energy, sections


def median(values):
    values = sorted(values)
    return values[len(values) // 2] if len(values) % 2 else sum(values[len(values) // 2 - 1:
                                                                      len(values) // 2 + 1]) / 2


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lmp", required=True)
    parser.add_argument("--mpirun", required=True)
    parser.add_argument("--plugin", required=True)
    parser.add_argument("--work", default=tempfile.gettempdir())
    parser.add_argument("--sizes", default="8,16,32")
    parser.add_argument("--ranks", default="1,2")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    print("| atoms | ranks | native s/step | plugin s/step | ratio (range) | energy rel. diff | "
          "Pair native / plugin | Kspace native / plugin | Neigh native / plugin |")
    print("|---|---|---|---|---|---|---|---|---|")
    for cells in (int(c) for c in args.sizes.split(",")):
        for ranks in (int(r) for r in args.ranks.split(",")):
            native, plugin, ratios = [], [], []
            for _ in range(args.repeat):
                n = run(args, ranks, cells, "native")
                p = run(args, ranks, cells, "crystalpot")
                native.append(n)
                plugin.append(p)
                ratios.append(p[0] / n[0])
            diff = abs(plugin[0][1] - native[0][1]) / abs(native[0][1])
            t_native = median([n[0] for n in native])
            t_plugin = median([p[0] for p in plugin])

            def part(name):
                return (f"{median([n[2].get(name, 0.0) for n in native]):.3g} / "
                        f"{median([p[2].get(name, 0.0) for p in plugin]):.3g}")

            print(f"| {8 * cells ** 3} | {ranks} | {t_native:.4g} | {t_plugin:.4g} | "
                  f"{median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f}) | {diff:.1e} | "
                  f"{part('Pair')} | {part('Kspace')} | {part('Neigh')} |", flush=True)


if __name__ == "__main__":
    main()
