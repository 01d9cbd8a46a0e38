//! The C ABI: the only `extern "C"` code of crystalpot, and the one door through which C, C++,
//! Python (ctypes) and LAMMPS reach [`crate::Calculator`]. `include/crystalpot.h` is generated
//! from this module by cbindgen (`tests/c_header.rs` fails when it is stale).
//!
//! Every entry point checks its pointers, catches panics (a panic becomes
//! `CPOT_INTERNAL_ERROR`, never an abort of the host) and reports failures as a status code
//! plus a thread-local message. Inputs are borrowed for the duration of a call; outputs go
//! into caller-allocated buffers.

#![allow(non_camel_case_types)]

mod lattice;
mod model;
mod neighbors;
mod pairs;

pub use lattice::{cpot_lattice_potential, cpot_lattice_sums};
pub use model::{
    cpot_compute, cpot_compute_batch, cpot_model_free, cpot_model_info, cpot_model_load,
    cpot_model_load_bytes, cpot_model_n_targets, cpot_model_set_min_distance,
    cpot_model_set_threads, cpot_model_t, cpot_request_t, cpot_results_t, CPOT_FORCES,
    CPOT_PER_ATOM_ENERGIES, CPOT_PROPERTIES, CPOT_VIRIAL,
};

use std::cell::{Cell, RefCell};
use std::ffi::{c_char, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::cell::{Lattice, Vec3};
use crate::error::Error;
use crate::structure::Structure;

/// Status code returned by every fallible function: `CPOT_SUCCESS` or one of the errors below,
/// with a message from `cpot_last_error`.
pub type cpot_status_t = i32;

/// The call succeeded.
pub const CPOT_SUCCESS: cpot_status_t = 0;
/// A NULL pointer, wrong size, NaN or infinite input, unknown flag, a handle that is not live
/// (freed, or never returned by `cpot_model_load*`), or input so large that the result is not
/// finite (never returned as a success).
pub const CPOT_INVALID_ARGUMENT: cpot_status_t = 1;
/// Singular or left-handed cell, overlapping atoms, unknown element, non-periodic system.
pub const CPOT_INVALID_STRUCTURE: cpot_status_t = 2;
/// Corrupt or unsupported model file, or an element the model does not know.
pub const CPOT_MODEL_ERROR: cpot_status_t = 3;
/// A file is missing or unreadable.
pub const CPOT_IO_ERROR: cpot_status_t = 4;
/// The requested tolerance cannot be reached in double precision.
pub const CPOT_TOLERANCE_ERROR: cpot_status_t = 5;
/// An output buffer is too small (`cpot_model_info`, `results->n_properties`).
pub const CPOT_BUFFER_TOO_SMALL: cpot_status_t = 6;
/// A panic was caught inside the library: a bug, please report it with the message.
pub const CPOT_INTERNAL_ERROR: cpot_status_t = 255;

/// The library version, `CARGO_PKG_VERSION`, NUL-terminated.
const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
    static LAST_WARNING: RefCell<CString> = RefCell::new(CString::default());
    static LAST_STATUS: Cell<cpot_status_t> = const { Cell::new(CPOT_SUCCESS) };
    static LAST_ENERGY_STD: Cell<f64> = const { Cell::new(f64::NAN) };
}

/// The library version ("0.1.0"): a static string, never freed.
#[no_mangle]
pub extern "C" fn cpot_version() -> *const c_char {
    VERSION.as_ptr().cast()
}

/// The message of the last failed call on this thread ("" if none failed yet). The string is
/// owned by the library and valid until the next failing `cpot_` call on this thread.
#[no_mangle]
pub extern "C" fn cpot_last_error() -> *const c_char {
    LAST_ERROR.with(|e| e.borrow().as_ptr())
}

/// The warnings of the last successful `cpot_compute*` call on this thread, one per line ("" if
/// it had none): e.g. lattice sums that reached a looser accuracy than asked near a very close
/// pair (its `energy_error_bound` is the one reached), or a charged cell computed with a
/// neutralising background. Owned by the library, valid until the next compute on this thread.
/// Each kind of warning is also printed once per process on stderr.
#[no_mangle]
pub extern "C" fn cpot_last_warning() -> *const c_char {
    LAST_WARNING.with(|e| e.borrow().as_ptr())
}

fn set_last_warning(warnings: &[String]) {
    let text = CString::new(warnings.join("\n").replace('\0', "\u{FFFD}")).unwrap_or_default();
    LAST_WARNING.with(|e| *e.borrow_mut() = text);
}

/// The standard deviation (eV) of the energy over the model's committee, from the last
/// successful `cpot_compute*` call on this thread that set `CPOT_ENERGY_STD`: an estimate of
/// the model's own error (linear models carry a committee drawn from their fit's posterior).
/// NaN when that call did not ask for it or the model has no committee.
#[no_mangle]
pub extern "C" fn cpot_last_energy_std() -> f64 {
    LAST_ENERGY_STD.with(|s| s.get())
}

fn set_last_energy_std(std: Option<f64>) {
    LAST_ENERGY_STD.with(|s| s.set(std.unwrap_or(f64::NAN)));
}

/// The status of the last failed call on this thread (`CPOT_SUCCESS` if none failed yet):
/// what a constructor that returned NULL failed with.
#[no_mangle]
pub extern "C" fn cpot_last_status() -> cpot_status_t {
    LAST_STATUS.with(|s| s.get())
}

fn set_last_error(failure: &Failure) {
    let text = CString::new(failure.message.replace('\0', "\u{FFFD}")).unwrap_or_default();
    LAST_ERROR.with(|e| *e.borrow_mut() = text);
    LAST_STATUS.with(|s| s.set(failure.status));
}

/// A failed call: the status to return and the message for `cpot_last_error`.
#[derive(Debug)]
struct Failure {
    status: cpot_status_t,
    message: String,
}

impl Failure {
    fn new(status: cpot_status_t, message: impl Into<String>) -> Self {
        Failure {
            status,
            message: message.into(),
        }
    }

    fn invalid(message: impl Into<String>) -> Self {
        Self::new(CPOT_INVALID_ARGUMENT, message)
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        let status = match &e {
            Error::InvalidInput(_) => CPOT_INVALID_ARGUMENT,
            Error::InvalidStructure(_) => CPOT_INVALID_STRUCTURE,
            Error::Model(_) | Error::Parse { .. } => CPOT_MODEL_ERROR,
            Error::Io { .. } => CPOT_IO_ERROR,
            Error::Tolerance(_) => CPOT_TOLERANCE_ERROR,
            Error::NonFinite(_) => CPOT_INVALID_ARGUMENT,
        };
        Failure::new(status, e.to_string())
    }
}

type Outcome<T> = std::result::Result<T, Failure>;

/// Runs an entry point's body: a panic becomes `CPOT_INTERNAL_ERROR`, a failure sets the
/// thread's last error and gives its status.
fn catch<T>(body: impl FnOnce() -> Outcome<T>) -> std::result::Result<T, cpot_status_t> {
    let failure = match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(value)) => return Ok(value),
        Ok(Err(failure)) => failure,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Failure::new(
                CPOT_INTERNAL_ERROR,
                format!("internal error (a bug in crystalpot, please report): {what}"),
            )
        }
    };
    set_last_error(&failure);
    Err(failure.status)
}

/// [`catch`] for entry points that return a status.
fn status_of(body: impl FnOnce() -> Outcome<()>) -> cpot_status_t {
    catch(body).err().unwrap_or(CPOT_SUCCESS)
}

/// Borrows `*ptr`, or fails naming the NULL argument.
///
/// # Safety
/// `ptr` is NULL or valid for reads for the lifetime the caller picks (one C call).
unsafe fn borrow<'a, T>(ptr: *const T, what: &str) -> Outcome<&'a T> {
    ptr.as_ref()
        .ok_or_else(|| Failure::invalid(format!("{what} is NULL")))
}

/// Checks that `len` elements of T fit in an allocation.
fn byte_length<T>(len: usize, what: &str) -> Outcome<()> {
    match len.checked_mul(std::mem::size_of::<T>()) {
        Some(bytes) if bytes <= isize::MAX as usize => Ok(()),
        _ => Err(Failure::invalid(format!(
            "{what}: {len} elements cannot be a buffer"
        ))),
    }
}

/// Borrows `len` elements at `ptr` (NULL fails, naming `what`).
///
/// # Safety
/// `ptr` is NULL or points to `len` readable, initialised elements for the call.
unsafe fn slice<'a, T>(ptr: *const T, len: usize, what: &str) -> Outcome<&'a [T]> {
    byte_length::<T>(len, what)?;
    if ptr.is_null() {
        return Err(Failure::invalid(format!("{what} is NULL")));
    }
    Ok(std::slice::from_raw_parts(ptr, len))
}

/// Borrows `len` writable elements at `ptr` (NULL fails, naming `what`).
///
/// # Safety
/// `ptr` is NULL or points to `len` writable elements, not aliased during the call.
unsafe fn slice_mut<'a, T>(ptr: *mut T, len: usize, what: &str) -> Outcome<&'a mut [T]> {
    byte_length::<T>(len, what)?;
    if ptr.is_null() {
        return Err(Failure::invalid(format!("{what} is NULL")));
    }
    Ok(std::slice::from_raw_parts_mut(ptr, len))
}

/// A periodic system as C passes it; every pointer is borrowed for the call.
#[repr(C)]
pub struct cpot_system_t {
    /// Number of atoms (> 0).
    pub n_atoms: usize,
    /// 9 values: the lattice vectors a, b, c as rows (Å).
    pub lattice: *const f64,
    /// n_atoms atomic numbers.
    pub numbers: *const i32,
    /// 3 * n_atoms Cartesian coordinates (Å), atom-major.
    pub positions: *const f64,
    /// Periodicity along a, b, c: must be all true (the lattice sums are 3-D periodic).
    pub pbc: [bool; 3],
}

/// Validates a C system and copies it into a [`Structure`].
///
/// # Safety
/// The pointers of `system` are NULL or valid for their documented lengths.
unsafe fn structure_of(system: &cpot_system_t) -> Outcome<Structure> {
    let n = system.n_atoms;
    if n == 0 {
        return Err(Failure::invalid("system->n_atoms is 0"));
    }
    if system.pbc != [true; 3] {
        return Err(Failure::new(
            CPOT_INVALID_STRUCTURE,
            format!(
                "non-periodic directions are not supported by the complete lattice sums \
                 (system->pbc = {:?})",
                system.pbc
            ),
        ));
    }
    let lattice = slice(system.lattice, 9, "system->lattice")?;
    let numbers = slice(system.numbers, n, "system->numbers")?;
    let coordinates = slice(system.positions, n.saturating_mul(3), "system->positions")?;
    if lattice.iter().any(|x| !x.is_finite()) {
        return Err(Failure::invalid(
            "system->lattice contains a NaN or infinite value",
        ));
    }
    if let Some(i) = coordinates.iter().position(|x| !x.is_finite()) {
        let atom = i / 3;
        return Err(Failure::invalid(format!(
            "system->positions: atom {atom} has a NaN or infinite coordinate ({}, {}, {})",
            coordinates[3 * atom],
            coordinates[3 * atom + 1],
            coordinates[3 * atom + 2]
        )));
    }
    let numbers = numbers
        .iter()
        .enumerate()
        .map(|(i, &z)| {
            u8::try_from(z).map_err(|_| {
                Failure::from(Error::InvalidStructure(format!(
                    "system->numbers: atom {i} has atomic number {z}, outside 1..=118"
                )))
            })
        })
        .collect::<Outcome<Vec<u8>>>()?;
    let rows = [0, 3, 6].map(|k| [lattice[k], lattice[k + 1], lattice[k + 2]]);
    let positions = coordinates
        .chunks_exact(3)
        .map(|x| Vec3::new(x[0], x[1], x[2]))
        .collect();
    Ok(Structure::new(
        Lattice::from_rows(rows)?,
        numbers,
        positions,
        system.pbc,
    )?)
}

/// Writes `values` into the optional caller buffer `out` of the same length.
///
/// # Safety
/// `out` is NULL or valid for `values.len()` writes.
unsafe fn write_optional(out: *mut f64, values: &[f64], what: &str) -> Outcome<()> {
    if !out.is_null() {
        slice_mut(out, values.len(), what)?.copy_from_slice(values);
    }
    Ok(())
}

/// A 3×3 matrix as 9 row-major values.
fn row_major(m: &crate::cell::Mat3) -> [f64; 9] {
    std::array::from_fn(|k| m[(k / 3, k % 3)])
}

/// Writes vectors (forces) as 3·N atom-major values.
fn write_vectors(out: &mut [f64], vectors: &[Vec3]) {
    for (o, v) in out.chunks_exact_mut(3).zip(vectors) {
        o.copy_from_slice(v.as_slice());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    fn last_error() -> String {
        unsafe { CStr::from_ptr(cpot_last_error()) }
            .to_string_lossy()
            .into_owned()
    }

    #[test]
    fn a_panic_becomes_an_internal_error_with_its_message() {
        let status = status_of(|| panic!("boom"));
        assert_eq!(status, CPOT_INTERNAL_ERROR);
        assert!(last_error().contains("internal error") && last_error().contains("boom"));
    }

    #[test]
    fn errors_map_to_their_status() {
        let status = status_of(|| Err(Error::Tolerance("x".into()).into()));
        assert_eq!(status, CPOT_TOLERANCE_ERROR);
        assert_eq!(last_error(), "tolerance cannot be reached: x");
        assert_eq!(cpot_last_status(), CPOT_TOLERANCE_ERROR);
        assert_eq!(status_of(|| Ok(())), CPOT_SUCCESS);
        // The message of the last failure stays until the next failure.
        assert_eq!(last_error(), "tolerance cannot be reached: x");
    }

    #[test]
    fn the_version_is_the_crate_version() {
        let v = unsafe { CStr::from_ptr(cpot_version()) };
        assert_eq!(v.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
    }
}
