//! Energy-model inference for MD: energy, forces and virial (f64) of rattled diamond Si with
//! 64, 512 and 4,096 atoms, using the message-passing Si model kept for tests
//! (`tests/data/energy-model-Si.safetensors`, the former shipped `models/mlearn-Si`);
//! throughput in atom-steps per second (one step = one evaluation).
//!
//! One thread: process CPU time (what an idle core would take; see [`common::CpuTime`]),
//! split into `inputs` (neighbour list and the Φ lattice sums), `energy` (no derivatives)
//! and `step` (energy, forces and virial). Two threads: wall time of `step`, meaningful on an
//! otherwise idle machine only.

mod common;

use std::time::Duration;

use criterion::measurement::Measurement;
use criterion::Throughput;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, BenchmarkId, Criterion};

use common::CpuTime;
use crystalpot::model::energy::{inputs::inputs, EnergyModel};
use crystalpot::model::Request;
use crystalpot::Structure;

fn model() -> EnergyModel {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/energy-model-Si.safetensors"
    );
    EnergyModel::from_bytes(&std::fs::read(path).expect("Si test model")).expect("Si model")
}

/// One MD step: energy, forces and virial.
fn step() -> Request {
    Request {
        forces: true,
        virial: true,
        ..Request::default()
    }
}

/// The benchmark group of `threads` threads over the three cells, with `run` adding the
/// cases of one cell.
fn sizes<M: Measurement>(
    c: &mut Criterion<M>,
    threads: usize,
    run: impl Fn(&mut BenchmarkGroup<M>, &rayon::ThreadPool, &Structure),
) {
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
        group.throughput(Throughput::Elements(s.len() as u64));
        run(&mut group, &pool, &s);
    }
    group.finish();
}

fn one_thread(c: &mut Criterion<CpuTime>) {
    let model = model();
    let config = model.config().clone();
    sizes(c, 1, |group, pool, s| {
        group.bench_with_input(BenchmarkId::new("inputs", s.len()), s, |b, s| {
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
        group.bench_with_input(BenchmarkId::new("energy", s.len()), s, |b, s| {
            b.iter(|| pool.install(|| model.compute(s, &Request::default()).unwrap()))
        });
        group.bench_with_input(BenchmarkId::new("step", s.len()), s, |b, s| {
            b.iter(|| pool.install(|| model.compute(s, &step()).unwrap()))
        });
    });
}

fn two_threads(c: &mut Criterion) {
    let model = model();
    sizes(c, 2, |group, pool, s| {
        group.bench_with_input(BenchmarkId::new("step", s.len()), s, |b, s| {
            b.iter(|| pool.install(|| model.compute(s, &step()).unwrap()))
        });
    });
}

criterion_group! {
    name = cpu_time;
    config = Criterion::default().with_measurement(CpuTime);
    targets = one_thread
}
criterion_group!(wall_time, two_threads);
criterion_main!(cpu_time, wall_time);
