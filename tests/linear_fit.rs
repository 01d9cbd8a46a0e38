//! `crystalpot fit` end to end on real DFT data: a small ACE basis fitted to part of the
//! mlearn Li set must predict its own validation frames far better than the spread of the
//! data, load through the calculator, and give a committee standard deviation; a network
//! trained on its residual (`train-energy --baseline`) gives a combined model that loads too.

mod common;

use std::process::Command;

use crystalpot::calculator::Calculator;
use crystalpot::model::Request;

#[test]
fn a_small_fit_on_lithium_predicts_held_out_frames() {
    let data = common::data_dir().join("mlearn/Li_train.xyz");
    let out =
        std::env::temp_dir().join(format!("crystalpot-fit-{}.safetensors", std::process::id()));
    let run = Command::new(env!("CARGO_BIN_EXE_crystalpot"))
        .args(["fit", "--data"])
        .arg(&data)
        .arg("--out")
        .arg(&out)
        .args([
            "--n-max",
            "6",
            "--l-max",
            "3",
            "--degrees",
            "6,6,4,2",
            "--committee",
            "4",
        ])
        .output()
        .expect("crystalpot runs");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&run.stdout).expect("JSON report");
    assert!(report["basis_size"].as_u64().unwrap() > 50, "{report}");
    let val = &report["validation"];
    // The data's energies spread over ~1 eV/atom; a working fit is at the meV/atom level.
    assert!(
        val["energy_mae_mev_per_atom"].as_f64().unwrap() < 5.0,
        "{report}"
    );
    assert!(val["force_mae"].as_f64().unwrap() < 0.05, "{report}");
    let calc = Calculator::from_file(&out).unwrap();
    assert_eq!(calc.info().kind, "linear");
    let frame = crystalpot::io::read_structures(&data).unwrap().remove(0);
    let r = calc
        .compute(
            &frame,
            &Request {
                uncertainty: true,
                ..Request::all()
            },
        )
        .unwrap();
    assert!(r.energy_std.unwrap() > 0.0 && r.energy_std.unwrap() < 0.1 * frame.len() as f64);
    residual_network_on_top(&data, &out, &calc, &frame, r.energy);
    std::fs::remove_file(&out).ok();
}

/// One epoch of a small network on the residual of the linear model at `baseline`: the file is
/// a delta model that computes (its energy differs from the baseline's by the correction), and
/// a baseline that is no linear model is refused by name.
fn residual_network_on_top(
    data: &std::path::Path,
    baseline: &std::path::Path,
    linear: &Calculator,
    frame: &crystalpot::Structure,
    linear_energy: f64,
) {
    let dir = std::env::temp_dir().join(format!("crystalpot-delta-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("delta.safetensors");
    let train = |baseline: &std::path::Path| {
        Command::new(env!("CARGO_BIN_EXE_crystalpot"))
            .args(["train-energy", "--data"])
            .arg(data)
            .arg("--out")
            .arg(&out)
            .arg("--baseline")
            .arg(baseline)
            .args([
                "--epochs",
                "1",
                "--width",
                "8",
                "--layers",
                "1",
                "--threads",
                "1",
            ])
            .output()
            .expect("crystalpot runs")
    };
    let run = train(baseline);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let calc = Calculator::from_file(&out).unwrap();
    assert_eq!(calc.info().kind, "delta");
    assert_eq!(calc.info().elements, linear.info().elements);
    let r = calc.compute(frame, &Request::all()).unwrap();
    let correction = r.energy - linear_energy;
    assert!(correction.abs() > 0.0 && correction.abs() < 0.1 * frame.len() as f64);
    let refused = train(&out);
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("not a linear model file"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}
