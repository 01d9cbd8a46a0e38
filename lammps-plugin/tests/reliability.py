"""Reliability checks of `pair_style crystalpot` (issue 21), run by run_tests.py:

- NVE through a 0.6 Å Na-Cl approach with the rigid-ion model completes, every step computed,
  with the total energy conserved (before the fix the run stopped with "tolerance cannot be
  reached" near 1 Å);
- the shipped NaCl example prints the same thermo output on 1 and 4 ranks (`loop geom`
  velocities; before, `velocity create` gave other velocities on 4 ranks).
"""

import os

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PHYSICS_MODEL = os.path.join(ROOT, "models", "nacl-rigid-ion.json")
EXAMPLE = os.path.join(ROOT, "lammps-plugin", "examples", "in.nacl-nve")


def thermo(output):
    """The thermo table of a run: header and rows of floats."""
    lines = output.splitlines()
    start = next(i for i, l in enumerate(lines) if l.split()[:1] == ["Step"])
    end = next(i for i, l in enumerate(lines) if l.startswith("Loop time"))
    return lines[start].split(), [[float(x) for x in l.split()] for l in lines[start + 1:end]]


def test_close_approach(lmp, check):
    _, output = lmp.run("close-approach.in", {"plugin": lmp.plugin, "model": PHYSICS_MODEL})
    header, rows = thermo(output)
    d = [r[header.index("v_d")] for r in rows]
    etot = [r[header.index("TotEng")] for r in rows]
    pe = [r[header.index("PotEng")] for r in rows]
    closest = min(d)
    print(f"     close approach: {len(rows) - 1} steps, closest Na-Cl {closest:.3f} Å, "
          f"highest PotEng {max(pe) - pe[0]:.1f} eV above the start", flush=True)
    check("close approach reaches below 0.65 Å (Å)", closest, 0.65)
    check("close approach bounces back (final distance above 2 Å, deficit in Å)",
          max(0.0, 2.0 - d[-1]), 0.0)
    check("close approach: total-energy change / potential-energy swing",
          (max(etot) - min(etot)) / (max(pe) - min(pe)), 1e-3)


def test_example_ranks(lmp, check):
    variables = {"plugin": lmp.plugin, "model": PHYSICS_MODEL, "steps": 200, "thermo": 100}
    _, one = lmp.run(EXAMPLE, variables)
    _, four = lmp.run(EXAMPLE, variables, ranks=4)
    (_, a), (_, b) = thermo(one), thermo(four)
    worst = max(abs(x - y) / max(abs(x), 1e-300) for ra, rb in zip(a, b) for x, y in zip(ra, rb))
    check("example thermo output, 4 ranks vs 1 (relative)", worst, 1e-9)
