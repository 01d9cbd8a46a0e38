"""The calculator's interface: properties, units, defaults, caching, threads, version check."""

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.calculator import PropertyNotImplementedError

import crystalpot_ase
from crystalpot_ase import CrystalpotCalculator, _library
from conftest import distorted, rock_salt, write_model

# Madelung constant of rock salt (energy per ion pair −M k_e / r0, r0 = a/2).
MADELUNG_ROCK_SALT = 1.747564594633182
CODATA_COULOMB_CONSTANT = 14.39964547842567


def test_default_model_is_the_shipped_model_for_the_elements(nacl_model):
    atoms = rock_salt()
    atoms.calc = CrystalpotCalculator()
    assert atoms.calc.info is None  # chosen at the first calculation
    atoms.get_potential_energy()
    assert atoms.calc.info["kind"] == "rigid-ion"
    assert sorted(atoms.calc.info["elements"]) == ["Cl", "Na"]
    # The shipped copy is the repository's file, and the same model by name.
    assert crystalpot_ase.shipped_models()["nacl-rigid-ion.json"].read_text() == nacl_model.read_text()
    assert CrystalpotCalculator(model="nacl-rigid-ion").info == atoms.calc.info
    # Silicon gets the fitted linear model made for it (not a model of other elements).
    silicon = bulk("Si", "diamond", a=5.43, cubic=True)
    silicon.calc = CrystalpotCalculator()
    silicon.get_potential_energy()
    assert silicon.calc.info["kind"] == "linear" and silicon.calc.info["elements"] == ["Si"]
    assert silicon.calc.parameters["model"].endswith("linear-mlearn-Si.safetensors")


def test_no_shipped_model_for_the_elements_names_those_that_exist():
    gold = bulk("Au", "fcc", a=4.08)
    gold.calc = CrystalpotCalculator()
    with pytest.raises(ValueError, match=r"no shipped energy model knows Au.*linear-mlearn-Si\.safetensors \(Si\)"):
        gold.get_potential_energy()


def test_shipped_models_are_model_files_only():
    names = crystalpot_ase.shipped_models()
    assert names and all(n.endswith((".safetensors", ".json")) for n in names)
    assert not any(n.endswith((".train-config.json", ".checkpoint.safetensors")) for n in names)


def test_implemented_properties_and_units():
    calc = CrystalpotCalculator()
    assert calc.implemented_properties == ["energy", "free_energy", "energies", "forces", "stress"]
    assert set(calc.units) == set(calc.implemented_properties)
    with pytest.raises(PropertyNotImplementedError):
        calc.get_property("dipole", rock_salt())


def test_coulomb_only_energy_is_the_madelung_energy(tmp_path):
    model = write_model(tmp_path / "ions.json", charges={"Na": 1, "Cl": -1})
    atoms = rock_salt(5.64)
    atoms.calc = CrystalpotCalculator(model=model)
    expected = -4 * MADELUNG_ROCK_SALT * CODATA_COULOMB_CONSTANT / 2.82
    assert abs(atoms.get_potential_energy() - expected) <= 1e-9 * abs(expected)
    # A perfect crystal: no forces, isotropic stress.
    assert np.max(np.abs(atoms.get_forces())) < 1e-9
    stress = atoms.get_stress()
    assert np.allclose(stress[:3], stress[0], rtol=1e-10) and np.max(np.abs(stress[3:])) < 1e-12
    # Coulomb energy scales as 1/a: under isotropic strain ε (all three ε_ii = ε) dE/dε = −E
    # = Σ_i V σ_ii, so σ_xx = −E / (3V) > 0: the ions pull inwards (tension).
    assert abs(stress[0] + expected / (3 * atoms.get_volume())) <= 1e-9 * abs(stress[0])


def test_consistent_properties():
    atoms = distorted(rock_salt())
    atoms.calc = CrystalpotCalculator()
    energy = atoms.get_potential_energy()
    assert atoms.get_potential_energy(force_consistent=True) == energy
    assert abs(atoms.get_potential_energies().sum() - energy) <= 1e-12 * abs(energy)
    # Newton's third law: forces sum to zero.
    assert np.max(np.abs(atoms.get_forces().sum(axis=0))) < 1e-10 * np.max(np.abs(atoms.get_forces()))
    assert atoms.get_stress().shape == (6,)
    assert atoms.get_stress(voigt=False).shape == (3, 3)
    assert 0 < atoms.calc.results["energy_error_bound"] < 1e-8 * abs(energy)


def test_results_are_cached_until_the_atoms_change(monkeypatch):
    atoms = distorted(rock_salt())
    atoms.calc = CrystalpotCalculator()
    calls = []
    compute = _library.Model.compute
    monkeypatch.setattr(_library.Model, "compute", lambda self, *a: calls.append(a[1]) or compute(self, *a))
    e0 = atoms.get_potential_energy()
    atoms.get_potential_energy()
    assert len(calls) == 1
    atoms.get_forces()  # new property: one more call, energy kept
    assert len(calls) == 2 and atoms.get_potential_energy() == e0
    atoms.get_forces()
    assert len(calls) == 2
    atoms.positions[0, 0] += 0.01
    assert atoms.get_potential_energy() != e0 and len(calls) == 3
    atoms.set_cell(atoms.cell * 1.01, scale_atoms=True)
    atoms.get_stress()
    assert len(calls) == 4 and calls[-1] == _library.VIRIAL
    # Initial charges are not an input of the model: changing them does not recompute.
    atoms.set_initial_charges(np.ones(len(atoms)))
    atoms.get_stress()
    assert len(calls) == 4


def test_thread_count_does_not_change_the_results():
    atoms = distorted(rock_salt(repeat=(2, 1, 1)))
    results = []
    for threads in (1, 2, None):
        atoms.calc = CrystalpotCalculator(threads=threads)
        results.append((atoms.get_potential_energy(), atoms.get_forces(), atoms.get_stress()))
    for energy, forces, stress in results[1:]:
        # Only the summation order differs between thread counts.
        assert abs(energy - results[0][0]) <= 1e-12 * abs(energy)
        assert np.max(np.abs(forces - results[0][1])) <= 1e-12 * np.max(np.abs(forces))
        assert np.max(np.abs(stress - results[0][2])) <= 1e-12 * np.max(np.abs(stress))


def test_library_version_is_checked():
    assert crystalpot_ase.__version__ == _library.VERSION
    _library.check_version(_library.VERSION)
    # Semver: a newer patch (0.x) or minor (from 1.0) is compatible, older or other
    # generations are not.
    for library, header in [("0.1.0", "0.1.0"), ("0.1.7", "0.1.2"), ("1.4.0", "1.2.3"), ("1.2.3", "1.2.3")]:
        _library.check_version(library, header)
    for library, header in [("0.2.0", "0.1.0"), ("0.1.1", "0.1.2"), ("1.0.0", "0.1.0"), ("2.0.0", "1.9.0"),
                            ("1.1.0", "1.2.0"), ("9.9.9", "0.1.0"), ("garbage", "0.1.0")]:
        with pytest.raises(ImportError, match=f"compatible with {header}, found {library}"):
            _library.check_version(library, header)
