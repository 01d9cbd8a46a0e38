//! Smooth PME beside the exact Ewald engine: per-atom Coulomb φ + forces + virial of rattled
//! rock salt at relative force accuracy 1e-5 (tolerance 1e-5 per unit charge), for 1,000,
//! 10,648 and 97,336 atoms (rock salt has 8 n³ atoms: 97,336 is the n³ cell nearest 10⁵).
//! Run with `RAYON_NUM_THREADS=1 cargo bench --bench pme` for one-core figures. The exact
//! engine at 97,336 atoms takes minutes per evaluation: it runs only with PME_BENCH_EXACT_100K=1.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

use crystalpot::lattice::per_atom::{channel_sums_with, Channels, Method, SumOptions};

mod common;

use common::rocksalt;

fn coulomb(c: &mut Criterion) {
    let mut group = c.benchmark_group("per_atom_coulomb_forces_virial_1e-5");
    group.sample_size(10);
    for n in [5, 11, 23] {
        let s = rocksalt(n);
        let q: Vec<f64> = s
            .numbers()
            .iter()
            .map(|&z| if z == 11 { 1.0 } else { -1.0 })
            .collect();
        let channels = Channels::single(q, 1.0);
        for (name, method) in [("pme", Method::Pme), ("ewald", Method::Ewald)] {
            if method == Method::Ewald
                && n == 23
                && std::env::var_os("PME_BENCH_EXACT_100K").is_none()
            {
                continue;
            }
            let options = SumOptions {
                tolerance: 1e-5,
                derivatives: true,
                method,
                pme_parameters: None,
            };
            group.bench_with_input(BenchmarkId::new(name, s.len()), &s, |b, s| {
                b.iter(|| channel_sums_with(s, 1.0, &channels, &options).unwrap())
            });
        }
    }
    group.finish();
}

criterion_group!(benches, coulomb);
criterion_main!(benches);
