"""Issue 21 through the ASE calculator: no wrapped integers, clear errors, warnings, close pairs."""

import numpy as np
import pytest
from ase import Atoms

from crystalpot_ase import CrystalpotCalculator, CrystalpotError, lattice_potential
from conftest import rock_salt


def test_an_atomic_number_beyond_int32_is_refused_not_wrapped():
    atoms = rock_salt()
    atoms.numbers[0] = 2**32 + 11  # truncated to int32 this would be Na
    atoms.calc = CrystalpotCalculator(model="nacl-rigid-ion")
    with pytest.raises(CrystalpotError) as err:
        atoms.get_potential_energy()
    assert err.value.status_name == "CPOT_INVALID_STRUCTURE"
    assert str(2**32 + 11) in err.value.message


def test_a_failed_model_load_has_a_status(tmp_path):
    with pytest.raises(CrystalpotError) as err:
        CrystalpotCalculator(model=str(tmp_path / "missing.json"))
    assert err.value.status_name == "CPOT_IO_ERROR", err.value


@pytest.mark.parametrize("threads", [-1, 2.5, "2", True])
def test_bad_thread_counts_are_named(threads):
    with pytest.raises(CrystalpotError) as err:
        CrystalpotCalculator(threads=threads)
    assert err.value.status_name == "CPOT_INVALID_ARGUMENT"
    assert "threads must be a non-negative integer" in err.value.message
    assert "18446744073709551615" not in err.value.message


def test_huge_weights_are_an_error_not_minus_infinity():
    atoms = rock_salt()
    weights = np.where(atoms.numbers == 11, 1e300, -1e300)
    with pytest.raises(CrystalpotError) as err:
        lattice_potential(atoms, 1.0, weights)
    assert "non-finite result" in err.value.message


def test_close_atoms_are_named():
    atoms = rock_salt()
    atoms.positions[4] = atoms.positions[0] + [0.1, 0, 0]
    atoms.calc = CrystalpotCalculator()
    with pytest.raises(CrystalpotError) as err:
        atoms.get_potential_energy()
    assert err.value.status_name == "CPOT_INVALID_STRUCTURE"
    assert "Å apart" in err.value.message and "atoms 0 (Na) and 4" in err.value.message


def test_a_charged_cell_warns():
    atoms = Atoms("Na", cell=np.eye(3) * 4.0, pbc=True)
    atoms.calc = CrystalpotCalculator()
    with pytest.warns(RuntimeWarning, match="neutralising background"):
        atoms.get_potential_energy()
    assert any("neutralising background" in w for w in atoms.calc.results["warnings"])
