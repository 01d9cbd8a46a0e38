//! Training PotNet: the trainable network in eval mode equals the fast inference network,
//! training lowers the loss, a resumed run equals an uninterrupted one bit for bit, bad rows
//! are reported with their row numbers, and `evaluate` scores a trained model as the library
//! predicts.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use crystalpot::model::potnet::config::{Architecture, Provenance};
use crystalpot::model::potnet::features::{Batch, CrystalInput};
use crystalpot::model::potnet::PotnetModel;
use crystalpot::train::dataset::{self, BadSamples, Sample};
use crystalpot::train::metrics::Metrics;
use crystalpot::train::potnet::{self, cache, PotnetTraining, Trainer};

/// The first `rows` records of the perovskite training table.
fn perovskite_rows(rows: usize) -> Vec<csv::StringRecord> {
    let path = common::data_dir().join("perov5/train.csv");
    let mut reader = csv::Reader::from_path(&path).expect("perov5/train.csv readable");
    let mut out = vec![reader.headers().unwrap().clone()];
    out.extend(reader.records().take(rows).map(|r| r.unwrap()));
    out
}

fn write_csv(path: &Path, rows: &[csv::StringRecord]) {
    let mut w = csv::Writer::from_path(path).unwrap();
    for r in rows {
        w.write_record(r).unwrap();
    }
    w.flush().unwrap();
}

/// A fresh folder for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("train_potnet")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn samples(rows: usize, name: &str) -> Vec<Sample> {
    let path = scratch(name).join("data.csv");
    write_csv(&path, &perovskite_rows(rows));
    dataset::load(&path, &["heat_all".into()], BadSamples::Fail)
        .unwrap()
        .samples
}

/// A small network (width 16, 2 layers) trainer on `data`.
fn trainer(
    data: &[Sample],
    settings: PotnetTraining,
) -> (Trainer, Vec<CrystalInput>, Vec<Vec<f64>>) {
    let values: Vec<f64> = data.iter().map(|s| s.targets[0]).collect();
    let target = potnet::target("heat_all", "eV/cell", true, &values);
    let (mean, std) = (target.mean, target.std);
    let arch = Architecture {
        conv_layers: 2,
        fc_features: 16,
        output_dim: 16,
        inf_edge_features: 8,
        ..Architecture::default()
    };
    let structures: Vec<_> = data.iter().map(|s| &s.structure).collect();
    let meta =
        potnet::model_meta("test", arch, target, &structures, Provenance::default()).unwrap();
    let owned: Vec<_> = data.iter().map(|s| s.structure.clone()).collect();
    let inputs = cache::inputs(&owned, &meta, None).unwrap();
    let targets = values.iter().map(|v| vec![(v - mean) / std]).collect();
    (Trainer::new(meta, settings).unwrap(), inputs, targets)
}

/// Settings for a few fast epochs of the small network.
fn quick(epochs: usize) -> PotnetTraining {
    PotnetTraining {
        epochs,
        batch_size: 8,
        learning_rate: 5e-3,
        ..PotnetTraining::default()
    }
}

#[test]
fn trainable_network_in_eval_mode_equals_the_inference_network() {
    let data = samples(24, "eval");
    let (mut t, inputs, targets) = trainer(&data, quick(2));
    // Two epochs move the weights and the running statistics away from their initial values.
    for _ in 0..2 {
        t.train_epoch(&inputs, &targets, |_| {}).unwrap();
    }
    let model = t.model().unwrap();
    let (local, inf) = t.net.rbfs();
    let batch = Batch::new(&inputs, local, inf).unwrap();
    let trainable = t.net.forward(&batch, false).unwrap().flatten_all().unwrap();
    let trainable: Vec<f32> = trainable.to_vec1().unwrap();
    let fast: Vec<f32> = model
        .network()
        .forward(&batch)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    assert_eq!(trainable.len(), data.len());
    let spread = trainable.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    assert!(spread > 0.1, "outputs {trainable:?} should not be trivial");
    // f32 networks of the same operations in another order (folded BatchNorm, fused first
    // layers, a different exp): a few ulps per operation over ~20 operations in sequence, of
    // values of size ≤ 10, i.e. ~1e-5 absolute.
    for (a, b) in trainable.iter().zip(&fast) {
        assert!((a - b).abs() < 1e-5 * (1.0 + b.abs()), "{a} vs {b}");
    }
    // And the model file written from it predicts the same.
    let reloaded = PotnetModel::from_bytes(&model.to_bytes().unwrap()).unwrap();
    assert_eq!(
        reloaded.predict_inputs(&inputs).unwrap(),
        model.predict_inputs(&inputs).unwrap()
    );
}

#[test]
fn batch_norm_running_statistics_follow_pytorch() {
    // One train-mode step from running mean 0, variance 1 gives PyTorch's
    // running_mean = 0.1 · batch mean, running_var = 0.9 + 0.1 · unbiased batch variance.
    // Checked on the infinite-edge BatchNorm, whose input is recomputed here in f64 from the
    // unmerged rows (softplus(Linear(RBF)) of every ordered pair of every structure): the
    // network's weighted statistics over distinct rows must equal them.
    let data = samples(6, "bn");
    let (mut t, inputs, _) = trainer(
        &data,
        PotnetTraining {
            batch_size: 6,
            ..PotnetTraining::default()
        },
    );
    let (local, inf) = t.net.rbfs();
    let batch = Batch::new(&inputs, local, inf).unwrap();
    // The pre-BatchNorm features of every ordered pair, from the unmerged rows.
    let w = t.net.vars()["infinite_linear.weight"].as_tensor().clone();
    let b = t.net.vars()["infinite_linear.bias"].as_tensor().clone();
    let bins = batch.inf_rbf_bins;
    let rbf = candle_core::Tensor::from_slice(
        &batch.inf_rbf,
        (batch.inf_rbf.len() / bins, bins),
        &candle_core::Device::Cpu,
    )
    .unwrap();
    let pre = rbf
        .matmul(&w.t().unwrap())
        .unwrap()
        .broadcast_add(&b)
        .unwrap();
    let pre: Vec<Vec<f32>> = pre.to_vec2().unwrap();
    let rows: Vec<&Vec<f32>> = batch.inf_rows.iter().map(|&r| &pre[r as usize]).collect();
    let n = rows.len() as f64;
    let softplus = |x: f32| f64::from(x).exp().ln_1p();
    t.net.forward(&batch, true).unwrap();
    let state = t.net.state_dict().unwrap();
    let mean: Vec<f32> = state["infinite_bn.running_mean"].to_vec1().unwrap();
    let var: Vec<f32> = state["infinite_bn.running_var"].to_vec1().unwrap();
    for k in 0..16 {
        let xs: Vec<f64> = rows.iter().map(|r| softplus(r[k])).collect();
        let m = xs.iter().sum::<f64>() / n;
        let v = xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0);
        // f32 sums over n ≈ 150 rows: relative error ~n · 6e-8 ≈ 1e-5.
        assert!(
            (f64::from(mean[k]) - 0.1 * m).abs() < 1e-5 * (1.0 + m.abs()),
            "mean {k}"
        );
        assert!(
            (f64::from(var[k]) - (0.9 + 0.1 * v)).abs() < 1e-5 * (1.0 + v),
            "var {k}"
        );
    }
    assert_eq!(
        state["infinite_bn.num_batches_tracked"]
            .to_scalar::<i64>()
            .unwrap(),
        1
    );
}

#[test]
fn training_on_a_tiny_set_reduces_the_loss() {
    let data = samples(32, "loss");
    let (mut t, inputs, targets) = trainer(&data, quick(25));
    let mut losses = Vec::new();
    while !t.finished() {
        losses.push(t.train_epoch(&inputs, &targets, |_| {}).unwrap());
    }
    let (first, last) = (losses[0], *losses.last().unwrap());
    assert!(last < 0.3 * first, "loss {first} -> {last}: {losses:?}");
    // The fitted model is better than predicting the mean (MAE of the targets around it).
    let values: Vec<f64> = data.iter().map(|s| s.targets[0]).collect();
    let (metrics, _) = t.validate(&inputs, &values).unwrap();
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    let baseline = Metrics::new(&vec![mean; values.len()], &values).mae;
    assert!(
        metrics.mae < 0.5 * baseline,
        "{} vs {baseline}",
        metrics.mae
    );
}

fn crystalpot(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_crystalpot"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `crystalpot train` on `data` with `extra` options, output in `dir`.
fn train_cli(dir: &Path, data: &Path, extra: &[&str]) -> (bool, String, String) {
    let out = dir.join("model.safetensors");
    let mut args = vec![
        "train",
        "--data",
        data.to_str().unwrap(),
        "--target",
        "heat_all",
        "--unit",
        "eV/cell",
        "--out",
        out.to_str().unwrap(),
        "--width",
        "16",
        "--layers",
        "2",
        "--batch-size",
        "8",
        "--lr",
        "3e-3",
        "--threads",
        "2",
    ];
    args.extend_from_slice(extra);
    crystalpot(&args)
}

/// The tensors of a safetensors file, as raw bytes by name.
fn tensor_bytes(path: &Path) -> Vec<(String, Vec<u8>)> {
    let bytes = std::fs::read(path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut out: Vec<_> = st
        .tensors()
        .into_iter()
        .map(|(name, view)| (name, view.data().to_vec()))
        .collect();
    out.sort();
    out
}

/// The log without its timing column.
fn log_without_seconds(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("model.log.csv"))
        .unwrap()
        .lines()
        .map(|l| l.rsplit_once(',').unwrap().0.to_string())
        .collect()
}

#[test]
fn a_resumed_run_equals_an_uninterrupted_one() {
    let root = scratch("resume");
    let data = root.join("data.csv");
    write_csv(&data, &perovskite_rows(40));
    let (whole, split) = (root.join("whole"), root.join("split"));
    for d in [&whole, &split] {
        std::fs::create_dir_all(d).unwrap();
    }
    let (ok, _, err) = train_cli(&whole, &data, &["--epochs", "3"]);
    assert!(ok, "{err}");
    let (ok, _, err) = train_cli(&split, &data, &["--epochs", "3", "--stop-after", "1"]);
    assert!(ok && err.contains("stopped after epoch 1"), "{err}");
    assert!(
        !split.join("model.parity.png").exists(),
        "no plots before the end"
    );
    // The resumed invocation's own settings are ignored in favour of the checkpoint's.
    let (ok, _, err) = train_cli(
        &split,
        &data,
        &["--epochs", "3", "--resume", "--weight-decay", "0.5"],
    );
    assert!(ok && err.contains("resuming"), "{err}");
    assert_eq!(
        tensor_bytes(&whole.join("model.checkpoint.safetensors")),
        tensor_bytes(&split.join("model.checkpoint.safetensors"))
    );
    assert_eq!(
        tensor_bytes(&whole.join("model.safetensors")),
        tensor_bytes(&split.join("model.safetensors"))
    );
    assert_eq!(log_without_seconds(&whole), log_without_seconds(&split));
    assert_eq!(log_without_seconds(&whole).len(), 4, "header and 3 epochs");
    // Resuming with another split is refused rather than silently continued.
    let (ok, _, err) = train_cli(&split, &data, &["--resume", "--val-fraction", "0.3"]);
    assert!(!ok && err.contains("same data and split"), "{err}");
    for png in ["model.learning-curve.png", "model.parity.png"] {
        let bytes = std::fs::read(split.join(png)).unwrap();
        assert_eq!(&bytes[1..4], b"PNG", "{png}");
    }
    // The model file says where it came from.
    let model = PotnetModel::from_file(&whole.join("model.safetensors")).unwrap();
    let p = &model.meta().provenance;
    assert!(p.dataset.as_deref().unwrap().contains("data.csv"));
    assert!(p.split.as_deref().unwrap().contains("seed 0"));
    assert!(p.metrics.as_ref().unwrap()["validation"]["mae"].is_number());
    assert_eq!(p.date.as_deref().map(str::len), Some(10));
}

#[test]
fn resuming_names_bad_missing_and_foreign_checkpoints() {
    let root = scratch("resume-errors");
    let (data, other) = (root.join("data.csv"), root.join("other.csv"));
    write_csv(&data, &perovskite_rows(16));
    let mut rows = perovskite_rows(17);
    rows.remove(1);
    write_csv(&other, &rows);
    let (ok, _, err) = train_cli(&root, &data, &["--epochs", "2", "--stop-after", "1"]);
    assert!(ok, "{err}");
    let checkpoint = root.join("model.checkpoint.safetensors");
    let resume_from =
        |file: &Path, data: &Path| train_cli(&root, data, &["--resume", file.to_str().unwrap()]);
    let refused = |(ok, _, err): (bool, String, String), says: &str| {
        assert!(
            !ok && err.contains(says) && !err.contains("panicked"),
            "{err}"
        );
    };
    refused(
        resume_from(&root.join("nothing.safetensors"), &data),
        "nothing.safetensors: no such checkpoint file",
    );
    let bytes = std::fs::read(&checkpoint).unwrap();
    let corrupt = root.join("corrupt.safetensors");
    std::fs::write(&corrupt, &bytes[..bytes.len() / 2]).unwrap();
    refused(resume_from(&corrupt, &data), "cannot resume from");
    refused(
        resume_from(&root.join("model.safetensors"), &data),
        "not a crystalpot PotNet training checkpoint",
    );
    refused(resume_from(&checkpoint, &other), "same data and split");
    // A named checkpoint elsewhere continues the run (and the next ones go beside --out).
    let moved = root.join("kept").join("epoch1.safetensors");
    std::fs::create_dir_all(moved.parent().unwrap()).unwrap();
    std::fs::rename(&checkpoint, &moved).unwrap();
    let (ok, _, err) = resume_from(&moved, &data);
    assert!(ok && err.contains("resuming"), "{err}");
    assert!(checkpoint.exists());
}

#[test]
fn bad_rows_are_reported_with_their_numbers_and_skipped_or_fatal() {
    let root = scratch("bad");
    let mut rows = perovskite_rows(30);
    // Records are numbered from 1 after the header: record 3 gets a broken CIF, record 5 a
    // NaN target.
    let cif = rows[0].iter().position(|h| h == "cif").unwrap();
    let heat = rows[0].iter().position(|h| h == "heat_all").unwrap();
    let edit = |r: &csv::StringRecord, col: usize, value: &str| {
        r.iter()
            .enumerate()
            .map(|(k, v)| if k == col { value } else { v })
            .collect::<csv::StringRecord>()
    };
    rows[3] = edit(&rows[3], cif, "data_broken\n_cell_length_a oops\n");
    rows[5] = edit(&rows[5], heat, "NaN");
    let data = root.join("bad.csv");
    write_csv(&data, &rows);
    let (ok, _, err) = train_cli(&root, &data, &["--epochs", "1"]);
    assert!(!ok, "a bad row must fail without --skip-bad");
    assert!(err.contains("record 3"), "{err}");
    let (ok, _, err) = train_cli(&root, &data, &["--epochs", "1", "--skip-bad"]);
    assert!(ok, "{err}");
    let skipped: Vec<&str> = err.lines().filter(|l| l.starts_with("skipped")).collect();
    assert_eq!(skipped.len(), 2, "{err}");
    assert!(
        skipped[0].contains("record 3") && skipped[1].contains("record 5"),
        "{err}"
    );
    let model = PotnetModel::from_file(&root.join("model.safetensors")).unwrap();
    assert!(model
        .meta()
        .provenance
        .dataset
        .as_deref()
        .unwrap()
        .contains("25 training, 3 validation"));
}

#[test]
fn evaluate_scores_a_trained_potnet_model_as_the_library_predicts() {
    let root = scratch("evaluate");
    let data = root.join("data.csv");
    write_csv(&data, &perovskite_rows(24));
    let (ok, _, err) = train_cli(&root, &data, &["--epochs", "1"]);
    assert!(ok, "{err}");
    let model_path = root.join("model.safetensors");
    let parity = root.join("parity.png");
    let evaluate = |extra: &[&str]| {
        let mut args = vec![
            "evaluate",
            "--model",
            model_path.to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        crystalpot(&args)
    };
    let (ok, out, err) = evaluate(&[
        "--target",
        "heat_all",
        "--json",
        "--parity",
        parity.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    let model = PotnetModel::from_file(&model_path).unwrap();
    let samples = dataset::load(&data, &["heat_all".into()], BadSamples::Fail)
        .unwrap()
        .samples;
    let structures: Vec<_> = samples.iter().map(|s| s.structure.clone()).collect();
    let predicted: Vec<f64> = model
        .predict(&structures)
        .unwrap()
        .iter()
        .map(|p| p[0])
        .collect();
    let truth: Vec<f64> = samples.iter().map(|s| s.targets[0]).collect();
    let m = Metrics::new(&predicted, &truth);
    assert_eq!(json["n"], 24);
    assert_eq!(json["target"], "heat_all");
    assert_eq!(json["unit"], "eV/cell");
    for (key, want) in [
        ("mae", m.mae),
        ("rmse", m.rmse),
        ("r2", m.r2),
        ("max_error", m.max_error),
    ] {
        let got = json[key].as_f64().unwrap();
        assert!(
            (got - want).abs() <= 1e-12 * (1.0 + want.abs()),
            "{key}: {got} vs {want}"
        );
    }
    assert_eq!(&std::fs::read(&parity).unwrap()[1..4], b"PNG");
    // A target the model does not predict is refused with the ones it does.
    let (ok, _, err) = evaluate(&["--target", "dir_gap"]);
    assert!(!ok && err.contains("heat_all"), "{err}");
}

#[test]
fn inputs_are_cached_per_structure_and_settings() {
    let dir = scratch("cache");
    let data = samples(6, "cache-data");
    let (t, direct, _) = trainer(&data, quick(1));
    let structures: Vec<_> = data.iter().map(|s| s.structure.clone()).collect();
    let files = || std::fs::read_dir(&dir).unwrap().count();
    // A first run caches 4 structures; a second computes the other 2 and reads the rest.
    let first = cache::inputs(&structures[..4], &t.meta, Some(&dir)).unwrap();
    assert_eq!(first, direct[..4]);
    assert_eq!(files(), 1);
    let all = cache::inputs(&structures, &t.meta, Some(&dir)).unwrap();
    assert_eq!(
        all, direct,
        "cached inputs are the computed ones, bit for bit"
    );
    let path = std::fs::read_dir(&dir)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let before = std::fs::read(&path).unwrap();
    cache::inputs(&structures, &t.meta, Some(&dir)).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), before, "nothing recomputed");
    // Other graph settings are another cache (the inputs differ).
    let mut other = t.meta.clone();
    other.graph.max_neighbors = 8;
    let fewer = cache::inputs(&structures, &other, Some(&dir)).unwrap();
    assert_eq!(files(), 2);
    assert!(fewer[0].local_src.len() < all[0].local_src.len());
    // A damaged cache file is an error naming it, not wrong inputs.
    std::fs::write(&path, &before[..before.len() / 2]).unwrap();
    let err = cache::inputs(&structures, &t.meta, Some(&dir)).unwrap_err();
    assert!(err.to_string().contains("damaged input cache"), "{err}");
}

#[test]
fn a_folder_with_id_prop_csv_trains_like_the_table() {
    let root = scratch("id_prop");
    let rows = perovskite_rows(16);
    let cif = rows[0].iter().position(|h| h == "cif").unwrap();
    let heat = rows[0].iter().position(|h| h == "heat_all").unwrap();
    let folder = root.join("data");
    std::fs::create_dir_all(&folder).unwrap();
    let mut id_prop = String::new();
    for (k, r) in rows[1..].iter().enumerate() {
        std::fs::write(folder.join(format!("s{k}.cif")), &r[cif]).unwrap();
        id_prop.push_str(&format!("s{k}.cif,{}\n", &r[heat]));
    }
    std::fs::write(folder.join("id_prop.csv"), id_prop).unwrap();
    let table = root.join("table.csv");
    write_csv(&table, &rows);
    let (from_folder, from_table) = (root.join("folder"), root.join("table"));
    for (out, data) in [(&from_folder, &folder), (&from_table, &table)] {
        std::fs::create_dir_all(out).unwrap();
        let (ok, _, err) = train_cli(out, data, &["--epochs", "2"]);
        assert!(ok, "{err}");
    }
    // Same structures and targets in the same order: the same weights, bit for bit.
    assert_eq!(
        tensor_bytes(&from_folder.join("model.safetensors")),
        tensor_bytes(&from_table.join("model.safetensors"))
    );
}
