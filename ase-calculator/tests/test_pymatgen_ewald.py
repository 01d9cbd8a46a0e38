"""The Coulomb part against an independent code: pymatgen's EwaldSummation.

Both codes use pymatgen's Coulomb constant (the model file sets it). pymatgen with
acc_factor=12 converges each Ewald sum to ~1e-12 relative and crystalpot's model to 1e-12,
so 1e-8 relative leaves room only for a real discrepancy.
"""

import numpy as np
import pytest
from ase.build import bulk
from pymatgen.core.ewald import EwaldSummation
from pymatgen.io.ase import AseAtomsAdaptor

from crystalpot_ase import CrystalpotCalculator
from conftest import PYMATGEN_COULOMB_CONSTANT, distorted, relative_deviation, rock_salt, write_model

CASES = {
    "rattled strained NaCl": (distorted(rock_salt()), {"Na": 1.0, "Cl": -1.0}),
    "rattled strained fluorite CaF2": (distorted(bulk("CaF2", "fluorite", a=5.46), seed=11), {"Ca": 2.0, "F": -1.0}),
    "rattled 2x2x1 MgO supercell": (distorted(bulk("MgO", "rocksalt", a=4.21).repeat((2, 2, 1)), seed=5), {"Mg": 2.0, "O": -2.0}),
}


def test_pymatgen_coulomb_constant_is_the_one_used():
    assert EwaldSummation.CONV_FACT == PYMATGEN_COULOMB_CONSTANT


@pytest.mark.parametrize("name", CASES)
def test_energy_and_forces_match_pymatgen_ewald(name, tmp_path):
    atoms, charges = CASES[name]
    atoms = atoms.copy()
    structure = AseAtomsAdaptor.get_structure(atoms)
    structure.add_oxidation_state_by_element(charges)
    ewald = EwaldSummation(structure, acc_factor=12, compute_forces=True)

    model = write_model(
        tmp_path / "ions.json", charges=charges, coulomb_constant=PYMATGEN_COULOMB_CONSTANT, tolerance=1e-12
    )
    atoms.calc = CrystalpotCalculator(model=model)
    energy = atoms.get_potential_energy()
    assert abs(energy - ewald.total_energy) <= 1e-8 * abs(ewald.total_energy)
    assert relative_deviation(atoms.get_forces(), np.asarray(ewald.forces)) <= 1e-8
