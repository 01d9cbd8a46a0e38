//! The lattice sums themselves: N×N matrices and per-atom potentials with error bounds.

use super::{
    borrow, cpot_status_t, cpot_system_t, row_major, slice, slice_mut, status_of, structure_of,
    write_optional, write_vectors,
};
use crate::error::check_finite;
use crate::lattice::per_atom::{channel_sums, Channels};
use crate::lattice::{pair_matrices, Potential, Tolerance};

/// Complete lattice sums of every atom pair (exact mode): N×N row-major matrices of
/// Σ'_k 1/|r|, Σ'_k 1/|r|^6 (Å^-1, Å^-6) and Σ_k exp(-pauli_alpha |r|) (pauli_alpha in 1/Å),
/// into caller-owned buffers (`coulomb`, `london`, `pauli`; each may be NULL to skip it).
/// `tolerance` > 0 bounds the largest error of any entry, absolute (in the sum's unit) or,
/// if `relative` != 0, relative to the largest |entry|. `error_bounds` (NULL or 3 values)
/// receives the rigorous bounds (coulomb, london, pauli; 0 for a skipped matrix). The Pauli
/// sum leaves out the i = j, k = 0 term iff `pauli_include_self` == 0.
///
/// # Safety
/// `system` as for `cpot_compute`; every output is NULL or valid for N*N (3 for
/// `error_bounds`) writes.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn cpot_lattice_sums(
    system: *const cpot_system_t,
    tolerance: f64,
    relative: i32,
    pauli_alpha: f64,
    pauli_include_self: i32,
    coulomb: *mut f64,
    london: *mut f64,
    pauli: *mut f64,
    error_bounds: *mut f64,
) -> cpot_status_t {
    status_of(|| {
        let structure = structure_of(borrow(system, "system")?)?;
        let bounds = if error_bounds.is_null() {
            None
        } else {
            Some(slice_mut(error_bounds, 3, "error_bounds")?)
        };
        let tol = if relative != 0 {
            Tolerance::Relative(tolerance)
        } else {
            Tolerance::Absolute(tolerance)
        };
        let all = [
            (Potential::InversePower(1.0), coulomb, "coulomb"),
            (Potential::InversePower(6.0), london, "london"),
            (
                Potential::Exponential {
                    alpha: pauli_alpha,
                    include_self: pauli_include_self != 0,
                },
                pauli,
                "pauli",
            ),
        ];
        let wanted: Vec<usize> = (0..3).filter(|&k| !all[k].1.is_null()).collect();
        let n = structure.len();
        let n2 = n.saturating_mul(n);
        let outputs = wanted
            .iter()
            .map(|&k| slice_mut(all[k].1, n2, all[k].2))
            .collect::<Result<Vec<_>, _>>()?;
        let potentials: Vec<Potential> = wanted.iter().map(|&k| all[k].0).collect();
        let matrices = if potentials.is_empty() {
            Vec::new()
        } else {
            pair_matrices(&structure, &potentials, tol)?
        };
        for (&k, m) in wanted.iter().zip(&matrices) {
            check_finite(
                &format!("the {} matrix", all[k].2),
                m.values.iter().copied(),
            )?;
        }
        let mut bound = [0.0; 3];
        for ((&k, out), m) in wanted.iter().zip(outputs).zip(&matrices) {
            out.copy_from_slice(&m.values);
            bound[k] = m.error_bound;
        }
        if let Some(b) = bounds {
            b.copy_from_slice(&bound);
        }
        Ok(())
    })
}

/// Per-atom potentials φ_i = Σ_j w_j S_p(i, j) (S_p the complete sum of 1/|r|^p, p > 0,
/// p != 3, self term excluded) without forming the N×N matrix, for the n_atoms `weights`.
/// `tolerance` is the absolute accuracy of φ per unit of the largest |weight| (Å^-p). Outputs,
/// each NULL to skip: `phi` (n_atoms), `phi_error_bound` (1, a rigorous bound on
/// max_i |φ_i − exact|), `energy` (1, E = ½ Σ_i w_i φ_i), and its derivatives `forces`
/// (3 * n_atoms, −∂E/∂x) and `virial` (9, row-major, −∂E/∂ε).
///
/// # Safety
/// `system` as for `cpot_compute`; `weights` NULL or n_atoms values; outputs NULL or valid
/// for their lengths.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn cpot_lattice_potential(
    system: *const cpot_system_t,
    p: f64,
    weights: *const f64,
    tolerance: f64,
    phi: *mut f64,
    phi_error_bound: *mut f64,
    energy: *mut f64,
    forces: *mut f64,
    virial: *mut f64,
) -> cpot_status_t {
    status_of(|| {
        let structure = structure_of(borrow(system, "system")?)?;
        let n = structure.len();
        let weights = slice(weights, n, "weights")?;
        let derivatives = !forces.is_null() || !virial.is_null();
        let channels = Channels::single(weights.to_vec(), 1.0);
        let sums = channel_sums(&structure, p, &channels, tolerance, derivatives)?;
        check_finite("phi", sums.phi[0].iter().copied())?;
        check_finite("the energy", [sums.energy, sums.phi_error_bound[0]])?;
        check_finite(
            "a force component",
            sums.forces.iter().flatten().flat_map(|f| f.iter().copied()),
        )?;
        check_finite(
            "a virial component",
            sums.virial.iter().flat_map(|w| w.iter().copied()),
        )?;
        write_optional(phi, &sums.phi[0], "phi")?;
        write_optional(
            phi_error_bound,
            &sums.phi_error_bound[..1],
            "phi_error_bound",
        )?;
        write_optional(energy, &[sums.energy], "energy")?;
        if let Some(f) = sums.forces.filter(|_| !forces.is_null()) {
            write_vectors(slice_mut(forces, 3 * n, "forces")?, &f);
        }
        if let Some(w) = sums.virial {
            write_optional(virial, &row_major(&w), "virial")?;
        }
        Ok(())
    })
}
