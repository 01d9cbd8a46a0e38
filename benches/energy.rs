//! Energy-model inference for MD: energy, forces and virial (f64) of rattled diamond Si with
//! 64, 512 and 4,096 atoms, using the shipped `models/mlearn-Si.safetensors`, on 1 and 2
//! threads; throughput is reported in atom-steps per second (one step = one evaluation).
//! `inputs` times the neighbour list and the Φ lattice sums alone, `energy` the evaluation
//! without derivatives, `energy+forces+virial` a full MD step.
//!
//! Times are wall time: run on an otherwise idle machine for meaningful 2-thread figures.

mod common;

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

use crystalpot::model::energy::{inputs::inputs, EnergyModel};
use crystalpot::model::Request;

fn model() -> EnergyModel {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/models/mlearn-Si.safetensors");
    EnergyModel::from_bytes(&std::fs::read(path).expect("shipped Si model")).expect("Si model")
}

fn bench(c: &mut Criterion) {
    let model = model();
    let config = model.config().clone();
    let step = Request {
        forces: true,
        virial: true,
        ..Request::default()
    };
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("thread pool");
        let mut group = c.benchmark_group(format!("energy-model-si/{threads}-threads"));
        group
            .sample_size(10)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(5));
        for n in [2, 4, 8] {
            let s = common::diamond_si(n);
            let atoms = s.len();
            group.throughput(Throughput::Elements(atoms as u64));
            group.bench_with_input(BenchmarkId::new("inputs", atoms), &s, |b, s| {
                b.iter(|| {
                    pool.install(|| {
                        inputs(
                            s,
                            model.elements(),
                            config.cutoff,
                            &config.powers,
                            config.tolerance,
                        )
                        .unwrap()
                    })
                })
            });
            group.bench_with_input(BenchmarkId::new("energy", atoms), &s, |b, s| {
                b.iter(|| pool.install(|| model.compute(s, &Request::default()).unwrap()))
            });
            group.bench_with_input(
                BenchmarkId::new("energy+forces+virial", atoms),
                &s,
                |b, s| b.iter(|| pool.install(|| model.compute(s, &step).unwrap())),
            );
        }
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
