//! Overhead of the C ABI: `cpot_compute` (pointer checks, copying the caller's arrays into a
//! `Structure`, panic catching, writing the caller's buffers) against `Calculator::compute`
//! on the same 64-atom rattled rock-salt cell with the rigid-ion model (energy, forces,
//! virial). Besides criterion's figures it prints the overhead as the median ratio of
//! back-to-back pairs, which cancels most of the noise of a shared machine.
//! Run with `RAYON_NUM_THREADS=1 cargo bench --bench capi` for one-core figures.

use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion};

use crystalpot::c_api::{
    cpot_compute, cpot_model_free, cpot_model_load_bytes, cpot_model_t, cpot_request_t,
    cpot_results_t, cpot_system_t, CPOT_FORCES, CPOT_SUCCESS, CPOT_VIRIAL,
};
use crystalpot::model::Request;
use crystalpot::{Calculator, Structure};

mod common;

/// The caller's side of the ABI: flat arrays and output buffers.
struct CInputs {
    lattice: [f64; 9],
    numbers: Vec<i32>,
    positions: Vec<f64>,
    forces: Vec<f64>,
    virial: [f64; 9],
}

impl CInputs {
    fn new(s: &Structure) -> Self {
        let m = s.lattice().matrix();
        CInputs {
            lattice: std::array::from_fn(|k| m[(k / 3, k % 3)]),
            numbers: s.numbers().iter().map(|&z| i32::from(z)).collect(),
            positions: s.positions().iter().flat_map(|x| [x.x, x.y, x.z]).collect(),
            forces: vec![0.0; 3 * s.len()],
            virial: [0.0; 9],
        }
    }

    fn compute(&mut self, model: *const cpot_model_t) -> f64 {
        let system = cpot_system_t {
            n_atoms: self.numbers.len(),
            lattice: self.lattice.as_ptr(),
            numbers: self.numbers.as_ptr(),
            positions: self.positions.as_ptr(),
            pbc: [true; 3],
        };
        let request = cpot_request_t {
            flags: CPOT_FORCES | CPOT_VIRIAL,
            energy_atoms: std::ptr::null(),
        };
        let mut results = cpot_results_t {
            energy: 0.0,
            energy_error_bound: 0.0,
            per_atom_energies: std::ptr::null_mut(),
            forces: self.forces.as_mut_ptr(),
            virial: self.virial.as_mut_ptr(),
            properties: std::ptr::null_mut(),
            n_properties: 0,
        };
        // SAFETY: every pointer refers to a live buffer of the documented length.
        let status = unsafe { cpot_compute(model, &system, &request, &mut results) };
        assert_eq!(status, CPOT_SUCCESS);
        results.energy
    }
}

fn abi_overhead(c: &mut Criterion) {
    let model_file = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/nacl-rigid-ion.json");
    let bytes = std::fs::read(&model_file).unwrap();
    let calculator = Calculator::from_bytes(&bytes).unwrap();
    // SAFETY: a valid buffer; the handle is freed below.
    let model = unsafe { cpot_model_load_bytes(bytes.as_ptr(), bytes.len()) };
    assert!(!model.is_null());
    // 2×2×2 conventional cells: 64 atoms, rattled so that every force is non-zero.
    let structure = common::rocksalt(2);
    let request = Request {
        forces: true,
        virial: true,
        ..Request::default()
    };
    let mut inputs = CInputs::new(&structure);
    let direct = |s: &Structure| calculator.compute(s, &request).unwrap().energy;
    let (e_rust, e_abi) = (direct(&structure), inputs.compute(model));
    assert!(
        (e_rust - e_abi).abs() < 1e-12 * e_rust.abs(),
        "{e_rust} vs {e_abi}"
    );

    let mut group = c.benchmark_group("64-atom rock salt, energy + forces + virial");
    group.bench_function("Calculator::compute (Rust)", |b| {
        b.iter(|| black_box(direct(black_box(&structure))))
    });
    group.bench_function("cpot_compute (C ABI)", |b| {
        b.iter(|| black_box(inputs.compute(black_box(model))))
    });
    group.finish();

    let mut ratios: Vec<f64> = (0..400)
        .map(|k| {
            let time = |f: &mut dyn FnMut()| {
                let start = Instant::now();
                f();
                start.elapsed().as_secs_f64()
            };
            // Alternate which one goes first so that neither always runs on a warm cache.
            let (mut t_rust, mut t_abi) = (0.0, 0.0);
            for first in [k % 2 == 0, k % 2 == 1] {
                if first {
                    t_rust += time(&mut || {
                        black_box(direct(&structure));
                    });
                } else {
                    t_abi += time(&mut || {
                        black_box(inputs.compute(model));
                    });
                }
            }
            t_abi / t_rust
        })
        .collect();
    ratios.sort_by(f64::total_cmp);
    let median = ratios[ratios.len() / 2];
    println!(
        "C ABI overhead for 64 atoms: {:+.2} % (median of {} back-to-back pairs; quartiles {:+.2} %, {:+.2} %)",
        100.0 * (median - 1.0),
        ratios.len(),
        100.0 * (ratios[ratios.len() / 4] - 1.0),
        100.0 * (ratios[3 * ratios.len() / 4] - 1.0),
    );
    // SAFETY: loaded above, freed once.
    unsafe { cpot_model_free(model) };
}

criterion_group!(benches, abi_overhead);
criterion_main!(benches);
