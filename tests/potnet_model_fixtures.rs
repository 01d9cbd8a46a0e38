//! The PotNet network against the original implementation (`fixtures/potnet_outputs.json`:
//! random weights, eval mode, PyTorch float32): inputs, every intermediate activation of the
//! first structure, and the predictions of all 25 structures — from the reference's own
//! inputs and end to end from the structures (our graph and potnet-mode lattice sums).
//! Also the model file's error handling.
//!
//! Tolerance: 1e-5 relative to the magnitudes involved. The reference is float32 and we sum in
//! a different order (per-node split of the first message layer, merged duplicate edges), so
//! every value carries f32 rounding of order 1e-7 of the magnitudes summed into it. For
//! tensors the scale is the largest |value| of the tensor. For a prediction it is
//! Σ_k |w_k fc_k| + |b| of the output layer: predictions are sums with cancellation (the
//! fixture's own float32 prediction of wurtzite ZnO, -0.0214935, is 1.1e-5 relative away from
//! its float64 rerun), so relative to the value itself 1e-5 is below float32 noise.

mod common;

use std::collections::HashMap;

use candle_core::Tensor;
use common::{fixture, floats, indices, structure};
use crystalpot::model::potnet::config::{ModelMeta, METADATA_KEY};
use crystalpot::model::potnet::features::{Batch, CrystalInput};
use crystalpot::model::potnet::import::{import_original, ImportOptions};
use crystalpot::model::potnet::PotnetModel;
use crystalpot::model::Request;
use crystalpot::{Calculator, Structure};
use serde_json::Value;

const TOLERANCE: f64 = 1e-5;

fn fixture_bytes(name: &str) -> Vec<u8> {
    std::fs::read(common::data_dir().join("fixtures").join(name)).expect("fixture readable")
}

/// The fixture model imported as `crystalpot import-potnet` does.
fn model() -> PotnetModel {
    let config = std::fs::read_to_string(common::data_dir().join("fixtures/potnet_config.json"))
        .expect("config readable");
    import_original(
        &fixture_bytes("potnet_model.safetensors"),
        &config,
        &ImportOptions::default(),
    )
    .expect("fixture model imports")
}

/// The structures of `lattice_sums.json`.
fn fixture_structures(sums: &Value) -> Vec<Structure> {
    sums["structures"]
        .as_array()
        .unwrap()
        .iter()
        .map(structure)
        .collect()
}

fn f32s(v: &Value) -> Vec<f32> {
    floats(v).into_iter().map(|x| x as f32).collect()
}

fn rows_f32(v: &Value) -> Vec<f32> {
    v.as_array().expect("array").iter().flat_map(f32s).collect()
}

/// The reference's model inputs of one structure.
fn reference_input(out: &Value, potentials: &[f64; 3]) -> CrystalInput {
    let edges = &out["local_edges"];
    let idx = |v: &Value| indices(v).into_iter().map(|k| k as u32).collect();
    let attr: Vec<[f32; 3]> = out["inf_edge_attr_f32"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let a = f32s(r);
            [a[0], a[1], a[2]]
        })
        .collect();
    CrystalInput::from_parts(
        indices(&out["species"]).iter().map(|&z| z as u8).collect(),
        idx(&edges["u"]),
        idx(&edges["v"]),
        f32s(&edges["distance_f32"]),
        &attr,
        potentials,
    )
    .expect("reference input")
}

/// max |ours - reference| / max |reference|.
fn relative_deviation(ours: &[f32], reference: &[f32]) -> f64 {
    assert_eq!(ours.len(), reference.len(), "tensor sizes");
    let scale = reference
        .iter()
        .fold(0.0f64, |m, &x| m.max(f64::from(x).abs()));
    let worst = ours
        .iter()
        .zip(reference)
        .map(|(&a, &b)| (f64::from(a) - f64::from(b)).abs())
        .fold(0.0, f64::max);
    worst / scale
}

fn flat(t: &Tensor) -> Vec<f32> {
    t.flatten_all().unwrap().to_vec1().unwrap()
}

/// Prediction and Σ_k |w_k fc_k| + |b| of the output layer, for one crystal.
fn prediction_and_scale(m: &PotnetModel, input: &CrystalInput) -> (f64, f64) {
    let (local, inf) = m.network().rbfs();
    let batch = Batch::new(std::slice::from_ref(input), local, inf).unwrap();
    let (y, trace) = m.network().forward_traced(&batch).unwrap();
    let w = flat(&m.tensors()["fc_out.weight"]);
    let b = flat(&m.tensors()["fc_out.bias"])[0];
    let scale = flat(&trace.fc)
        .iter()
        .zip(&w)
        .map(|(f, w)| f64::from(f * w).abs())
        .sum::<f64>()
        + f64::from(b).abs();
    (f64::from(flat(&y)[0]), scale)
}

/// Checks a prediction against the reference's float32 and float64 values; returns the
/// deviation from the float32 one relative to `scale`.
fn check_prediction(id: &str, ours: f64, scale: f64, out: &Value) -> f64 {
    let reference = out["prediction"].as_f64().unwrap();
    let exact = out["prediction_float64_model"].as_f64().unwrap();
    let dev = (ours - reference).abs() / scale;
    println!(
        "{id:36} {ours:>12.8} reference {reference:>12.8} (float64 {exact:>12.8})  \
         |ours - ref| {:.1e}  |ours - f64| {:.1e}  scale {scale:.2}  rel {dev:.1e}",
        (ours - reference).abs(),
        (ours - exact).abs()
    );
    assert!(dev <= TOLERANCE, "{id}: {ours} vs {reference}");
    assert!(
        (ours - exact).abs() <= TOLERANCE * scale,
        "{id}: {ours} vs float64 {exact}"
    );
    dev
}

#[test]
fn rbf_widths_match_the_reference_constants() {
    let config = fixture("potnet_config.json");
    let m = model();
    let (local, inf) = m.network().rbfs();
    let derived = &config["derived_constants"];
    assert_eq!(
        local.gamma,
        derived["edge_rbf"]["gamma_f32"].as_f64().unwrap() as f32
    );
    assert_eq!(
        inf.gamma,
        derived["inf_edge_rbf"]["gamma_f32"].as_f64().unwrap() as f32
    );
}

#[test]
fn shipped_cgcnn_table_is_the_reference_table() {
    let table = fixture("atom_features_cgcnn.json");
    for (z, row) in table["features"].as_object().unwrap() {
        let z: u8 = z.parse().unwrap();
        let ours = crystalpot::model::potnet::features::cgcnn_features(z).unwrap();
        assert_eq!(ours.as_slice(), f32s(row).as_slice(), "Z = {z}");
    }
}

#[test]
fn intermediates_of_the_first_structure_match() {
    let outputs = fixture("potnet_outputs.json");
    let out = &outputs["structures"][0];
    let m = model();
    let input = reference_input(out, &m.meta().architecture.potentials);
    assert_eq!(
        input.inf_feature,
        f32s(&out["inf_feat_f32"]),
        "infinite-edge scalar, summed in the reference's order"
    );
    let (local, inf) = m.network().rbfs();
    let batch = Batch::new(std::slice::from_ref(&input), local, inf).unwrap();
    let x_ref = rows_f32(&out["x_cgcnn"]);
    assert_eq!(batch.x, x_ref, "CGCNN node features");

    let (y, trace) = m.network().forward_traced(&batch).unwrap();
    let inter = &out["intermediates"];
    let mut compared: Vec<(&str, &Tensor)> = vec![
        ("local_edge_features", &trace.local_edge_features),
        ("inf_edge_features", &trace.inf_edge_features),
        ("node_embedding", &trace.node_embedding),
        ("pooled", &trace.pooled),
        ("fc", &trace.fc),
    ];
    let names = ["conv0", "conv1", "conv2"];
    compared.extend(names.iter().copied().zip(&trace.convs));
    assert_eq!(trace.convs.len(), 3);
    for (name, tensor) in compared {
        let reference = match &inter[name] {
            Value::Array(a) if a.first().is_some_and(Value::is_array) => rows_f32(&inter[name]),
            v => f32s(v),
        };
        let dev = relative_deviation(&flat(tensor), &reference);
        println!("{name:20} max deviation / max |value| = {dev:.2e}");
        assert!(dev <= TOLERANCE, "{name}: relative deviation {dev:e}");
    }
    let (p, scale) = prediction_and_scale(&m, &input);
    assert_eq!(p, f64::from(flat(&y)[0]));
    check_prediction("wurtzite_ZnO", p, scale, out);
}

/// Predictions of all structures from the reference inputs, one at a time and as one batch.
#[test]
fn predictions_from_reference_inputs_match() {
    let outputs = fixture("potnet_outputs.json");
    let m = model();
    let structures = outputs["structures"].as_array().unwrap();
    let inputs: Vec<CrystalInput> = structures
        .iter()
        .map(|o| reference_input(o, &m.meta().architecture.potentials))
        .collect();
    let batched = m.predict_inputs(&inputs).unwrap();
    let mut worst = 0.0f64;
    for ((out, input), batched) in structures.iter().zip(&inputs).zip(&batched) {
        let (single, scale) = prediction_and_scale(&m, input);
        let dev = check_prediction(out["id"].as_str().unwrap(), single, scale, out);
        worst = worst.max(dev);
        assert!(
            (batched[0] - single).abs() <= TOLERANCE * scale,
            "batched vs single"
        );
    }
    println!("worst relative deviation {worst:.2e}");
}

/// End to end: our local graph and potnet-mode lattice sums, then the network.
#[test]
fn predictions_from_structures_match() {
    let sums = fixture("lattice_sums.json");
    let outputs = fixture("potnet_outputs.json");
    let m = model();
    let structures = fixture_structures(&sums);
    let inputs = m.inputs(&structures).unwrap();
    let predictions = m.predict(&structures).unwrap();
    let mut worst = 0.0f64;
    for ((out, input), p) in outputs["structures"]
        .as_array()
        .unwrap()
        .iter()
        .zip(&inputs)
        .zip(&predictions)
    {
        let id = out["id"].as_str().unwrap();
        let reference = reference_input(out, &m.meta().architecture.potentials);
        assert_eq!(input.local_src, reference.local_src, "{id}: edge sources");
        assert_eq!(input.local_dst, reference.local_dst, "{id}: edge targets");
        assert_eq!(
            input.local_length, reference.local_length,
            "{id}: f32 lengths"
        );
        let s_dev = relative_deviation(&input.inf_feature, &reference.inf_feature);
        println!("{id:36} infinite-edge scalar: max deviation / max |value| {s_dev:.1e}");
        let (single, scale) = prediction_and_scale(&m, input);
        // predict() ran all structures as one batch: other rounding, same values.
        assert!(
            (single - p[0]).abs() <= TOLERANCE * scale,
            "{id}: batched vs single"
        );
        worst = worst.max(check_prediction(id, p[0], scale, out));
    }
    println!("worst relative deviation {worst:.2e}");
}

#[test]
fn inference_is_deterministic() {
    let sums = fixture("lattice_sums.json");
    let m = model();
    let structures = fixture_structures(&sums);
    let bits = |p: Vec<Vec<f64>>| -> Vec<u64> { p.iter().flatten().map(|x| x.to_bits()).collect() };
    assert_eq!(
        bits(m.predict(&structures).unwrap()),
        bits(m.predict(&structures).unwrap())
    );
}

#[test]
fn model_file_round_trips_and_the_calculator_uses_it() {
    let m = model();
    let bytes = m.to_bytes().unwrap();
    let calc = Calculator::from_bytes(&bytes).unwrap();
    let info = calc.info();
    assert_eq!(info.kind, "potnet");
    assert!(!info.energy);
    assert_eq!(info.targets.len(), 1);
    assert_eq!(info.cutoff, Some(4.0));
    // Same weights bit for bit.
    let again = PotnetModel::from_bytes(&bytes).unwrap();
    for (name, t) in m.tensors() {
        let u = &again.tensors()[name];
        assert_eq!(t.dtype(), u.dtype(), "{name}");
        assert_eq!(
            t.flatten_all()
                .unwrap()
                .to_dtype(candle_core::DType::F64)
                .unwrap()
                .to_vec1::<f64>()
                .unwrap(),
            u.flatten_all()
                .unwrap()
                .to_dtype(candle_core::DType::F64)
                .unwrap()
                .to_vec1::<f64>()
                .unwrap(),
            "{name}"
        );
    }
    let sums = fixture("lattice_sums.json");
    let outputs = fixture("potnet_outputs.json");
    let s = structure(&sums["structures"][1]);
    let request = Request {
        properties: true,
        ..Request::default()
    };
    let r = calc.compute(&s, &request).unwrap();
    let p = r.properties.unwrap()[0];
    let single = m.predict(std::slice::from_ref(&s)).unwrap()[0][0];
    assert_eq!(p, single, "the calculator predicts what the model does");
    let expected = outputs["structures"][1]["prediction"].as_f64().unwrap();
    assert!(
        (p - expected).abs() <= 1e-4 * expected.abs(),
        "{p} vs {expected}"
    );
    let err = calc.compute(&s, &Request::all()).unwrap_err().to_string();
    assert!(err.contains("property model"), "{err}");
}

/// Model-file bytes with `meta` and the fixture weights, after `edit` of the tensors.
fn model_bytes(edit: impl FnOnce(&mut HashMap<String, Tensor>), meta: &ModelMeta) -> Vec<u8> {
    let m = model();
    let mut tensors = m.tensors().clone();
    edit(&mut tensors);
    let info = HashMap::from([(
        METADATA_KEY.to_string(),
        serde_json::to_string(meta).unwrap(),
    )]);
    safetensors::serialize(tensors.iter().collect::<Vec<_>>(), Some(info)).unwrap()
}

fn load_error(bytes: &[u8]) -> String {
    match Calculator::from_bytes(bytes) {
        Ok(_) => panic!("a broken model file loaded"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn broken_model_files_give_clear_errors() {
    let m = model();
    let meta = m.meta().clone();
    let good = m.to_bytes().unwrap();

    let err = load_error(&good[..good.len() - 100]);
    assert!(err.contains("truncated or corrupt"), "{err}");
    let err = load_error(&good[..20]);
    assert!(
        err.contains("truncated or corrupt") || err.contains("not a crystalpot model"),
        "{err}"
    );

    let err = load_error(&fixture_bytes("potnet_model.safetensors"));
    assert!(err.contains("import-potnet"), "bare state dict: {err}");

    let err = load_error(&model_bytes(
        |t| {
            t.remove("conv_layers.1.nonlinear.2.weight");
        },
        &meta,
    ));
    assert!(
        err.contains("missing tensor conv_layers.1.nonlinear.2.weight"),
        "{err}"
    );

    let err = load_error(&model_bytes(
        |t| {
            t.insert(
                "fc.0.bias".into(),
                Tensor::zeros(255, candle_core::DType::F32, &candle_core::Device::Cpu).unwrap(),
            );
        },
        &meta,
    ));
    assert!(
        err.contains("fc.0.bias") && err.contains("shape [255]"),
        "{err}"
    );

    let err = load_error(&model_bytes(
        |t| {
            let w = t["fc_out.bias"].to_dtype(candle_core::DType::F64).unwrap();
            t.insert("fc_out.bias".into(), w);
        },
        &meta,
    ));
    assert!(
        err.contains("fc_out.bias") && err.contains("dtype"),
        "{err}"
    );

    let mut wrong_layers = meta.clone();
    wrong_layers.architecture.conv_layers = 2;
    let err = load_error(&model_bytes(|_| {}, &wrong_layers));
    assert!(
        err.contains("unexpected tensors") && err.contains("conv_layers.2"),
        "{err}"
    );

    let mut future = serde_json::to_value(&meta).unwrap();
    future["format_version"] = 99.into();
    let info = HashMap::from([(METADATA_KEY.to_string(), future.to_string())]);
    let bytes = safetensors::serialize(m.tensors().iter().collect::<Vec<_>>(), Some(info)).unwrap();
    let err = load_error(&bytes);
    assert!(err.contains("unsupported model format version 99"), "{err}");
}

#[test]
fn elements_outside_the_training_set_are_refused() {
    let config =
        std::fs::read_to_string(common::data_dir().join("fixtures/potnet_config.json")).unwrap();
    let opts = ImportOptions {
        elements: Some(vec!["Na".into(), "Cl".into()]),
        ..ImportOptions::default()
    };
    let m = import_original(&fixture_bytes("potnet_model.safetensors"), &config, &opts).unwrap();
    let sums = fixture("lattice_sums.json");
    let nacl = structure(&sums["structures"][1]);
    assert!(m.predict(std::slice::from_ref(&nacl)).is_ok());
    let zno = structure(&sums["structures"][0]);
    let err = m.predict(&[nacl, zno]).unwrap_err().to_string();
    assert!(
        err.contains("Zn") && err.contains("not trained on"),
        "{err}"
    );
}

/// `import-potnet` then `predict --json` through the command-line tool.
#[test]
fn cli_imports_and_predicts() {
    let exe = env!("CARGO_BIN_EXE_crystalpot");
    let dir = common::data_dir().join("fixtures");
    let out =
        std::env::temp_dir().join(format!("crystalpot-cli-{}.safetensors", std::process::id()));
    let status = std::process::Command::new(exe)
        .args([
            "import-potnet",
            "--target",
            "formation_energy",
            "--unit",
            "eV/atom",
            "--weights",
        ])
        .arg(dir.join("potnet_model.safetensors"))
        .arg("--config")
        .arg(dir.join("potnet_config.json"))
        .arg("--out")
        .arg(&out)
        .status()
        .expect("crystalpot runs");
    assert!(status.success());
    let cif = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/NaCl.cif");
    let run = std::process::Command::new(exe)
        .args(["predict", "--json", "--model"])
        .arg(&out)
        .args([cif, cif])
        .output()
        .expect("crystalpot runs");
    std::fs::remove_file(&out).ok();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let text = String::from_utf8(run.stdout).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "one JSON object per structure");
    let expected = model()
        .predict(&crystalpot::io::read_structures(cif).unwrap())
        .unwrap()[0][0];
    for l in &lines {
        assert_eq!(l["model"], "potnet");
        assert_eq!(l["predictions"]["formation_energy"]["unit"], "eV/atom");
        let v = l["predictions"]["formation_energy"]["value"]
            .as_f64()
            .unwrap();
        assert!(
            (v - expected).abs() <= 1e-6 * expected.abs(),
            "{v} vs {expected}"
        );
    }
}
