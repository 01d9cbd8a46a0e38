"""Real ASE workflows with the shipped NaCl model: relaxations and NVE molecular dynamics."""

import numpy as np
from ase import units
from ase.filters import FrechetCellFilter
from ase.md.velocitydistribution import Stationary, thermalize_momenta
from ase.md.verlet import VelocityVerlet
from ase.optimize import BFGS
from scipy.optimize import minimize_scalar

from crystalpot_ase import CrystalpotCalculator
from conftest import rock_salt


def perfect_crystal_energy(a, calc):
    atoms = rock_salt(a)
    atoms.calc = calc
    return atoms.get_potential_energy()


def test_bfgs_relaxes_a_rattled_cell_back_to_the_perfect_crystal():
    calc = CrystalpotCalculator()
    atoms = rock_salt(5.64)
    atoms.rattle(stdev=0.1, seed=4)
    atoms.calc = calc
    start = atoms.get_potential_energy()
    assert BFGS(atoms, logfile=None).run(fmax=1e-4, steps=200)
    assert np.max(np.linalg.norm(atoms.get_forces(), axis=1)) < 1e-4
    # The minimum at fixed cell is the perfect crystal (up to a translation). Forces below 1e-4
    # eV/Å leave an energy error of order f²/k ~ 1e-8 eV with force constants k ~ 1 eV/Å².
    reference = perfect_crystal_energy(5.64, calc)
    assert atoms.get_potential_energy() < start
    assert abs(atoms.get_potential_energy() - reference) < 1e-7


def test_cell_relaxation_finds_the_energy_minimum_lattice_constant():
    calc = CrystalpotCalculator()
    # Independent reference: the minimum of E(a) of the perfect crystal, from energies only.
    a0 = minimize_scalar(lambda a: perfect_crystal_energy(a, calc), bracket=(5.4, 5.6, 5.9), tol=1e-10).x
    atoms = rock_salt(5.9)
    atoms.rattle(stdev=0.03, seed=2)
    atoms.calc = calc
    assert BFGS(FrechetCellFilter(atoms), logfile=None).run(fmax=1e-4, steps=300)
    assert np.max(np.abs(atoms.get_stress())) < 1e-5
    # Residual stress σ ≲ 1e-4·N/V ≈ 5e-6 eV/Å³ shifts a by a·σ/(3B) ~ 1e-5 Å (B ≈ 0.15 eV/Å³).
    lengths = atoms.cell.lengths()
    assert np.max(np.abs(lengths - a0)) < 1e-4, (lengths, a0)
    assert np.max(np.abs(atoms.cell.angles() - 90)) < 1e-3


def test_nve_molecular_dynamics_conserves_energy():
    atoms = rock_salt(5.64, (2, 1, 1))
    atoms.calc = CrystalpotCalculator()
    thermalize_momenta(atoms, temperature_K=300, rng=np.random.default_rng(1))
    Stationary(atoms)
    dyn = VelocityVerlet(atoms, timestep=1.0 * units.fs)
    totals = []
    dyn.attach(lambda: totals.append(atoms.get_total_energy()), interval=1)
    dyn.run(1000)  # 1 ps
    totals = np.array(totals)
    temperature = atoms.get_temperature()
    assert 50 < temperature < 600, temperature  # the crystal really moved
    drift = np.max(np.abs(totals - totals[0])) / len(atoms)
    print(f"NVE 1 ps, {len(atoms)} atoms: max |E(t) - E(0)| = {drift:.2e} eV/atom")
    assert drift < 1e-4
