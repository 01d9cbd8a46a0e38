//! `crystalpot fit` end to end on real DFT data: a small ACE basis fitted to part of the
//! mlearn Li set must predict its own validation frames far better than the spread of the
//! data, load through the calculator, and give a committee standard deviation.

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
    std::fs::remove_file(&out).ok();
}
