//! Lattice-sum benchmarks: all three N×N matrices of small cells (the PotNet use), the screened
//! Coulomb matrix across screening lengths, and per-atom
//! sums with forces and virial for large cells (the simulation use).
//! Run with `RAYON_NUM_THREADS=1 cargo bench --bench lattice_sums` for one-core figures; the
//! matrices are timed in process CPU time (robust on a shared machine), the threaded per-atom
//! sums in wall time.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

use crystalpot::lattice::per_atom::{channel_sums, Channels};
use crystalpot::lattice::{pair_matrices, Potential, Tolerance};
use crystalpot::{Lattice, Mat3, Structure, Vec3};

mod common;

use common::{rocksalt, CpuTime};

/// A triclinically distorted, rattled SrTiO3 perovskite cell repeated `reps` times.
fn perovskite(reps: [usize; 3]) -> Structure {
    let a = 3.905;
    let distortion = Mat3::new(1.0, 0.04, -0.03, 0.02, 1.03, 0.05, -0.01, 0.03, 0.98);
    let lattice = Lattice::from_matrix(distortion * Mat3::identity() * a).unwrap();
    let frac = [
        [0.0, 0.0, 0.0],
        [0.5, 0.5, 0.5],
        [0.5, 0.5, 0.0],
        [0.5, 0.0, 0.5],
        [0.0, 0.5, 0.5],
    ];
    let frac: Vec<Vec3> = frac
        .iter()
        .enumerate()
        .map(|(i, f)| {
            Vec3::new(
                f[0] + 0.01 * i as f64,
                f[1] - 0.007 * i as f64,
                f[2] + 0.003,
            )
        })
        .collect();
    Structure::from_fractional(lattice, vec![38, 22, 8, 8, 8], &frac, [true; 3])
        .unwrap()
        .supercell(reps)
        .unwrap()
}

fn matrices(c: &mut Criterion<CpuTime>) {
    let mut group = c.benchmark_group("pair_matrices_coulomb_london_pauli");
    let potentials = [
        Potential::InversePower(1.0),
        Potential::InversePower(6.0),
        Potential::Exponential {
            alpha: 3.0,
            include_self: false,
        },
    ];
    for (n, reps) in [(5, [1, 1, 1]), (20, [2, 2, 1]), (80, [2, 2, 4])] {
        let s = perovskite(reps);
        for tol in [1e-8, 1e-10, 1e-12] {
            group.bench_with_input(
                BenchmarkId::new(format!("{n}_atoms"), tol),
                &tol,
                |b, &tol| {
                    b.iter(|| pair_matrices(&s, &potentials, Tolerance::Absolute(tol)).unwrap())
                },
            );
        }
    }
    group.finish();
}

/// One screened Coulomb matrix of the 20-atom cell at 1e-10 across screening lengths (Ewald
/// regime for small κ, direct summation for large κ), next to the plain Coulomb matrix.
fn screened(c: &mut Criterion<CpuTime>) {
    let mut group = c.benchmark_group("pair_matrix_screened_20_atoms_1e-10");
    let s = perovskite([2, 2, 1]);
    let cases = [
        ("coulomb".to_string(), Potential::InversePower(1.0)),
        (
            "kappa_0.01".to_string(),
            Potential::Screened { kappa: 0.01 },
        ),
        ("kappa_0.3".to_string(), Potential::Screened { kappa: 0.3 }),
        ("kappa_1".to_string(), Potential::Screened { kappa: 1.0 }),
        ("kappa_3".to_string(), Potential::Screened { kappa: 3.0 }),
    ];
    for (name, potential) in cases {
        group.bench_function(name, |b| {
            b.iter(|| pair_matrices(&s, &[potential], Tolerance::Absolute(1e-10)).unwrap())
        });
    }
    group.finish();
}

fn per_atom(c: &mut Criterion) {
    let mut group = c.benchmark_group("per_atom_coulomb_with_forces_and_virial");
    group.sample_size(10);
    for n in [5, 11] {
        let s = rocksalt(n);
        let charges: Vec<f64> = s
            .numbers()
            .iter()
            .map(|&z| if z == 11 { 1.0 } else { -1.0 })
            .collect();
        let channels = Channels::single(charges, 1.0);
        group.bench_function(BenchmarkId::new(format!("{}_atoms", s.len()), 1e-8), |b| {
            b.iter(|| channel_sums(&s, 1.0, &channels, 1e-8, true).unwrap())
        });
    }
    group.finish();
}

criterion_group! {
    name = single_thread;
    config = Criterion::default().with_measurement(CpuTime);
    targets = matrices, screened
}
criterion_group!(threaded, per_atom);
criterion_main!(single_thread, threaded);
