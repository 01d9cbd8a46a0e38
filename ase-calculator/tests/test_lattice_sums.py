"""lattice_sums and lattice_potential: physics, bounds and consistency with each other."""

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.calculator import Calculator, all_changes
from ase.calculators.fd import calculate_numerical_forces, calculate_numerical_stress

from crystalpot_ase import lattice_potential, lattice_sums
from conftest import distorted, relative_deviation, rock_salt

MADELUNG = {"rocksalt": 1.747564594633182, "cesiumchloride": 1.762674773070988}


@pytest.mark.parametrize("structure", sorted(MADELUNG))
def test_madelung_constants(structure):
    a = 4.0
    atoms = bulk("NaCl" if structure == "rocksalt" else "CsCl", structure, a=a, cubic=True)
    charges = np.where(atoms.numbers == atoms.numbers[0], 1.0, -1.0)
    sums = lattice_sums(atoms, tolerance=1e-12)
    # E = ½ Σ q_i q_j S(i, j) = −M N_pairs / r0 with r0 the nearest-neighbour distance.
    r0 = atoms.get_distance(0, 1, mic=True) if structure == "cesiumchloride" else a / 2
    pairs = len(atoms) / 2
    madelung = -0.5 * charges @ sums["coulomb"] @ charges * r0 / pairs
    # Each entry is off by at most the bound; the sum has N² entries of weight ≤ 1.
    bound = 0.5 * len(atoms) ** 2 * sums["error_bounds"]["coulomb"] * r0 / pairs
    assert abs(madelung - MADELUNG[structure]) <= bound + 1e-14
    assert bound < 1e-10


def test_matrices_are_symmetric_with_bounds_below_the_tolerance():
    atoms = distorted(bulk("CaF2", "fluorite", a=5.46), seed=4)
    sums = lattice_sums(atoms, tolerance=1e-9, pauli_alpha=2.0)
    for kind in ("coulomb", "london", "pauli"):
        matrix = sums[kind]
        assert matrix.shape == (len(atoms), len(atoms))
        assert np.max(np.abs(matrix - matrix.T)) <= 2 * sums["error_bounds"][kind]
        assert 0 < sums["error_bounds"][kind] <= 1e-9
    # Every term of the London and Pauli sums is positive.
    assert np.all(sums["london"] > 0) and np.all(sums["pauli"] > 0)


def test_pauli_self_term():
    atoms = rock_salt()
    alpha = 2.0
    with_self = lattice_sums(atoms, pauli_alpha=alpha, pauli_include_self=True)["pauli"]
    without = lattice_sums(atoms, pauli_alpha=alpha, pauli_include_self=False)["pauli"]
    # The i = j, k = 0 term is exp(−α·0) = 1, on the diagonal only.
    assert np.allclose(with_self - without, np.eye(len(atoms)), rtol=0, atol=1e-9)


def test_relative_tolerance_scales_with_the_largest_entry():
    atoms = rock_salt()
    sums = lattice_sums(atoms, tolerance=1e-8, relative=True)
    for kind in ("coulomb", "london", "pauli"):
        assert sums["error_bounds"][kind] <= 1e-8 * np.max(np.abs(sums[kind]))


@pytest.mark.parametrize("p", [1.0, 6.0])
def test_lattice_potential_equals_the_matrix_product(p):
    atoms = distorted(rock_salt(), seed=8)
    weights = np.where(atoms.numbers == 11, 1.0, -1.0)
    matrix = lattice_sums(atoms, tolerance=1e-12)["coulomb" if p == 1 else "london"]
    result = lattice_potential(atoms, p, weights, tolerance=1e-12)
    assert result["error_bound"] <= 1e-12 * 1.0001
    # Both are within their bounds of the exact value: 1e-12 per unit weight, N weights of 1.
    assert np.max(np.abs(result["phi"] - matrix @ weights)) <= 2 * len(atoms) * 1e-12 + 1e-12
    assert abs(result["energy"] - 0.5 * weights @ matrix @ weights) <= len(atoms) ** 2 * 1e-12


class PotentialEnergy(Calculator):
    """E = ½ Σ_i w_i φ_i (1/r^p) as an ASE calculator, for finite differences."""

    implemented_properties = ["energy", "free_energy"]

    def __init__(self, p, weights):
        Calculator.__init__(self)
        self.p, self.weights = p, weights

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        Calculator.calculate(self, atoms, properties, system_changes)
        result = lattice_potential(self.atoms, self.p, self.weights, tolerance=1e-12)
        self.results["energy"] = self.results["free_energy"] = result["energy"]


@pytest.mark.parametrize("p", [1.0, 6.0])
def test_lattice_potential_forces_and_virial_are_derivatives(p):
    atoms = distorted(rock_salt(), seed=8)
    weights = np.where(atoms.numbers == 11, 1.0, -1.0)  # neutral: no background term
    result = lattice_potential(atoms, p, weights, tolerance=1e-12)
    atoms.calc = PotentialEnergy(p, weights)
    # Central differences with h = 1e-5: the h² term is ~h²/d² ≈ 1e-11 relative (d ≈ 2.8 Å the
    # interatomic distance; measured ≤ 3e-9), rounding ~1e-16 |E| / h relative to the forces
    # ≲ 1e-9. The sums' truncation error is smooth in positions and strain (fixed split).
    forces = calculate_numerical_forces(atoms, eps=1e-5)
    assert relative_deviation(result["forces"], forces) < 1e-7
    stress = calculate_numerical_stress(atoms, eps=1e-5, voigt=False)
    assert relative_deviation(-result["virial"] / atoms.get_volume(), stress) < 1e-7
