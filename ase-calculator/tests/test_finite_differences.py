"""Forces and stress of the shipped model are the derivatives of its energy: ASE's central
finite differences agree to 1e-6 relative (the issue's requirement).

Step h = 1e-5 (Å for positions, strain for the cell). The difference quotients are off by
(a) the h² term, measured to fall as h² (stress of the 8-atom cell: 1.3e-4, 1.3e-6, 1.2e-8
relative at h = 1e-3, 1e-4, 1e-5; forces 2.4e-6, 2.4e-8, 3e-9), and (b) rounding, ~1e-15·|E|/h
≈ 4e-9 eV/Å on forces of ~1 eV/Å. The lattice sums' truncation error (≤ 1e-10 relative) is a
smooth function of positions and strain (the split and cutoffs are fixed by the cell), so it
adds only its own derivative; the clean h² scaling down to h = 1e-5 shows that.
"""

import pytest
from ase.calculators.fd import calculate_numerical_forces, calculate_numerical_stress

from crystalpot_ase import CrystalpotCalculator
from conftest import distorted, relative_deviation, rock_salt

STEP = 1e-5
STRUCTURES = {
    "rattled strained NaCl (8 atoms)": distorted(rock_salt()),
    "rattled strained 2x1x1 NaCl (16 atoms)": distorted(rock_salt(5.5, (2, 1, 1)), strain=0.05, rattle=0.1, seed=3),
}


@pytest.mark.parametrize("name", STRUCTURES)
def test_forces_and_stress_equal_finite_differences(name, nacl_model):
    atoms = STRUCTURES[name].copy()
    atoms.calc = CrystalpotCalculator(model=nacl_model)
    forces = atoms.get_forces()
    stress = atoms.get_stress()
    assert relative_deviation(forces, calculate_numerical_forces(atoms, eps=STEP)) < 1e-6
    assert relative_deviation(stress, calculate_numerical_stress(atoms, eps=STEP)) < 1e-6
