//! The neighbour-list entry: engines that own the neighbour search and the spatial
//! decomposition (LAMMPS with its ghost atoms) hand over centres with their neighbours and get
//! back per-centre energies, per-neighbour gradients and per-centre virials of the model's
//! [`crate::model::local::LocalModel`]; and the query for the model's rank-1 long range, which
//! such engines evaluate with their own Ewald-type solvers.

use rayon::prelude::*;

use super::model::cpot_model_t;
use super::{
    borrow, cpot_status_t, slice, slice_mut, status_of, Failure, Outcome, CPOT_MODEL_ERROR,
};
use crate::cell::Vec3;
use crate::model::local::{Environment, LocalModel};

/// `cpot_long_range`: the model has a Coulomb part (per-element charges on the complete 1/r
/// sum).
pub const CPOT_LONG_RANGE_COULOMB: u32 = 1;
/// `cpot_long_range`: the model has a dispersion part (E = -sum_{i<j} c_i c_j / r^6 over all
/// images, per-element c).
pub const CPOT_LONG_RANGE_DISPERSION: u32 = 2;

/// Centres and their neighbours in compressed-row form; every pointer is borrowed for the call.
/// Centre k's neighbours are entries offsets[k] .. offsets[k + 1]; a neighbour may be any atom
/// or periodic image (an engine's ghost), and may lie beyond the model's cutoff (ignored).
#[repr(C)]
pub struct cpot_neighbors_t {
    /// Number of centres.
    pub n_centres: usize,
    /// n_centres atomic numbers.
    pub centre_numbers: *const i32,
    /// n_centres + 1 non-decreasing offsets, offsets[0] = 0.
    pub offsets: *const usize,
    /// offsets[n_centres] atomic numbers, one per neighbour entry.
    pub neighbor_numbers: *const i32,
    /// 3 * offsets[n_centres] values: the vector from the centre to the neighbour (Å).
    pub vectors: *const f64,
}

/// Outputs of `cpot_local_compute`; NULL buffers are not computed or written.
#[repr(C)]
pub struct cpot_local_results_t {
    /// Written: the sum of the centre energies (eV).
    pub energy: f64,
    /// n_centres values: E_i (eV).
    pub centre_energies: *mut f64,
    /// 3 * offsets[n_centres] values: dE_i/dr_ij (eV/Å) per neighbour entry. The force on the
    /// neighbour is -dE_i/dr_ij, on the centre +dE_i/dr_ij.
    pub gradients: *mut f64,
    /// 9 * n_centres row-major values: the centre's virial -sum_j r_ij (x) dE_i/dr_ij (eV).
    pub centre_virials: *mut f64,
}

/// The model's local part, or the error that it has none.
fn local_model(model: &cpot_model_t) -> Outcome<&dyn LocalModel> {
    model.calculator.local_model().ok_or_else(|| {
        Failure::new(
            CPOT_MODEL_ERROR,
            format!(
                "model {:?} ({}) has no neighbour-list form: compute it on whole structures",
                model.calculator.info().name,
                model.calculator.info().kind
            ),
        )
    })
}

/// Writes the range (Å) of the model's local part into `*cutoff`: an engine's neighbour list
/// must hold every neighbour closer than that. `CPOT_MODEL_ERROR` if the model has no
/// neighbour-list form (then use `cpot_compute`).
///
/// # Safety
/// `model` is NULL or a live handle; `cutoff` is NULL or valid for one write.
#[no_mangle]
pub unsafe extern "C" fn cpot_local_cutoff(
    model: *const cpot_model_t,
    cutoff: *mut f64,
) -> cpot_status_t {
    status_of(|| {
        let local = local_model(borrow(model, "model")?)?;
        *cutoff
            .as_mut()
            .ok_or_else(|| Failure::invalid("cutoff is NULL"))? = local.cutoff();
        Ok(())
    })
}

/// Describes the model's long range for the `n_elements` atomic numbers at `numbers`:
/// `charges[k]` (e) and `dispersion[k]` (c_k, sqrt(eV Å^6)) of element k, `*coulomb_constant`
/// (eV Å / e^2) and `*parts`, a set of `CPOT_LONG_RANGE_*` bits (0: no long range; then
/// charges and dispersion are 0). Any output may be NULL. `CPOT_MODEL_ERROR` if the model's
/// long range is not of this rank-1 form or it has no neighbour-list form (then use
/// `cpot_compute`), or if an element is not in the model.
///
/// # Safety
/// `model` is NULL or a live handle; `numbers` is NULL or holds `n_elements` values;
/// `charges` and `dispersion` are NULL or valid for `n_elements` writes; `coulomb_constant`
/// and `parts` are NULL or valid for one write.
#[no_mangle]
pub unsafe extern "C" fn cpot_long_range(
    model: *const cpot_model_t,
    n_elements: usize,
    numbers: *const i32,
    charges: *mut f64,
    dispersion: *mut f64,
    coulomb_constant: *mut f64,
    parts: *mut u32,
) -> cpot_status_t {
    status_of(|| {
        let model = borrow(model, "model")?;
        let local = local_model(model)?;
        let long = model.calculator.rank_one_long_range().ok_or_else(|| {
            Failure::new(
                CPOT_MODEL_ERROR,
                format!(
                    "the long range of model {:?} is not per-element charges and \
                     geometrically mixed dispersion: compute it on whole structures",
                    model.calculator.info().name
                ),
            )
        })?;
        let numbers = atomic_numbers(slice(numbers, n_elements, "numbers")?, "numbers")?;
        let value = |table: &[(u8, f64)], z: u8| {
            table.iter().find(|(e, _)| *e == z).map_or(0.0, |(_, v)| *v)
        };
        for (k, &z) in numbers.iter().enumerate() {
            if !local.elements().contains(&z) {
                return Err(Failure::new(
                    CPOT_MODEL_ERROR,
                    format!("numbers[{k}] = {z}: the element is not in the model"),
                ));
            }
        }
        let outputs = [
            (charges, &long.charges, "charges"),
            (dispersion, &long.dispersion, "dispersion"),
        ];
        for (out, table, what) in outputs {
            if !out.is_null() {
                let out = slice_mut(out, n_elements, what)?;
                for (o, &z) in out.iter_mut().zip(&numbers) {
                    *o = value(table, z);
                }
            }
        }
        if let Some(k) = coulomb_constant.as_mut() {
            *k = long.coulomb_constant;
        }
        if let Some(p) = parts.as_mut() {
            *p = if long.charges.is_empty() {
                0
            } else {
                CPOT_LONG_RANGE_COULOMB
            } | if long.dispersion.is_empty() {
                0
            } else {
                CPOT_LONG_RANGE_DISPERSION
            };
        }
        Ok(())
    })
}

/// Atomic numbers from C ints, rejecting those outside 1..=118.
fn atomic_numbers(numbers: &[i32], what: &str) -> Outcome<Vec<u8>> {
    numbers
        .iter()
        .enumerate()
        .map(|(k, &z)| {
            u8::try_from(z)
                .ok()
                .filter(|z| (1..=crate::elements::MAX_ATOMIC_NUMBER).contains(z))
                .ok_or_else(|| {
                    Failure::invalid(format!("{what}[{k}] = {z} is not an atomic number"))
                })
        })
        .collect()
}

/// Centres per parallel task: enough to amortise the hand-off, few enough to balance.
const CENTRES_PER_TASK: usize = 64;

/// Evaluates the model's local part on a neighbour list (see `cpot_neighbors_t`,
/// `cpot_local_results_t`). Fails with `CPOT_MODEL_ERROR` if the model has no neighbour-list
/// form or a centre or neighbour element is not in the model, `CPOT_INVALID_ARGUMENT` on bad
/// offsets, NaN or infinite vectors, or atomic numbers out of range. Runs on the handle's
/// threads (`cpot_model_set_threads`).
///
/// # Safety
/// `model` is NULL or a live handle; `list` and `results` are NULL or valid, with their
/// buffers valid for the documented lengths and the output buffers not aliased.
#[no_mangle]
pub unsafe extern "C" fn cpot_local_compute(
    model: *const cpot_model_t,
    list: *const cpot_neighbors_t,
    results: *mut cpot_local_results_t,
) -> cpot_status_t {
    status_of(|| {
        let model = borrow(model, "model")?;
        let local = local_model(model)?;
        let list = borrow(list, "list")?;
        let results = results
            .as_mut()
            .ok_or_else(|| Failure::invalid("results is NULL"))?;
        let n = list.n_centres;
        let offsets = slice(list.offsets, n.saturating_add(1), "list->offsets")?;
        if offsets[0] != 0 || offsets.windows(2).any(|w| w[1] < w[0]) {
            return Err(Failure::invalid(
                "list->offsets must start at 0 and never decrease",
            ));
        }
        let total = offsets[n];
        let centres = atomic_numbers(
            slice(list.centre_numbers, n, "list->centre_numbers")?,
            "list->centre_numbers",
        )?;
        let neighbours = atomic_numbers(
            slice(list.neighbor_numbers, total, "list->neighbor_numbers")?,
            "list->neighbor_numbers",
        )?;
        let coordinates = slice(list.vectors, total.saturating_mul(3), "list->vectors")?;
        if let Some(k) = coordinates.iter().position(|x| !x.is_finite()) {
            return Err(Failure::invalid(format!(
                "list->vectors: neighbour entry {} has a NaN or infinite component",
                k / 3
            )));
        }
        let vectors: Vec<Vec3> = coordinates
            .chunks_exact(3)
            .map(|v| Vec3::new(v[0], v[1], v[2]))
            .collect();
        let optional = |ptr: *mut f64, len: usize, what| -> Outcome<Option<&mut [f64]>> {
            if ptr.is_null() {
                Ok(None)
            } else {
                slice_mut(ptr, len, what).map(Some)
            }
        };
        let mut energies = optional(results.centre_energies, n, "results->centre_energies")?;
        let mut gradients = optional(
            results.gradients,
            total.saturating_mul(3),
            "results->gradients",
        )?;
        let mut virials = optional(
            results.centre_virials,
            n.saturating_mul(9),
            "results->centre_virials",
        )?;
        // One task per block of centres, each with its own disjoint pieces of the outputs.
        let mut tasks = Vec::with_capacity(n.div_ceil(CENTRES_PER_TASK));
        for first in (0..n).step_by(CENTRES_PER_TASK) {
            let last = (first + CENTRES_PER_TASK).min(n);
            let entries = offsets[last] - offsets[first];
            tasks.push(Task {
                centres: first..last,
                energies: take(&mut energies, last - first),
                gradients: take(&mut gradients, 3 * entries),
                virials: take(&mut virials, 9 * (last - first)),
            });
        }
        let inputs = Inputs {
            local,
            offsets,
            centres: &centres,
            neighbours: &neighbours,
            vectors: &vectors,
        };
        let energy = model.install(|| {
            tasks
                .into_par_iter()
                .map(|task| inputs.run(task))
                .try_reduce(|| 0.0, |a, b| Ok(a + b))
        })?;
        results.energy = energy;
        Ok(())
    })
}

/// Splits the first `len` values off an optional output buffer.
fn take<'a>(buffer: &mut Option<&'a mut [f64]>, len: usize) -> Option<&'a mut [f64]> {
    let whole = buffer.take()?;
    let (head, tail) = whole.split_at_mut(len);
    *buffer = Some(tail);
    Some(head)
}

/// A block of centres and its pieces of the output buffers.
struct Task<'a> {
    centres: std::ops::Range<usize>,
    energies: Option<&'a mut [f64]>,
    gradients: Option<&'a mut [f64]>,
    virials: Option<&'a mut [f64]>,
}

/// The validated neighbour list.
struct Inputs<'a> {
    local: &'a dyn LocalModel,
    offsets: &'a [usize],
    centres: &'a [u8],
    neighbours: &'a [u8],
    vectors: &'a [Vec3],
}

impl Inputs<'_> {
    /// Evaluates one block of centres; returns the sum of their energies.
    fn run(&self, mut task: Task) -> Outcome<f64> {
        let wants_gradient = task.gradients.is_some() || task.virials.is_some();
        let mut gradient = Vec::new();
        let mut sum = 0.0;
        let base = self.offsets[task.centres.start];
        for (k, i) in task.centres.clone().enumerate() {
            let range = self.offsets[i]..self.offsets[i + 1];
            let env = Environment {
                centre: self.centres[i],
                neighbours: &self.neighbours[range.clone()],
                vectors: &self.vectors[range.clone()],
            };
            gradient.clear();
            gradient.resize(range.len(), Vec3::zeros());
            let e = self
                .local
                .local_energy(&env, wants_gradient.then_some(gradient.as_mut_slice()))?;
            sum += e;
            if let Some(out) = task.energies.as_deref_mut() {
                out[k] = e;
            }
            if let Some(out) = task.gradients.as_deref_mut() {
                let start = 3 * (range.start - base);
                super::write_vectors(&mut out[start..start + 3 * range.len()], &gradient);
            }
            if let Some(out) = task.virials.as_deref_mut() {
                let w = env
                    .vectors
                    .iter()
                    .zip(&gradient)
                    .fold(crate::cell::Mat3::zeros(), |w, (r, g)| {
                        w - r * g.transpose()
                    });
                out[9 * k..9 * k + 9].copy_from_slice(&super::row_major(&w));
            }
        }
        Ok(sum)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::c_api::{cpot_last_error, cpot_model_free, cpot_model_load_bytes, CPOT_SUCCESS};
    use std::ffi::CStr;

    const MGO: &str = r#"{"kind": "rigid-ion", "charges": {"Mg": 2, "O": -2},
        "pairs": [{"elements": ["Mg", "O"], "A": 821.6, "rho": 0.3242},
                  {"elements": ["O", "O"], "A": 22764.0, "rho": 0.149, "C": 27.88}]}"#;

    fn load(text: &str) -> *mut cpot_model_t {
        let model = unsafe { cpot_model_load_bytes(text.as_ptr(), text.len()) };
        assert!(!model.is_null());
        model
    }

    fn last_error() -> String {
        unsafe { CStr::from_ptr(cpot_last_error()) }
            .to_string_lossy()
            .into_owned()
    }

    #[test]
    fn computes_a_list_and_its_pair_forces_balance() {
        let model = load(MGO);
        // Two centres: Mg with an O and a Mg neighbour, O with two O neighbours.
        let centres = [12, 8];
        let offsets = [0usize, 2, 4];
        let numbers = [8, 12, 8, 8];
        let vectors = [
            2.1, 0.0, 0.0, 0.0, 2.97, 0.0, 0.0, 2.97, 0.1, 0.0, 0.0, -2.9,
        ];
        let list = cpot_neighbors_t {
            n_centres: 2,
            centre_numbers: centres.as_ptr(),
            offsets: offsets.as_ptr(),
            neighbor_numbers: numbers.as_ptr(),
            vectors: vectors.as_ptr(),
        };
        let (mut e, mut g, mut w) = ([0.0; 2], [0.0; 12], [0.0; 18]);
        let mut results = cpot_local_results_t {
            energy: 0.0,
            centre_energies: e.as_mut_ptr(),
            gradients: g.as_mut_ptr(),
            centre_virials: w.as_mut_ptr(),
        };
        let status = unsafe { cpot_local_compute(model, &list, &mut results) };
        assert_eq!(status, CPOT_SUCCESS, "{}", last_error());
        // Mg–O: ½ A e^{−r/ρ}; Mg–Mg has no repulsion.
        let mg = 0.5 * 821.6 * (-2.1f64 / 0.3242).exp();
        assert!((e[0] - mg).abs() < 1e-14 * mg);
        assert_eq!(&g[3..6], &[0.0; 3]);
        assert!((g[0] + mg / 0.3242).abs() < 1e-12 * mg);
        assert!((results.energy - e[0] - e[1]).abs() < 1e-15);
        // The centre virial is −Σ r ⊗ g: for the Mg centre only xx.
        assert!((w[0] - 2.1 * mg / 0.3242).abs() < 1e-12 * mg && w[4] == 0.0);
        let mut cutoff = 0.0;
        assert_eq!(
            unsafe { cpot_local_cutoff(model, &mut cutoff) },
            CPOT_SUCCESS
        );
        assert!(cutoff > 6.0);
        unsafe { cpot_model_free(model) };
    }

    #[test]
    fn reports_the_long_range_per_element() {
        let model = load(MGO);
        let numbers = [8, 12];
        let (mut q, mut c, mut k, mut parts) = ([0.0; 2], [0.0; 2], 0.0, 0u32);
        let status = unsafe {
            cpot_long_range(
                model,
                2,
                numbers.as_ptr(),
                q.as_mut_ptr(),
                c.as_mut_ptr(),
                &mut k,
                &mut parts,
            )
        };
        assert_eq!(status, CPOT_SUCCESS, "{}", last_error());
        assert_eq!(q, [-2.0, 2.0]);
        assert_eq!(c, [27.88f64.sqrt(), 0.0]);
        assert_eq!(parts, CPOT_LONG_RANGE_COULOMB | CPOT_LONG_RANGE_DISPERSION);
        assert!((k - 14.39964547842567).abs() < 1e-12);
        let bad = [8, 11];
        let status = unsafe {
            cpot_long_range(
                model,
                2,
                bad.as_ptr(),
                q.as_mut_ptr(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            )
        };
        assert_eq!(status, CPOT_MODEL_ERROR);
        assert!(
            last_error().contains("not in the model"),
            "{}",
            last_error()
        );
        unsafe { cpot_model_free(model) };
        // Mg–O dispersion with none on Mg–Mg does not mix geometrically.
        let unmixed = load(&MGO.replace("\"rho\": 0.3242", "\"rho\": 0.3242, \"C\": 3"));
        let status = unsafe {
            cpot_long_range(
                unmixed,
                0,
                numbers.as_ptr(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                &mut parts,
            )
        };
        assert_eq!(status, CPOT_MODEL_ERROR);
        assert!(
            last_error().contains("geometrically mixed"),
            "{}",
            last_error()
        );
        unsafe { cpot_model_free(unmixed) };
    }

    #[test]
    fn rejects_bad_lists() {
        let model = load(MGO);
        let centres = [12];
        let numbers = [8];
        let mut results = cpot_local_results_t {
            energy: 0.0,
            centre_energies: std::ptr::null_mut(),
            gradients: std::ptr::null_mut(),
            centre_virials: std::ptr::null_mut(),
        };
        let cases: [([usize; 2], [f64; 3], &str); 3] = [
            ([1, 1], [1.0, 0.0, 0.0], "start at 0"),
            ([0, 1], [f64::NAN, 0.0, 0.0], "NaN"),
            ([0, 1], [0.0, 0.0, 0.0], "distance 0"),
        ];
        for (offsets, vectors, expected) in cases {
            let list = cpot_neighbors_t {
                n_centres: 1,
                centre_numbers: centres.as_ptr(),
                offsets: offsets.as_ptr(),
                neighbor_numbers: numbers.as_ptr(),
                vectors: vectors.as_ptr(),
            };
            let status = unsafe { cpot_local_compute(model, &list, &mut results) };
            assert_ne!(status, CPOT_SUCCESS);
            assert!(
                last_error().contains(expected),
                "{expected}: {}",
                last_error()
            );
        }
        unsafe { cpot_model_free(model) };
    }
}
