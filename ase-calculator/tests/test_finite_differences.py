"""Forces and stress are the derivatives of the energy: ASE's finite differences agree to 1e-6.

Step h = 1e-4 (Å for positions, strain for the cell). Central differences are off by
~h²/(6ρ²) relative, ρ ≥ 0.17 Å the steepest Born–Mayer decay length: ≤ 6e-8. The lattice sums
are converged to 1e-13 relative (tight_nacl_model), so the truncation error of a ~40 eV
energy moves a difference quotient by at most ~4e-12 / 2e-4 = 2e-8 eV/Å. Both are far below
the 1e-6 asked for.
"""

import pytest
from ase.calculators.fd import calculate_numerical_forces, calculate_numerical_stress

from crystalpot_ase import CrystalpotCalculator
from conftest import distorted, relative_deviation, rock_salt

STEP = 1e-4
STRUCTURES = {
    "rattled strained NaCl (8 atoms)": distorted(rock_salt()),
    "rattled strained 2x1x1 NaCl (16 atoms)": distorted(rock_salt(5.5, (2, 1, 1)), strain=0.05, rattle=0.1, seed=3),
}


@pytest.mark.parametrize("name", STRUCTURES)
def test_forces_and_stress_equal_finite_differences(name, tight_nacl_model):
    atoms = STRUCTURES[name].copy()
    atoms.calc = CrystalpotCalculator(model=tight_nacl_model)
    forces = atoms.get_forces()
    stress = atoms.get_stress()
    assert relative_deviation(forces, calculate_numerical_forces(atoms, eps=STEP)) < 1e-6
    assert relative_deviation(stress, calculate_numerical_stress(atoms, eps=STEP)) < 1e-6
