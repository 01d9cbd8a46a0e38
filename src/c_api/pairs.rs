//! The pairwise fast path of the neighbour-list entry (see [`crate::model::pair_kernel`]):
//! for pair models (rigid-ion) an engine hands over its own arrays and half neighbour list in
//! place (LAMMPS: `x[0]`, `type`, `q`, `ilist`/`numneigh`/`firstneigh`) and gets the pair forces
//! added into its force array, with the real-space screened Coulomb and 1/r^6 parts at its
//! Ewald splitting. Nothing is packed or allocated per call.

use super::model::cpot_model_t;
use super::{borrow, cpot_status_t, slice, slice_mut, status_of, Failure, Outcome};
use super::{catch, CPOT_MODEL_ERROR};
use crate::model::pair_kernel::{HalfList, PairKernel, PairModel, PairOutputs, Splitting};

/// A model's pair coefficients for an engine's atom kinds (`cpot_pairs_new`).
pub struct cpot_pairs_t {
    kernel: PairKernel,
}

/// An engine's atoms and half neighbour list; every pointer is borrowed for the call.
#[repr(C)]
pub struct cpot_half_list_t {
    /// Number of centres.
    pub n_centres: usize,
    /// n_centres atom indices whose neighbours are listed (LAMMPS: ilist).
    pub centres: *const i32,
    /// Per atom index: its number of neighbour entries (LAMMPS: numneigh).
    pub counts: *const i32,
    /// Per atom index: its neighbour entries (LAMMPS: firstneigh); entry & index_mask is the
    /// neighbour's atom index. Every pair is listed once.
    pub neighbors: *const *const i32,
    /// Bits of an entry that are the atom index (LAMMPS: NEIGHMASK).
    pub index_mask: i32,
    /// Owned atoms (indices 0 .. n_owned), then ghosts up to n_atoms.
    pub n_owned: usize,
    pub n_atoms: usize,
    /// 3 * n_atoms coordinates (Å), atom-major.
    pub positions: *const f64,
    /// n_atoms kinds, indices of the `numbers` given to `cpot_pairs_new`.
    pub kinds: *const i32,
    /// n_atoms charges (e); NULL if the model has no Coulomb part.
    pub charges: *const f64,
    /// true: forces on ghosts are kept (the engine returns them to their owners) and each
    /// listed pair counts whole; false: ghosts get no force and a pair with a ghost counts half.
    pub newton: bool,
}

/// Outputs of `cpot_pairs_compute`. Buffers are added to; NULL ones are not computed.
#[repr(C)]
pub struct cpot_pair_results_t {
    /// Ewald splitting parameters of the engine's solver (1/Å): g for erfc(g r)/r, g_6 for
    /// the 1/r^6 sum (ignored for parts the model lacks).
    pub g_ewald: f64,
    pub g_ewald_6: f64,
    /// 3 * n_atoms forces (energy unit / Å), added to.
    pub forces: *mut f64,
    /// n_atoms per-atom energies, added to (NULL: not computed).
    pub atom_energies: *mut f64,
    /// 6 * n_atoms per-atom virials xx, yy, zz, xy, xz, yz, added to (NULL: not computed).
    pub atom_virials: *mut f64,
    /// Whether to compute `virial`.
    pub want_virial: bool,
    /// Written: repulsion + screened dispersion energy, screened Coulomb energy.
    pub energy_short: f64,
    pub energy_coulomb: f64,
    /// Written when want_virial: the pairs' virial xx, yy, zz, xy, xz, yz.
    pub virial: [f64; 6],
}

/// The pair coefficients of `model` for `n_kinds` engine atom kinds: `numbers[k]` is the
/// atomic number of kind k (0: unused kind, e.g. LAMMPS's type 0). Results come in an energy
/// unit of `energy_factor` per eV, the Coulomb part with `coulomb_constant` (that unit times
/// Å / e^2; LAMMPS: qqrd2e), the screened sums within `screened_cutoff` (Å). NULL on failure
/// (`cpot_last_error`): `CPOT_MODEL_ERROR` when the model is not a pair model with a rank-1
/// long range (use `cpot_local_compute`) or an element is not in it. Free with
/// `cpot_pairs_free`.
///
/// # Safety
/// `model` is NULL or a live handle; `numbers` is NULL or holds `n_kinds` values.
#[no_mangle]
pub unsafe extern "C" fn cpot_pairs_new(
    model: *const cpot_model_t,
    n_kinds: usize,
    numbers: *const i32,
    energy_factor: f64,
    coulomb_constant: f64,
    screened_cutoff: f64,
) -> *mut cpot_pairs_t {
    catch(|| {
        let model = borrow(model, "model")?;
        let (repulsion, long) = model.calculator.pair_model().ok_or_else(|| {
            Failure::new(
                CPOT_MODEL_ERROR,
                format!(
                    "model {:?} is not a pair model with per-element charges and dispersion",
                    model.calculator.info().name
                ),
            )
        })?;
        let kinds = slice(numbers, n_kinds, "numbers")?
            .iter()
            .enumerate()
            .map(|(k, &z)| match z {
                0 => Ok(None),
                1..=118 => Ok(Some(z as u8)),
                _ => Err(Failure::invalid(format!(
                    "numbers[{k}] = {z} is not an atomic number (or 0)"
                ))),
            })
            .collect::<Outcome<Vec<_>>>()?;
        let pair_model = PairModel {
            repulsion,
            dispersion: &long.dispersion,
        };
        let coulomb = if long.charges.is_empty() {
            0.0
        } else {
            coulomb_constant
        };
        let kernel = PairKernel::new(&pair_model, &kinds, energy_factor, coulomb, screened_cutoff)?;
        Ok(Box::into_raw(Box::new(cpot_pairs_t { kernel })))
    })
    .unwrap_or(std::ptr::null_mut())
}

/// Frees a handle from `cpot_pairs_new` (NULL is ignored).
///
/// # Safety
/// `pairs` is NULL or a handle from `cpot_pairs_new` not freed before.
#[no_mangle]
pub unsafe extern "C" fn cpot_pairs_free(pairs: *mut cpot_pairs_t) {
    if !pairs.is_null() {
        drop(Box::from_raw(pairs));
    }
}

/// Evaluates every pair of `list` once: repulsion, screened Coulomb and screened dispersion,
/// forces and per-atom terms added into `results` as LAMMPS's ev_tally does. Single-threaded
/// (engines run one call per MPI rank). `CPOT_INVALID_ARGUMENT` on NULL or inconsistent
/// buffers, a neighbour index out of range, a kind without an element, a NaN position;
/// `CPOT_INVALID_STRUCTURE` if two atoms coincide.
///
/// # Safety
/// `pairs` is NULL or a live handle; `list` and `results` are NULL or valid, their buffers
/// valid for the documented lengths (`counts` and `neighbors` for every centre index, each
/// centre's entries for its count) and the output buffers not aliased.
#[no_mangle]
pub unsafe extern "C" fn cpot_pairs_compute(
    pairs: *const cpot_pairs_t,
    list: *const cpot_half_list_t,
    results: *mut cpot_pair_results_t,
) -> cpot_status_t {
    status_of(|| {
        let kernel = &borrow(pairs, "pairs")?.kernel;
        let list = borrow(list, "list")?;
        let results = results
            .as_mut()
            .ok_or_else(|| Failure::invalid("results is NULL"))?;
        let n = list.n_atoms;
        let centres = slice(list.centres, list.n_centres, "list->centres")?;
        if list.n_centres > 0 && (list.counts.is_null() || list.neighbors.is_null()) {
            return Err(Failure::invalid("list->counts or list->neighbors is NULL"));
        }
        let (counts, firsts) = (list.counts, list.neighbors);
        // Indices are checked against n_atoms by the kernel before any neighbour is read.
        let neighbours = move |i: usize| -> &[i32] {
            let count = usize::try_from(*counts.add(i)).unwrap_or(0);
            if count == 0 {
                &[]
            } else {
                std::slice::from_raw_parts(*firsts.add(i), count)
            }
        };
        let half = HalfList {
            centres,
            neighbours,
            index_mask: list.index_mask,
            n_owned: list.n_owned,
            n_atoms: n,
            positions: slice(list.positions, n.saturating_mul(3), "list->positions")?,
            kinds: slice(list.kinds, n, "list->kinds")?,
            charges: if list.charges.is_null() {
                None
            } else {
                Some(slice(list.charges, n, "list->charges")?)
            },
            newton: list.newton,
        };
        let optional = |ptr: *mut f64, len: usize, what| -> Outcome<Option<&mut [f64]>> {
            if ptr.is_null() {
                Ok(None)
            } else {
                slice_mut(ptr, len, what).map(Some)
            }
        };
        let mut out = PairOutputs {
            forces: slice_mut(results.forces, n.saturating_mul(3), "results->forces")?,
            atom_energies: optional(results.atom_energies, n, "results->atom_energies")?,
            atom_virials: optional(
                results.atom_virials,
                n.saturating_mul(6),
                "results->atom_virials",
            )?,
            virial: results.want_virial,
        };
        let splitting = Splitting {
            g_ewald: results.g_ewald,
            g_ewald_6: results.g_ewald_6,
        };
        let sums = kernel.compute(&half, splitting, &mut out)?;
        results.energy_short = sums.short;
        results.energy_coulomb = sums.coulomb;
        if results.want_virial {
            results.virial = sums.virial;
        }
        Ok(())
    })
}
