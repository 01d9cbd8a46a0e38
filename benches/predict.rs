//! PotNet prediction benchmarks: 1, 64 and 1,024 structures of 5 atoms (a distorted
//! perovskite) and of 24 atoms (a wurtzite ZnO 3x2x1 supercell), split into local graph,
//! potnet-mode lattice sums, network forward, and end to end.
//! Run with `RAYON_NUM_THREADS=1 cargo bench --bench predict` for one-core figures; needs the
//! fixture model (`$CRYSTALPOT_DATA/fixtures`, default ../shared/data).
//!
//! Times are the process's CPU time (all threads, on Linux), not wall time: on a shared
//! machine wall time mostly measures the other processes. With one thread on an idle machine
//! the two agree.

use std::path::PathBuf;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rayon::prelude::*;

mod common;

use common::CpuTime;
use crystalpot::lattice::potnet::{potnet_sums, PotnetSettings};
use crystalpot::model::potnet::import::{import_original, ImportOptions};
use crystalpot::model::potnet::PotnetModel;
use crystalpot::neighbors::potnet_graph;
use crystalpot::{Lattice, Structure, Vec3};

/// The randomly initialised reference model of the fixtures (same size as the published one).
fn model() -> PotnetModel {
    let dir = std::env::var_os("CRYSTALPOT_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data"))
        .join("fixtures");
    let weights = std::fs::read(dir.join("potnet_model.safetensors")).expect("fixture model");
    let config = std::fs::read_to_string(dir.join("potnet_config.json")).expect("fixture config");
    import_original(&weights, &config, &ImportOptions::default()).expect("model")
}

/// A cell from lattice rows and fractional sites, the `k`-th variant shifted by a small
/// deterministic rattle so that batches hold distinct structures.
fn cell(
    rows: [[f64; 3]; 3],
    species: &[u8],
    frac: &[[f64; 3]],
    reps: [usize; 3],
    k: usize,
) -> Structure {
    let lattice = Lattice::from_rows(rows).unwrap();
    let sites: Vec<Vec3> = frac
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let r = 0.004 * (((i * 7 + k * 13) % 11) as f64 - 5.0) / 5.0;
            Vec3::new(f[0] + r, f[1] - 0.5 * r, f[2] + 0.3 * r)
        })
        .collect();
    Structure::from_fractional(lattice, species.to_vec(), &sites, [true; 3])
        .unwrap()
        .supercell(reps)
        .unwrap()
}

fn perovskite_5(k: usize) -> Structure {
    let a = 3.95;
    cell(
        [[a, 0.05, 0.0], [0.0, a * 1.02, 0.04], [0.03, 0.0, a * 0.99]],
        &[56, 40, 8, 8, 8],
        &[
            [0.0; 3],
            [0.5; 3],
            [0.5, 0.5, 0.0],
            [0.5, 0.0, 0.5],
            [0.0, 0.5, 0.5],
        ],
        [1, 1, 1],
        k,
    )
}

fn wurtzite_24(k: usize) -> Structure {
    let (a, c, u) = (3.25, 5.21, 0.382);
    let h = a * 3f64.sqrt() / 2.0;
    cell(
        [[a, 0.0, 0.0], [-a / 2.0, h, 0.0], [0.0, 0.0, c]],
        &[30, 30, 8, 8],
        &[
            [1.0 / 3.0, 2.0 / 3.0, 0.0],
            [2.0 / 3.0, 1.0 / 3.0, 0.5],
            [1.0 / 3.0, 2.0 / 3.0, u],
            [2.0 / 3.0, 1.0 / 3.0, 0.5 + u],
        ],
        [3, 2, 1],
        k,
    )
}

/// Builds the k-th variant of a benchmark structure.
type Maker = fn(usize) -> Structure;

fn bench(c: &mut Criterion<CpuTime>) {
    let model = model();
    let settings = PotnetSettings::default();
    let makers: [(&str, Maker); 2] = [("5 atoms", perovskite_5), ("24 atoms", wurtzite_24)];
    for (label, make) in makers {
        let mut group = c.benchmark_group(format!("predict {label}"));
        group
            .sample_size(10)
            .warm_up_time(Duration::from_millis(500));
        for count in [1usize, 64, 1024] {
            let structures: Vec<Structure> = (0..count).map(make).collect();
            let inputs = model.inputs(&structures).unwrap();
            group.throughput(Throughput::Elements(count as u64));
            group.measurement_time(Duration::from_secs(if count == 1024 { 20 } else { 3 }));
            group.bench_with_input(BenchmarkId::new("graph", count), &structures, |b, s| {
                b.iter(|| {
                    s.par_iter()
                        .map(|s| potnet_graph(s, 4.0, 16).unwrap())
                        .collect::<Vec<_>>()
                })
            });
            group.bench_with_input(
                BenchmarkId::new("lattice sums", count),
                &structures,
                |b, s| {
                    b.iter(|| {
                        s.par_iter()
                            .map(|s| potnet_sums(s, &settings).unwrap())
                            .collect::<Vec<_>>()
                    })
                },
            );
            group.bench_with_input(BenchmarkId::new("network", count), &inputs, |b, i| {
                b.iter(|| model.predict_inputs(i).unwrap())
            });
            group.bench_with_input(
                BenchmarkId::new("end to end", count),
                &structures,
                |b, s| b.iter(|| model.predict(s).unwrap()),
            );
        }
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(CpuTime);
    targets = bench
}
criterion_main!(benches);
