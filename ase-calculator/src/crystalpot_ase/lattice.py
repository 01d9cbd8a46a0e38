"""The complete lattice sums as numpy arrays, with their rigorous error bounds."""

from . import _library


def lattice_sums(atoms, tolerance=1e-10, relative=False, pauli_alpha=3.0, pauli_include_self=True):
    """N×N matrices S(i, j) = Σ_k f(|r_j − r_i + k|) over every lattice vector k of a fully
    periodic ``atoms``, for f = 1/r (``"coulomb"``, 1/Å), 1/r^6 (``"london"``, 1/Å^6) and
    exp(−α r) (``"pauli"``, dimensionless, α = ``pauli_alpha`` in 1/Å).

    The i = j, k = 0 term is excluded from Coulomb and London; from Pauli only if
    ``pauli_include_self`` is false. ``tolerance`` bounds the error of every entry (absolute,
    or relative to the largest entry if ``relative``). Returns a dict with the three matrices
    and ``"error_bounds"``: a dict of the rigorous bound on the largest entry error of each.
    """
    coulomb, london, pauli, bounds = _library.lattice_sums(atoms, tolerance, relative, pauli_alpha, pauli_include_self)
    return {
        "coulomb": coulomb,
        "london": london,
        "pauli": pauli,
        "error_bounds": dict(zip(("coulomb", "london", "pauli"), (float(b) for b in bounds))),
    }


def lattice_potential(atoms, p, weights, tolerance=1e-10, derivatives=True):
    """Per-atom potential φ_i = Σ_j w_j S_p(i, j), S_p the lattice sum of 1/r^p (self term
    excluded), computed without forming the N×N matrix.

    Returns a dict: ``"phi"`` (per atom, in units of w/Å^p), ``"error_bound"`` (bound on the
    error of each φ_i, ``tolerance`` being absolute per unit weight) and, if ``derivatives``,
    the energy E = ½ Σ_i w_i φ_i (``"energy"``), its forces −∂E/∂r (``"forces"``, n×3) and
    virial −∂E/∂ε (``"virial"``, 3×3).
    """
    phi, bound, energy, forces, virial = _library.lattice_potential(atoms, p, weights, tolerance, derivatives)
    result = {"phi": phi, "error_bound": bound}
    if derivatives:
        result.update(energy=energy, forces=forces, virial=virial)
    return result
