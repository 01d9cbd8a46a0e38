"""The shipped linear ACE model through ASE: forces and stress are the derivatives of the
energy, and the committee's energy standard deviation is in ``results["energy_std"]``."""

import numpy as np
from ase.build import bulk
from ase.calculators.fd import calculate_numerical_forces, calculate_numerical_stress

from conftest import REPO, distorted
from crystalpot_ase import CrystalpotCalculator

MODEL = REPO / "models" / "linear-mlearn-Si.safetensors"


def test_linear_si_forces_stress_and_uncertainty():
    atoms = distorted(bulk("Si", "diamond", a=5.43, cubic=True), strain=0.01, rattle=0.05)
    atoms.calc = CrystalpotCalculator(model=str(MODEL))
    energy = atoms.get_potential_energy()
    # PBE silicon (mlearn's VASP reference) sits near −5.4 eV/atom.
    assert -5.6 < energy / len(atoms) < -5.2
    std = atoms.calc.results["energy_std"]
    assert 0.0 < std < 0.05 * len(atoms)
    forces = atoms.get_forces()
    np.testing.assert_allclose(forces, calculate_numerical_forces(atoms, eps=1e-5), atol=1e-6)
    stress = atoms.get_stress()
    np.testing.assert_allclose(stress, calculate_numerical_stress(atoms, eps=1e-6), atol=1e-6)
