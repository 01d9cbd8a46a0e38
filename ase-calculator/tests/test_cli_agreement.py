"""The Python binding (through the C ABI) and the command-line tool give the same numbers.

Both read the same extended-XYZ file, so they see identical coordinates; they run the same Rust
code, so only the summation order of the threaded sums may differ (≲ 1e-12 relative).
"""

import numpy as np
from ase.build import bulk
from ase.io import read, write
from ase.stress import full_3x3_to_voigt_6_stress

from crystalpot_ase import CrystalpotCalculator, lattice_sums
from conftest import distorted, relative_deviation, rock_salt, run_cli

SAME_CODE = 1e-12


def test_energy_forces_stress_agree_with_the_cli(tmp_path, nacl_model):
    frames = [distorted(rock_salt()), distorted(rock_salt(5.5, (1, 2, 1)), seed=9), rock_salt(5.7)]
    path = tmp_path / "frames.extxyz"
    write(path, frames, format="extxyz")
    cli = run_cli("energy", "--model", nacl_model, path)
    assert len(cli) == len(frames)
    calc = CrystalpotCalculator(model=nacl_model)
    for atoms, expected in zip(read(path, index=":"), cli):
        atoms.calc = calc
        assert abs(atoms.get_potential_energy() - expected["energy"]) <= SAME_CODE * abs(expected["energy"])
        assert relative_deviation(atoms.get_potential_energies(), expected["per_atom_energies"]) <= SAME_CODE
        forces = np.array(expected["forces"])
        assert np.max(np.abs(atoms.get_forces() - forces)) <= SAME_CODE * max(np.max(np.abs(forces)), 1.0)
        stress = full_3x3_to_voigt_6_stress(np.array(expected["stress"]))
        assert relative_deviation(atoms.get_stress(), stress) <= SAME_CODE
        assert abs(atoms.calc.results["energy_error_bound"] - expected["energy_error_bound"]) <= SAME_CODE * expected[
            "energy_error_bound"
        ]


def test_lattice_sums_agree_with_the_cli(tmp_path):
    atoms = distorted(bulk("CaF2", "fluorite", a=5.46), seed=2)
    path = tmp_path / "caf2.extxyz"
    write(path, atoms, format="extxyz")
    (expected,) = run_cli("potentials", path, "--tol", "1e-10", "--pauli-alpha", "2.5")
    sums = lattice_sums(read(path), tolerance=1e-10, pauli_alpha=2.5, pauli_include_self=False)
    for kind in ("coulomb", "london", "pauli"):
        assert relative_deviation(sums[kind], expected[kind]["matrix"]) <= SAME_CODE, kind
        bound = expected[kind]["error_bound"]
        assert abs(sums["error_bounds"][kind] - bound) <= SAME_CODE * bound, kind
