//! Model handles: load, describe, set threads, compute one system or a batch.

use std::collections::BTreeSet;
use std::ffi::{c_char, CStr};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use super::{
    borrow, catch, cpot_status_t, cpot_system_t, row_major, slice, slice_mut, status_of,
    structure_of, write_vectors, Failure, Outcome, CPOT_BUFFER_TOO_SMALL, CPOT_INTERNAL_ERROR,
    CPOT_MODEL_ERROR,
};
use crate::calculator::Calculator;
use crate::model::{Partition, Request, Results, DEFAULT_MIN_DISTANCE};

/// An opaque loaded model. Immutable after loading except for `cpot_model_set_threads` and
/// `cpot_model_set_min_distance`: `cpot_compute` may be called on one handle from several
/// threads at once; distinct handles are fully independent.
pub struct cpot_model_t {
    pub(super) calculator: Calculator,
    /// Number of targets (properties) the model predicts, for checking `n_properties`.
    n_targets: usize,
    /// The handle's own rayon pool (`None`: the global pool, all cores).
    pool: Mutex<Option<Arc<rayon::ThreadPool>>>,
    /// `Request::min_distance` of this handle's computations (Å, as f64 bits).
    min_distance: AtomicU64,
}

/// Addresses of the live handles. Every entry point checks its handle here before touching
/// it, so a freed handle (double free, use after free) or a pointer that never was a handle
/// gives `CPOT_INVALID_ARGUMENT` instead of a crash. What cannot be detected: a freed
/// address that a later `cpot_model_load*` handed out again (the old pointer then reaches
/// the new model), and freeing a handle while another thread still computes with it.
static LIVE: Mutex<BTreeSet<usize>> = Mutex::new(BTreeSet::new());

fn live() -> std::sync::MutexGuard<'static, BTreeSet<usize>> {
    LIVE.lock().unwrap_or_else(PoisonError::into_inner)
}

impl cpot_model_t {
    /// A new handle, registered as live.
    fn new(calculator: Calculator) -> *mut Self {
        let handle = Box::into_raw(Box::new(cpot_model_t {
            n_targets: calculator.info().targets.len(),
            calculator,
            pool: Mutex::new(None),
            min_distance: AtomicU64::new(DEFAULT_MIN_DISTANCE.to_bits()),
        }));
        live().insert(handle as usize);
        handle
    }

    /// Runs `work` on the handle's thread pool.
    pub(super) fn install<T: Send>(&self, work: impl FnOnce() -> T + Send) -> T {
        let pool = self
            .pool
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        match pool {
            Some(pool) => pool.install(work),
            None => work(),
        }
    }
}

/// Borrows a live model handle: NULL, freed and unknown pointers fail, naming the problem.
///
/// # Safety
/// `model` is NULL or any pointer; it is only dereferenced when it is a live handle.
unsafe fn handle<'a>(model: *const cpot_model_t) -> Outcome<&'a cpot_model_t> {
    if model.is_null() {
        return Err(Failure::invalid("model is NULL"));
    }
    if !live().contains(&(model as usize)) {
        return Err(Failure::invalid(
            "model is not a live handle (freed already, or not from cpot_model_load*)",
        ));
    }
    borrow(model, "model")
}

/// Loads a model file (JSON physics model or PotNet safetensors), recognised by its content.
/// `path` is a NUL-terminated UTF-8 path, borrowed. Returns NULL on error (see
/// `cpot_last_error`); free the handle with `cpot_model_free`.
///
/// # Safety
/// `path` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn cpot_model_load(path: *const c_char) -> *mut cpot_model_t {
    catch(|| {
        if path.is_null() {
            return Err(Failure::invalid("path is NULL"));
        }
        let path = CStr::from_ptr(path)
            .to_str()
            .map_err(|_| Failure::invalid("path is not valid UTF-8"))?;
        Ok(cpot_model_t::new(Calculator::from_file(Path::new(path))?))
    })
    .unwrap_or(std::ptr::null_mut())
}

/// Loads a model from the `len` bytes of a model file at `data` (borrowed, copied as needed).
/// Returns NULL on error; free the handle with `cpot_model_free`.
///
/// # Safety
/// `data` is NULL or points to `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn cpot_model_load_bytes(data: *const u8, len: usize) -> *mut cpot_model_t {
    catch(|| {
        let bytes = slice(data, len, "data")?;
        Ok(cpot_model_t::new(Calculator::from_bytes(bytes)?))
    })
    .unwrap_or(std::ptr::null_mut())
}

/// Frees a model handle; NULL is accepted and ignored. A pointer that is not a live handle
/// (a second free, or never a handle) is not touched: the call sets `cpot_last_error` /
/// `cpot_last_status` (`CPOT_INVALID_ARGUMENT`) instead of crashing.
///
/// # Safety
/// `model` is NULL or a pointer; no other thread may use the handle during or after the call.
#[no_mangle]
pub unsafe extern "C" fn cpot_model_free(model: *mut cpot_model_t) {
    if !model.is_null() {
        // Dropping cannot fail; a panic would be a bug, and must still not unwind into C.
        let _ = catch(|| {
            if !live().remove(&(model as usize)) {
                return Err(Failure::invalid(
                    "cpot_model_free: model is not a live handle (freed twice?)",
                ));
            }
            drop(Box::from_raw(model));
            Ok(())
        });
    }
}

/// Sets the minimum interatomic distance (Å) of this handle's computations: a structure with
/// two atoms (or an atom and its image) closer than it is refused with
/// `CPOT_INVALID_STRUCTURE`, naming the pair ("atoms 3 (Na) and 7 (Cl) are 0.1000 Å apart");
/// 0 disables the check. Default 0.5 Å.
///
/// # Safety
/// `model` is NULL or a pointer (checked to be a live handle).
#[no_mangle]
pub unsafe extern "C" fn cpot_model_set_min_distance(
    model: *mut cpot_model_t,
    min_distance: f64,
) -> cpot_status_t {
    status_of(|| {
        let model = handle(model)?;
        if !(min_distance.is_finite() && min_distance >= 0.0) {
            return Err(Failure::invalid(format!(
                "min_distance must be a finite length >= 0 Å, got {}",
                crate::error::short(min_distance)
            )));
        }
        model
            .min_distance
            .store(min_distance.to_bits(), Ordering::Relaxed);
        Ok(())
    })
}

/// Writes the JSON description of the model, NUL-terminated, into `buf` (`len` bytes):
/// `{"kind", "name", "energy", "targets": [{"name", "unit", "extensive"}], "elements": [...],
/// "cutoff", "validation", "note"}` (`note`: a caveat to show the user, e.g. that an imported
/// PotNet model keeps the published inputs, which depend on how the crystal is written; null
/// if none). `*needed` (if not NULL) receives the size including the NUL, also when `len`
/// is too small (then `CPOT_BUFFER_TOO_SMALL`; `buf` may be NULL to ask for the size).
///
/// # Safety
/// `model` is NULL or a live handle; `buf` is NULL or valid for `len` writes; `needed` is
/// NULL or valid for one write.
#[no_mangle]
pub unsafe extern "C" fn cpot_model_info(
    model: *const cpot_model_t,
    buf: *mut c_char,
    len: usize,
    needed: *mut usize,
) -> cpot_status_t {
    status_of(|| {
        let model = handle(model)?;
        let json = serde_json::to_string(&model.calculator.info())
            .map_err(|e| Failure::new(CPOT_INTERNAL_ERROR, e.to_string()))?;
        let size = json.len() + 1;
        if !needed.is_null() {
            *needed = size;
        }
        if len < size {
            return Err(Failure::new(
                CPOT_BUFFER_TOO_SMALL,
                format!("the model description needs {size} bytes, the buffer has {len}"),
            ));
        }
        let out = slice_mut(buf.cast::<u8>(), size, "buf")?;
        out[..json.len()].copy_from_slice(json.as_bytes());
        out[json.len()] = 0;
        Ok(())
    })
}

/// Writes into `*n_targets` the number of properties the model predicts: the capacity
/// `results->properties` needs with `CPOT_PROPERTIES` (0 for a pure energy model).
///
/// # Safety
/// `model` is NULL or a live handle; `n_targets` is NULL or valid for one write.
#[no_mangle]
pub unsafe extern "C" fn cpot_model_n_targets(
    model: *const cpot_model_t,
    n_targets: *mut usize,
) -> cpot_status_t {
    status_of(|| {
        let model = handle(model)?;
        let out = n_targets
            .as_mut()
            .ok_or_else(|| Failure::invalid("n_targets is NULL"))?;
        *out = model.n_targets;
        Ok(())
    })
}

/// Most threads a handle may ask for: more than any machine this library targets, and a
/// guard against spawning billions of threads from a garbage argument.
const MAX_THREADS: usize = 4096;

/// Sets the number of threads computations on this handle use (0 = all cores, through the
/// global pool). Each handle owns its pool. Do not call it while another thread computes
/// with the same handle (it is safe, but which setting that computation uses is unspecified).
///
/// # Safety
/// `model` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn cpot_model_set_threads(
    model: *mut cpot_model_t,
    threads: usize,
) -> cpot_status_t {
    status_of(|| {
        let model = handle(model)?;
        if threads > MAX_THREADS {
            return Err(Failure::invalid(format!(
                "threads = {threads} is more than {MAX_THREADS}"
            )));
        }
        let pool = match threads {
            0 => None,
            n => Some(Arc::new(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(n)
                    .build()
                    .map_err(|e| {
                        Failure::new(
                            CPOT_INTERNAL_ERROR,
                            format!("cannot start {n} threads: {e}"),
                        )
                    })?,
            )),
        };
        *model.pool.lock().unwrap_or_else(PoisonError::into_inner) = pool;
        Ok(())
    })
}

/// Per-atom energies are wanted (`results->per_atom_energies`, n_atoms values).
pub const CPOT_PER_ATOM_ENERGIES: u32 = 1;
/// Forces are wanted (`results->forces`, 3 * n_atoms values, eV/Å).
pub const CPOT_FORCES: u32 = 2;
/// The virial is wanted (`results->virial`, 9 row-major values, eV).
pub const CPOT_VIRIAL: u32 = 4;
/// The model's predicted properties are wanted (`results->properties`, one per target in
/// `cpot_model_info` order).
pub const CPOT_PROPERTIES: u32 = 8;
/// The energy's standard deviation over the model's committee is wanted (read it with
/// `cpot_last_energy_std` after the call; NaN for models without a committee).
pub const CPOT_ENERGY_STD: u32 = 16;
const ALL_FLAGS: u32 =
    CPOT_PER_ATOM_ENERGIES | CPOT_FORCES | CPOT_VIRIAL | CPOT_PROPERTIES | CPOT_ENERGY_STD;

/// What to compute. The energy is always computed when the model has one.
#[repr(C)]
pub struct cpot_request_t {
    /// OR of the CPOT_* flags.
    pub flags: u32,
    /// NULL: all atoms. Else n_atoms bytes, nonzero = counted: the energy and per-atom
    /// energies are those of the counted atoms only (per-atom energies of the others are 0),
    /// the forces and virial the derivatives of that partial energy with respect to EVERY atom
    /// (what an MPI rank owning some atoms needs; summing over disjoint masks gives the total).
    pub energy_atoms: *const u8,
}

/// Results of one system, in caller-owned buffers.
#[repr(C)]
pub struct cpot_results_t {
    /// eV.
    pub energy: f64,
    /// eV: rigorous bound on the error of `energy` from truncating the lattice sums.
    pub energy_error_bound: f64,
    /// n_atoms values (eV), or NULL when `CPOT_PER_ATOM_ENERGIES` is not set.
    pub per_atom_energies: *mut f64,
    /// 3 * n_atoms values (eV/Å), atom-major, or NULL when `CPOT_FORCES` is not set.
    pub forces: *mut f64,
    /// 9 values (eV), row-major, W = -dE/dε (stress = -W / V), or NULL.
    pub virial: *mut f64,
    /// One value per target in `cpot_model_info` order, or NULL.
    pub properties: *mut f64,
    /// Capacity of `properties` (at least the number of targets when `CPOT_PROPERTIES` is set).
    pub n_properties: usize,
}

/// Computes one system. A buffer that is NULL while its flag is set is
/// `CPOT_INVALID_ARGUMENT`; on failure the contents of `results` are unspecified.
///
/// # Safety
/// Every pointer is NULL or valid for the lengths documented on the structs.
#[no_mangle]
pub unsafe extern "C" fn cpot_compute(
    model: *const cpot_model_t,
    system: *const cpot_system_t,
    request: *const cpot_request_t,
    results: *mut cpot_results_t,
) -> cpot_status_t {
    status_of(|| compute_one(model, system, request, Partition::WHOLE, results))
}

/// `cpot_compute` for share `share_index` (from 0) of `share_count` shares of the work, to
/// spread one system over processes (MPI ranks) that all hold all of it: the energies,
/// per-atom energies, forces and virials of all shares add up to those of `cpot_compute`
/// (up to rounding), and so do the error bounds to a bound of the sum. The rigid-ion model
/// splits its real-space terms by blocks of atoms and its reciprocal-space terms by blocks of
/// vectors; a model without a split (the energy model) computes everything in share 0 and
/// zeros in the others. `CPOT_PROPERTIES` cannot be split. `request->energy_atoms` may be
/// combined with shares.
///
/// # Safety
/// As for `cpot_compute`.
#[no_mangle]
pub unsafe extern "C" fn cpot_compute_share(
    model: *const cpot_model_t,
    system: *const cpot_system_t,
    request: *const cpot_request_t,
    share_index: usize,
    share_count: usize,
    results: *mut cpot_results_t,
) -> cpot_status_t {
    status_of(|| {
        let share = Partition::new(share_index, share_count)?;
        compute_one(model, system, request, share, results)
    })
}

/// The body of `cpot_compute` and `cpot_compute_share`.
///
/// # Safety
/// As for `cpot_compute`.
unsafe fn compute_one(
    model: *const cpot_model_t,
    system: *const cpot_system_t,
    request: *const cpot_request_t,
    share: Partition,
    results: *mut cpot_results_t,
) -> Outcome<()> {
    let model = handle(model)?;
    let system = borrow(system, "system")?;
    let request = borrow(request, "request")?;
    let results = results
        .as_mut()
        .ok_or_else(|| Failure::invalid("results is NULL"))?;
    compute_into(
        model,
        system,
        request,
        energy_mask(system, request)?,
        share,
        results,
    )
}

/// Computes `n_systems` systems with one request (whose `energy_atoms` must be NULL), writing
/// `results[k]` for `systems[k]`. Stops at the first failing system; its index is in the
/// message.
///
/// # Safety
/// `systems` and `results` are NULL or valid for `n_systems` elements; every pointer inside
/// them as for `cpot_compute`.
#[no_mangle]
pub unsafe extern "C" fn cpot_compute_batch(
    model: *const cpot_model_t,
    systems: *const cpot_system_t,
    n_systems: usize,
    request: *const cpot_request_t,
    results: *mut cpot_results_t,
) -> cpot_status_t {
    status_of(|| {
        let model = handle(model)?;
        let request = borrow(request, "request")?;
        if !request.energy_atoms.is_null() {
            return Err(Failure::invalid(
                "cpot_compute_batch takes no request->energy_atoms (use cpot_compute)",
            ));
        }
        let systems = slice(systems, n_systems, "systems")?;
        let results = slice_mut(results, n_systems, "results")?;
        for (k, (system, out)) in systems.iter().zip(results).enumerate() {
            compute_into(model, system, request, None, Partition::WHOLE, out).map_err(|f| {
                Failure {
                    message: format!("system {k}: {}", f.message),
                    ..f
                }
            })?;
        }
        Ok(())
    })
}

/// The `energy_atoms` mask of `request` for `system`, if any.
///
/// # Safety
/// `request.energy_atoms` is NULL or valid for `system.n_atoms` bytes.
unsafe fn energy_mask(
    system: &cpot_system_t,
    request: &cpot_request_t,
) -> Outcome<Option<Vec<bool>>> {
    if request.energy_atoms.is_null() {
        return Ok(None);
    }
    let mask = slice(
        request.energy_atoms,
        system.n_atoms,
        "request->energy_atoms",
    )?;
    Ok(Some(mask.iter().map(|&b| b != 0).collect()))
}

/// The requested output buffer of `len` values, checked before any work is done.
///
/// # Safety
/// `ptr` is NULL or valid for `len` writes.
unsafe fn output<'a>(
    flags: u32,
    flag: u32,
    ptr: *mut f64,
    len: usize,
    what: &str,
) -> Outcome<Option<&'a mut [f64]>> {
    if flags & flag == 0 {
        return Ok(None);
    }
    slice_mut(ptr, len, &format!("{what} (its flag is set)")).map(Some)
}

/// # Safety
/// As for `cpot_compute`.
unsafe fn compute_into(
    model: &cpot_model_t,
    system: &cpot_system_t,
    request: &cpot_request_t,
    energy_atoms: Option<Vec<bool>>,
    partition: Partition,
    results: &mut cpot_results_t,
) -> Outcome<()> {
    let flags = request.flags;
    if flags & !ALL_FLAGS != 0 {
        return Err(Failure::invalid(format!(
            "request->flags has unknown bits {:#x}",
            flags & !ALL_FLAGS
        )));
    }
    let structure = structure_of(system)?;
    let n = structure.len();
    let energies = output(
        flags,
        CPOT_PER_ATOM_ENERGIES,
        results.per_atom_energies,
        n,
        "results->per_atom_energies",
    )?;
    let forces = output(flags, CPOT_FORCES, results.forces, 3 * n, "results->forces")?;
    let virial = output(flags, CPOT_VIRIAL, results.virial, 9, "results->virial")?;
    let properties = output(
        flags,
        CPOT_PROPERTIES,
        results.properties,
        results.n_properties,
        "results->properties",
    )?;
    if properties.is_some() && results.n_properties < model.n_targets {
        return Err(Failure::new(
            CPOT_BUFFER_TOO_SMALL,
            format!(
                "results->n_properties is {} but the model predicts {} properties",
                results.n_properties, model.n_targets
            ),
        ));
    }
    let wanted = Request {
        per_atom_energies: energies.is_some(),
        forces: forces.is_some(),
        virial: virial.is_some(),
        properties: properties.is_some(),
        energy_atoms,
        partition,
        min_distance: f64::from_bits(model.min_distance.load(Ordering::Relaxed)),
        uncertainty: flags & CPOT_ENERGY_STD != 0,
    };
    let computed: Results = model.install(|| model.calculator.compute(&structure, &wanted))?;
    super::set_last_warning(&computed.warnings);
    super::set_last_energy_std(computed.energy_std);
    results.energy = computed.energy;
    results.energy_error_bound = computed.energy_error_bound;
    let missing = |what: &str| {
        Failure::new(
            CPOT_MODEL_ERROR,
            format!("the model did not compute the requested {what}"),
        )
    };
    if let Some(out) = energies {
        let values = computed
            .per_atom_energies
            .as_ref()
            .ok_or_else(|| missing("per-atom energies"))?;
        out.copy_from_slice(values);
    }
    if let Some(out) = forces {
        let values = computed.forces.as_ref().ok_or_else(|| missing("forces"))?;
        write_vectors(out, values);
    }
    if let Some(out) = virial {
        let w = computed.virial.as_ref().ok_or_else(|| missing("virial"))?;
        out.copy_from_slice(&row_major(w));
    }
    if let Some(out) = properties {
        let values = computed.properties.unwrap_or_default();
        out.get_mut(..values.len())
            .ok_or_else(|| {
                Failure::new(
                    CPOT_BUFFER_TOO_SMALL,
                    format!("the model returned {} properties", values.len()),
                )
            })?
            .copy_from_slice(&values);
    }
    Ok(())
}
