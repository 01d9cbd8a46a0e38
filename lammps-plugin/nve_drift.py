#!/usr/bin/env python3
"""Energy drift of NVE molecular dynamics in LAMMPS with every shipped MD model (benchmark,
not a test): velocity Verlet at 1 fs from 300 K and 1,000 K, 10,000 steps by default, on small
cells (54–128 atoms). Prints a Markdown table: drift = slope of a least-squares line through
the total energy per atom against time (eV/atom/ps), and the largest excursion of the total
energy from its start (eV/atom). The bar is |drift| <= 1e-5 eV/atom/ps.

Usage: nve_drift.py --lmp LMP --plugin crystalpotplugin.so [--crystalpot BIN] [--work DIR]
       [--steps 10000] [--models linear-mlearn-Si ...] [--temperatures 300 1000]
(after tests/run-lammps.sh: target/venv/bin/lmp, target/lammps-plugin/crystalpotplugin.so,
target/release/crystalpot). The crystalpot input lines (kspace for models with long range)
come from `crystalpot lammps-input`; multi-element models start from the first frame of their
training data (given by CRYSTALPOT_DATA or ../shared/data).
"""

import argparse
import os
import re
import tempfile

from benchmark_snap import crystalpot_lines, run_lammps

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = os.path.join(HERE, "..", "models")
DATA = os.environ.get("CRYSTALPOT_DATA", os.path.join(HERE, "..", "..", "shared", "data"))
MASSES = {"Li": 6.94, "Mo": 95.95, "Ge": 72.63, "Si": 28.0855, "Cu": 63.546, "Ni": 58.693,
          "Ti": 47.867, "O": 15.999}
# Elemental models: (element, lattice, a in Å, cells per edge) -> 54–128 atoms.
CRYSTALS = {"Li": ("bcc", 3.44, 4), "Mo": ("bcc", 3.16, 4), "Ge": ("diamond", 5.66, 2),
            "Si": ("diamond", 5.43, 2), "Cu": ("fcc", 3.62, 3), "Ni": ("fcc", 3.52, 3)}
# Multi-element models: the extended XYZ whose first frame is the start.
FRAMES = {"limonitio": "ionic/LiMoNiTiO_train.xyz"}
DEFAULT_MODELS = [f"linear-mlearn-{e}" for e in CRYSTALS] + ["limonitio"]

MD = """velocity all create {temperature} 4928459 loop geom
fix nve all nve
timestep 0.001
thermo_style custom step time etotal pe temp
thermo_modify norm yes format float %.12g
thermo {every}
run {steps}
"""


def first_frame(path):
    """(lattice rows, [(symbol, x, y, z)]) of the first frame of an extended XYZ file."""
    with open(path) as f:
        n = int(f.readline())
        header = f.readline()
        lattice = [float(v) for v in re.search(r'Lattice="([^"]+)"', header).group(1).split()]
        atoms = []
        for _ in range(n):
            parts = f.readline().split()
            atoms.append((parts[0], *map(float, parts[1:4])))
    return [lattice[0:3], lattice[3:6], lattice[6:9]], atoms


def data_file(path, lattice, atoms, elements):
    """A LAMMPS data file (restricted triclinic: the cell rotated so a ∥ x, b in xy)."""
    import math
    a, b, c = lattice
    dot = lambda u, v: sum(x * y for x, y in zip(u, v))
    la, lb, lc = (math.sqrt(dot(v, v)) for v in (a, b, c))
    xy = dot(b, a) / la
    yy = math.sqrt(lb * lb - xy * xy)
    xz = dot(c, a) / la
    yz = (dot(b, c) - xy * xz) / yy
    zz = math.sqrt(lc * lc - xz * xz - yz * yz)
    # Fractional coordinates from the original cell, Cartesian in the rotated one.
    det = (a[0] * (b[1] * c[2] - b[2] * c[1]) - a[1] * (b[0] * c[2] - b[2] * c[0])
           + a[2] * (b[0] * c[1] - b[1] * c[0]))
    inv = [[(b[1] * c[2] - b[2] * c[1]) / det, (a[2] * c[1] - a[1] * c[2]) / det,
            (a[1] * b[2] - a[2] * b[1]) / det],
           [(b[2] * c[0] - b[0] * c[2]) / det, (a[0] * c[2] - a[2] * c[0]) / det,
            (a[2] * b[0] - a[0] * b[2]) / det],
           [(b[0] * c[1] - b[1] * c[0]) / det, (a[1] * c[0] - a[0] * c[1]) / det,
            (a[0] * b[1] - a[1] * b[0]) / det]]
    lines = ["crystalpot nve_drift start", "", f"{len(atoms)} atoms", f"{len(elements)} atom types",
             f"0 {la:.10f} xlo xhi", f"0 {yy:.10f} ylo yhi", f"0 {zz:.10f} zlo zhi",
             f"{xy:.10f} {xz:.10f} {yz:.10f} xy xz yz", "", "Masses", ""]
    lines += [f"{k + 1} {MASSES[e]}" for k, e in enumerate(elements)]
    lines += ["", "Atoms # atomic", ""]
    for k, (sym, *r) in enumerate(atoms):
        f = [sum(r[i] * inv[i][j] for i in range(3)) % 1.0 for j in range(3)]
        x = f[0] * la + f[1] * xy + f[2] * xz
        y = f[1] * yy + f[2] * yz
        z = f[2] * zz
        lines.append(f"{k + 1} {elements.index(sym) + 1} {x:.10f} {y:.10f} {z:.10f}")
    with open(path, "w") as out:
        out.write("\n".join(lines) + "\n")


def setup(args, name):
    """The structure lines and the element order of a model's start."""
    if name in FRAMES:
        lattice, atoms = first_frame(os.path.join(DATA, FRAMES[name]))
        elements = sorted({a[0] for a in atoms}, key=lambda e: [a[0] for a in atoms].index(e))
        path = os.path.join(args.work, f"{name}.data")
        data_file(path, lattice, atoms, elements)
        return f"units metal\natom_style atomic\nboundary p p p\nread_data {path}\n", elements
    element = name.rsplit("-", 1)[-1]
    lattice, a, cells = CRYSTALS[element]
    return (f"units metal\natom_style atomic\nboundary p p p\nlattice {lattice} {a}\n"
            f"region box block 0 {cells} 0 {cells} 0 {cells}\ncreate_box 1 box\n"
            f"create_atoms 1 box\nmass 1 {MASSES[element]}\n"
            "displace_atoms all random 0.03 0.03 0.03 4928459 units box\n"), [element]


def drift(args, name, temperature):
    """(drift eV/atom/ps, largest |E − E₀| eV/atom, atoms) of one NVE run."""
    model = os.path.abspath(os.path.join(MODELS, f"{name}.safetensors"))
    structure, elements = setup(args, name)
    every = max(args.steps // 200, 1)
    text = (structure + crystalpot_lines(args, model, elements) + "\n"
            + MD.format(temperature=temperature, steps=args.steps, every=every))
    stdout = run_lammps(args, text, f"nve-{name}-{temperature}.in")
    atoms = int(re.search(r"(\d+) atoms\b", stdout).group(1))
    rows = [line.split() for line in stdout.splitlines()]
    rows = [r for r in rows if len(r) == 5 and r[0].isdigit()]
    t = [float(r[1]) for r in rows]
    e = [float(r[2]) for r in rows]
    n = len(t)
    mt, me = sum(t) / n, sum(e) / n
    slope = (sum((x - mt) * (y - me) for x, y in zip(t, e))
             / sum((x - mt) ** 2 for x in t))
    return slope, max(abs(y - e[0]) for y in e), atoms


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lmp", required=True)
    parser.add_argument("--plugin", required=True)
    parser.add_argument("--crystalpot", default=os.path.join(HERE, "..", "target", "release",
                                                             "crystalpot"))
    parser.add_argument("--work", default=tempfile.gettempdir())
    parser.add_argument("--steps", type=int, default=10000)
    parser.add_argument("--models", nargs="+", default=DEFAULT_MODELS)
    parser.add_argument("--temperatures", nargs="+", type=float, default=[300.0, 1000.0])
    args = parser.parse_args()
    os.makedirs(args.work, exist_ok=True)
    print(f"| model | atoms | T start (K) | drift (eV/atom/ps) | max abs(E - E0) (eV/atom) | "
          f"<= 1e-5 |")
    print("|---|---|---|---|---|---|")
    for name in args.models:
        for temperature in args.temperatures:
            slope, excursion, atoms = drift(args, name, temperature)
            ok = "yes" if abs(slope) <= 1e-5 else "**no**"
            print(f"| {name} | {atoms} | {temperature:g} | {slope:.2e} | {excursion:.2e} | "
                  f"{ok} |", flush=True)


if __name__ == "__main__":
    main()
