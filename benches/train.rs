//! PotNet training throughput (structures/s): one epoch over 256 perovskites of
//! `$CRYSTALPOT_DATA/perov5/train.csv` (default ../shared/data) in batches of 64, at the
//! shipped model's width (128, 3 layers) and at the published width (256), on 2 threads as
//! `crystalpot train --threads 2` runs. Inputs (graphs, lattice sums) are prepared once
//! outside the timing, as the training cache does.
//!
//! Wall time: on a shared machine it includes the other processes' share of the cores.

use std::path::PathBuf;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

use crystalpot::model::potnet::config::{Architecture, Provenance};
use crystalpot::train::dataset::{self, BadSamples};
use crystalpot::train::potnet::{self, cache, PotnetTraining, Trainer};

const STRUCTURES: usize = 256;

fn bench(c: &mut Criterion) {
    // As `crystalpot train --threads 2` sets them, before candle's first operation.
    std::env::set_var("RAYON_NUM_THREADS", "2");
    std::env::set_var("CANDLE_NUM_THREADS", "1");
    let data = std::env::var_os("CRYSTALPOT_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data"))
        .join("perov5/train.csv");
    let samples = dataset::load(&data, &["heat_all".into()], BadSamples::Fail)
        .unwrap_or_else(|e| panic!("{}: {e}", data.display()))
        .samples;
    let samples = &samples[..STRUCTURES];
    let values: Vec<f64> = samples.iter().map(|s| s.targets[0]).collect();
    let target = potnet::target("heat_all", "eV/cell", true, &values);
    let targets: Vec<Vec<f64>> = values
        .iter()
        .map(|v| vec![(v - target.mean) / target.std])
        .collect();
    let structures: Vec<_> = samples.iter().map(|s| s.structure.clone()).collect();
    let refs: Vec<_> = structures.iter().collect();
    let mut group = c.benchmark_group("train_epoch");
    group.throughput(Throughput::Elements(STRUCTURES as u64));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    for width in [128, 256] {
        let arch = Architecture {
            fc_features: width,
            output_dim: width,
            ..Architecture::default()
        };
        let meta = potnet::model_meta("bench", arch, target.clone(), &refs, Provenance::default())
            .unwrap();
        let inputs = cache::inputs(&structures, &meta, None).unwrap();
        let settings = PotnetTraining {
            epochs: 1_000_000,
            batch_size: 64,
            ..PotnetTraining::default()
        };
        let mut trainer = Trainer::new(meta, settings).unwrap();
        group.bench_function(BenchmarkId::new("width", width), |b| {
            b.iter(|| trainer.train_epoch(&inputs, &targets, |_| {}).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
