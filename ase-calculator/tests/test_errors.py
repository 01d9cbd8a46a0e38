"""Bad input raises CrystalpotError carrying the library's own message; nothing crashes."""

import numpy as np
import pytest
from ase import Atoms

from crystalpot_ase import CrystalpotCalculator, CrystalpotError, lattice_sums
from conftest import rock_salt


def energy(atoms, **calculator):
    # The rigid-ion model by name: these tests are about the library's errors, not about
    # which model the elements select.
    calculator.setdefault("model", "nacl-rigid-ion")
    atoms.calc = CrystalpotCalculator(**calculator)
    return atoms.get_potential_energy()


def test_nan_positions():
    atoms = rock_salt()
    atoms.positions[3, 1] = np.nan
    with pytest.raises(CrystalpotError) as err:
        energy(atoms)
    assert err.value.status_name in ("CPOT_INVALID_ARGUMENT", "CPOT_INVALID_STRUCTURE")
    assert "nan" in err.value.message.lower() or "finite" in err.value.message.lower(), err.value.message


def test_unknown_element():
    atoms = rock_salt()
    atoms.numbers[0] = 0  # ASE's dummy atom "X"
    with pytest.raises(CrystalpotError) as err:
        energy(atoms)
    assert err.value.status_name == "CPOT_INVALID_STRUCTURE", err.value
    assert err.value.message


def test_element_not_in_the_model():
    atoms = rock_salt()
    atoms.symbols[0] = "K"
    with pytest.raises(CrystalpotError) as err:
        energy(atoms)
    assert err.value.status_name == "CPOT_MODEL_ERROR", err.value
    assert "K" in err.value.message


def test_missing_model_file(tmp_path):
    missing = tmp_path / "no-such-model.json"
    with pytest.raises(CrystalpotError) as err:
        CrystalpotCalculator(model=missing)
    assert str(missing) in err.value.message


def test_corrupt_model_file(tmp_path):
    corrupt = tmp_path / "corrupt.json"
    corrupt.write_text('{"kind": "rigid-ion", "charges": {"Na": 1, ')
    with pytest.raises(CrystalpotError) as err:
        CrystalpotCalculator(model=corrupt)
    assert "model" in err.value.message


@pytest.mark.parametrize("pbc", [False, (True, True, False)])
def test_non_periodic_systems_are_rejected(pbc):
    atoms = rock_salt()
    atoms.pbc = pbc
    with pytest.raises(CrystalpotError) as err:
        energy(atoms)
    assert "periodic" in err.value.message, err.value.message
    molecule = Atoms("NaCl", positions=[(0, 0, 0), (2.4, 0, 0)])
    with pytest.raises(CrystalpotError):
        energy(molecule)


def test_overlapping_atoms_and_singular_cell():
    atoms = rock_salt()
    atoms.positions[1] = atoms.positions[0]
    with pytest.raises(CrystalpotError) as err:
        lattice_sums(atoms)
    assert err.value.message
    flat = rock_salt()
    flat.cell[2] = flat.cell[0]
    with pytest.raises(CrystalpotError) as err:
        energy(flat)
    assert err.value.status_name == "CPOT_INVALID_STRUCTURE", err.value


def test_bad_lattice_sum_arguments():
    with pytest.raises(CrystalpotError) as err:
        lattice_sums(rock_salt(), tolerance=-1.0)
    assert err.value.message
    with pytest.raises(CrystalpotError) as err:
        lattice_sums(rock_salt(), pauli_alpha=float("nan"))
    assert err.value.message


def test_a_failed_call_leaves_the_calculator_usable():
    calc = CrystalpotCalculator()
    bad = rock_salt()
    bad.positions[0, 0] = np.inf
    bad.calc = calc
    with pytest.raises(CrystalpotError):
        bad.get_forces()
    good = rock_salt()
    good.calc = calc
    assert np.isfinite(good.get_potential_energy())
