//! The `crystalpot` binary end to end: JSON shapes, agreement with the library, error exits.

use std::process::Command;

use serde_json::Value;

fn crystalpot(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_crystalpot"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the crystalpot binary runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn potentials_json_has_every_matrix_with_its_bound() {
    let (ok, stdout, stderr) = crystalpot(&[
        "potentials",
        "tests/data/NaCl.cif",
        "--json",
        "--tol",
        "1e-11",
    ]);
    assert!(ok, "{stderr}");
    let v: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["structure"]["formula"], "Na4Cl4");
    for kind in ["coulomb", "london", "pauli"] {
        let m = v[kind]["matrix"].as_array().unwrap();
        assert_eq!(m.len(), 8);
        assert!(m.iter().all(|row| row.as_array().unwrap().len() == 8));
        let bound = v[kind]["error_bound"].as_f64().unwrap();
        assert!(bound > 0.0 && bound <= 1e-11, "{kind}: {bound}");
    }
    // Madelung energy from the printed Coulomb matrix: E = ½ Σ q_i q_j S_ij.
    let q = [1.0, 1.0, 1.0, 1.0, -1.0, -1.0, -1.0, -1.0];
    let m = v["coulomb"]["matrix"].as_array().unwrap();
    let mut e = 0.0;
    for (i, row) in m.iter().enumerate() {
        for (j, x) in row.as_array().unwrap().iter().enumerate() {
            e += 0.5 * q[i] * q[j] * x.as_f64().unwrap();
        }
    }
    let madelung = -(e / 4.0) * 2.82;
    assert!(
        (madelung / 1.747564594633182 - 1.0).abs() < 1e-10,
        "{madelung}"
    );
}

#[test]
fn screened_coulomb_is_added_on_request() {
    let (ok, stdout, stderr) = crystalpot(&[
        "potentials",
        "tests/data/NaCl.cif",
        "--json",
        "--screened",
        "0.02",
    ]);
    assert!(ok, "{stderr}");
    let v: Value = serde_json::from_str(&stdout).unwrap();
    let screened = &v["screened_coulomb"];
    assert_eq!(screened["kappa"], 0.02);
    let bound = screened["error_bound"].as_f64().unwrap();
    assert!(bound > 0.0 && bound <= 1e-10, "{bound}");
    // Small κ: S_Y − 4π/(Vκ²) − κ δ_ij = S_C + O(κ²) (the library test bounds the O(κ²)
    // by κ² (4π/V) Σ'|G|⁻⁴ = 3.0e-4 here; 1e-3 leaves room and still sees a missing
    // κ δ_ij = 0.02).
    let volume = 5.64f64.powi(3);
    let background = 4.0 * std::f64::consts::PI / (volume * 0.02 * 0.02);
    let rows = |kind: &str| -> Vec<Vec<f64>> {
        v[kind]["matrix"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                r.as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_f64().unwrap())
                    .collect()
            })
            .collect()
    };
    let (yukawa, coulomb) = (rows("screened_coulomb"), rows("coulomb"));
    for i in 0..8 {
        for j in 0..8 {
            let diagonal = if i == j { 0.02 } else { 0.0 };
            let d = yukawa[i][j] - background - diagonal - coulomb[i][j];
            assert!(d.abs() < 1e-3, "({i},{j}): {d}");
        }
    }
    // Not asked for: the default output is unchanged.
    let (_, stdout, _) = crystalpot(&["potentials", "tests/data/NaCl.cif", "--json"]);
    let v: Value = serde_json::from_str(&stdout).unwrap();
    assert!(v.get("screened_coulomb").is_none());
    // Bad κ and the potnet mode are clear errors.
    let (ok, _, stderr) = crystalpot(&["potentials", "tests/data/NaCl.cif", "--screened", "0"]);
    assert!(!ok && stderr.contains("kappa"), "{stderr}");
    let (ok, _, stderr) = crystalpot(&[
        "potentials",
        "tests/data/NaCl.cif",
        "--screened",
        "1",
        "--mode",
        "potnet",
    ]);
    assert!(!ok && stderr.contains("--screened"), "{stderr}");
}

#[test]
fn potnet_mode_has_no_bound() {
    let (ok, stdout, stderr) = crystalpot(&[
        "potentials",
        "tests/data/NaCl.cif",
        "--mode",
        "potnet",
        "--json",
    ]);
    assert!(ok, "{stderr}");
    let v: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["mode"], "potnet");
    assert!(v["coulomb"]["error_bound"].is_null());
}

#[test]
fn energy_json_reports_energy_forces_and_stress() {
    let (ok, stdout, stderr) = crystalpot(&[
        "energy",
        "--model",
        "models/nacl-rigid-ion.json",
        "tests/data/NaCl.cif",
        "--json",
    ]);
    assert!(ok, "{stderr}");
    let v: Value = serde_json::from_str(&stdout).unwrap();
    let energy = v["energy"].as_f64().unwrap();
    assert!((-33.0..-31.0).contains(&energy), "{energy}");
    assert_eq!(v["forces"].as_array().unwrap().len(), 8);
    assert_eq!(v["stress"].as_array().unwrap().len(), 3);
    assert_eq!(v["units"]["stress"], "eV/Å^3");
}

#[test]
fn bad_input_exits_non_zero_with_a_message() {
    let (ok, _, stderr) = crystalpot(&[
        "energy",
        "--model",
        "models/missing.json",
        "tests/data/NaCl.cif",
    ]);
    assert!(!ok);
    assert!(stderr.contains("models/missing.json"), "{stderr}");
    let (ok, _, stderr) = crystalpot(&["potentials", "Cargo.toml"]);
    assert!(!ok);
    assert!(stderr.starts_with("error: "), "{stderr}");
    let (ok, _, stderr) = crystalpot(&["potentials", "tests/data/NaCl.cif", "--tol=-1"]);
    assert!(!ok);
    assert!(stderr.contains("tol"), "{stderr}");
}

#[test]
fn evaluate_scores_an_energy_model_as_the_library_computes_it() {
    let data = std::env::var_os("CRYSTALPOT_DATA")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data")
        });
    let frames = crystalpot::io::extxyz::read_extxyz(data.join("mlearn/Si_train.xyz")).unwrap();
    let frames = &frames[..3];
    let path = std::env::temp_dir().join(format!("crystalpot-eval-{}.xyz", std::process::id()));
    crystalpot::io::extxyz::write_extxyz(&path, frames).unwrap();
    let (ok, stdout, stderr) = crystalpot(&[
        "evaluate",
        "--model",
        "models/linear-mlearn-Si.safetensors",
        "--data",
        path.to_str().unwrap(),
        "--json",
    ]);
    assert!(ok, "{stderr}");
    let v: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["n"], 3);
    let calc = crystalpot::Calculator::from_file(std::path::Path::new(
        "models/linear-mlearn-Si.safetensors",
    ))
    .unwrap();
    let mae = frames
        .iter()
        .map(|f| {
            let r = calc.compute(&f.structure, &Default::default()).unwrap();
            (r.energy - f.energy.unwrap()).abs() / f.structure.len() as f64
        })
        .sum::<f64>()
        / 3.0
        * 1e3;
    let printed = v["energy_mae_mev_per_atom"].as_f64().unwrap();
    assert!(
        (printed - mae).abs() < 1e-9 * mae.max(1.0),
        "{printed} vs {mae}"
    );
    for key in [
        "energy_rmse_mev_per_atom",
        "force_mae",
        "force_rmse",
        "stress_mae_gpa",
    ] {
        assert!(
            v[key].as_f64().is_some_and(|x| x >= 0.0),
            "{key}: {}",
            v[key]
        );
    }
}

/// A temporary file holding `text`, removed when dropped.
struct TempFile(std::path::PathBuf);

impl TempFile {
    fn new(name: &str, bytes: &[u8]) -> Self {
        let path =
            std::env::temp_dir().join(format!("crystalpot-cli-{}-{name}", std::process::id()));
        std::fs::write(&path, bytes).unwrap();
        TempFile(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A POSCAR of a cubic cell of edge `a` with Na at the origin and Cl at `(x, 0, 0)` Å.
fn na_cl_pair(a: f64, x: f64) -> String {
    format!("NaCl pair\n1.0\n{a} 0 0\n0 {a} 0\n0 0 {a}\nNa Cl\n1 1\nCartesian\n0 0 0\n{x} 0 0\n")
}

#[test]
fn a_close_approach_is_computed_with_the_bound_reached() {
    // Before the fix: "tolerance cannot be reached: requested 1.99e-13 per unit weight…".
    let cell = TempFile::new("close.vasp", na_cl_pair(12.0, 0.6).as_bytes());
    let (ok, stdout, stderr) = crystalpot(&[
        "energy",
        "--model",
        "models/nacl-rigid-ion.json",
        cell.path(),
        "--json",
    ]);
    assert!(ok, "{stderr}");
    let v: Value = serde_json::from_str(&stdout).unwrap();
    let energy = v["energy"].as_f64().unwrap();
    // Dominated by the Na–Cl Born–Mayer wall A e^{-r/ρ} and the Coulomb attraction.
    let wall = 1170.84 * (-0.6f64 / 0.316).exp() - 14.39964547842567 / 0.6;
    assert!((energy - wall).abs() < 3.0, "{energy} vs about {wall}");
    assert!(v["energy_error_bound"].as_f64().unwrap() < 1e-6 * energy.abs());
}

#[test]
fn a_pair_closer_than_the_minimum_distance_is_named_once() {
    let cell = TempFile::new("overlap.vasp", na_cl_pair(6.0, 0.1).as_bytes());
    let (ok, _, stderr) = crystalpot(&[
        "energy",
        "--model",
        "models/nacl-rigid-ion.json",
        cell.path(),
    ]);
    assert!(!ok);
    assert!(
        stderr.contains("atoms 0 (Na) and 1 (Cl) are 0.1000 Å apart"),
        "{stderr}"
    );
    assert_eq!(stderr.matches("invalid structure").count(), 1, "{stderr}");
}

#[test]
fn huge_charges_exit_non_zero_with_a_message() {
    // Before the fix: exit 0 and "energy": null.
    let model = TempFile::new(
        "huge.json",
        br#"{"kind": "rigid-ion", "charges": {"Na": 1e200, "Cl": -1e200}}"#,
    );
    let (ok, stdout, stderr) = crystalpot(&[
        "energy",
        "--model",
        model.path(),
        "tests/data/NaCl.cif",
        "--json",
    ]);
    assert!(!ok, "{stdout}");
    assert!(stderr.contains("non-finite result"), "{stderr}");
}

#[test]
fn a_charged_cell_says_so() {
    let model = TempFile::new(
        "na.json",
        br#"{"kind": "rigid-ion", "charges": {"Na": 1, "Cl": -1}}"#,
    );
    let cell = TempFile::new(
        "na.vasp",
        b"Na\n1.0\n4 0 0\n0 4 0\n0 0 4\nNa\n1\nDirect\n0 0 0\n",
    );
    let (ok, stdout, stderr) =
        crystalpot(&["energy", "--model", model.path(), cell.path(), "--json"]);
    assert!(ok, "{stderr}");
    let v: Value = serde_json::from_str(&stdout).unwrap();
    let warnings = v["warnings"].as_array().unwrap();
    assert!(
        warnings[0]
            .as_str()
            .unwrap()
            .contains("neutralising background"),
        "{warnings:?}"
    );
    let negative = TempFile::new(
        "neg.json",
        br#"{"kind": "rigid-ion", "coulomb_constant": -14.4, "charges": {"Na": 1}}"#,
    );
    let (ok, _, stderr) = crystalpot(&["energy", "--model", negative.path(), cell.path()]);
    assert!(
        !ok && stderr.contains("coulomb_constant must be > 0"),
        "{stderr}"
    );
}

#[test]
fn a_nearly_singular_cell_is_called_singular() {
    // Before the fix: "cutoff 0.0019 Å needs too many periodic images…".
    let cell = TempFile::new(
        "flat.vasp",
        b"flat\n1.0\n5 0 0\n0 5 0\n0 0 0.00001\nNa Cl\n1 1\nDirect\n0 0 0\n0.5 0.5 0.5\n",
    );
    for command in ["energy", "potentials"] {
        let mut args = vec![command];
        if command == "energy" {
            args.extend(["--model", "models/nacl-rigid-ion.json"]);
        }
        args.push(cell.path());
        let (ok, _, stderr) = crystalpot(&args);
        assert!(!ok);
        assert!(stderr.contains("singular"), "{command}: {stderr}");
    }
}

#[test]
fn a_huge_buckingham_range_is_named() {
    let model = TempFile::new(
        "rho.json",
        br#"{"kind": "rigid-ion", "charges": {"Na": 1, "Cl": -1}, "pairs": [{"elements": ["Na", "Cl"], "A": 1000, "rho": 1000}]}"#,
    );
    let (ok, _, stderr) = crystalpot(&["energy", "--model", model.path(), "tests/data/NaCl.cif"]);
    assert!(!ok);
    assert!(stderr.contains("rho = 1000 Å"), "{stderr}");
    assert!(stderr.len() < 600, "{stderr}");
}

#[test]
fn an_unreachable_tolerance_is_explained_without_debug_text() {
    let (ok, _, stderr) = crystalpot(&["potentials", "tests/data/NaCl.cif", "--tol", "1e-18"]);
    assert!(!ok);
    assert!(stderr.contains("tolerance"), "{stderr}");
    assert!(
        !stderr.contains("Absolute(") && !stderr.contains("InversePower("),
        "{stderr}"
    );
}

#[test]
fn lammps_input_prints_kspace_and_charges_only_where_the_model_needs_them() {
    let (ok, stdout, stderr) =
        crystalpot(&["lammps-input", "models/nacl-rigid-ion.json", "Na", "Cl"]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("pair_coeff * * Na Cl"), "{stdout}");
    assert!(stdout.contains("kspace_style pppm/disp"), "{stdout}");
    assert!(stdout.contains("set type 1 charge 1.0") && stdout.contains("set type 2 charge -1.0"));
    // The Si linear model is purely local (its dispersion column was dropped in the fit).
    let (ok, stdout, stderr) =
        crystalpot(&["lammps-input", "models/linear-mlearn-Si.safetensors", "Si"]);
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("pair_style crystalpot") && !stdout.contains("kspace"),
        "{stdout}"
    );
    let (ok, _, stderr) =
        crystalpot(&["lammps-input", "models/linear-mlearn-Si.safetensors", "Mo"]);
    assert!(
        !ok && stderr.contains("\"Mo\" is not in the model"),
        "{stderr}"
    );
}

#[test]
fn models_lists_model_files_with_kind_elements_and_validation_errors() {
    let (ok, stdout, stderr) = crystalpot(&["models"]);
    assert!(ok, "{stderr}");
    let si = stdout
        .lines()
        .find(|l| l.starts_with("linear-mlearn-Si.safetensors"))
        .unwrap_or_else(|| panic!("no Si line in {stdout}"));
    assert!(
        si.contains(" linear ") && si.contains(" Si ") && si.contains("meV/atom"),
        "{si}"
    );
    // Cards, logs and plots beside the models are not models.
    assert!(
        !stdout.contains("README") && !stdout.contains(".png") && !stdout.contains(".csv"),
        "{stdout}"
    );
    let (ok, stdout, stderr) = crystalpot(&["models", "--json"]);
    assert!(ok, "{stderr}");
    let entries: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let potnet = entries
        .iter()
        .find(|e| e["file"] == "potnet.safetensors")
        .expect("the default PotNet model is listed");
    assert_eq!(potnet["kind"], "potnet");
    assert!(potnet["validation"]["mae"].as_f64().unwrap() > 0.0);
    // An empty folder is an error that says so.
    let empty = std::env::temp_dir().join(format!("crystalpot-models-{}", std::process::id()));
    std::fs::create_dir_all(&empty).unwrap();
    let (ok, _, stderr) = crystalpot(&["models", empty.to_str().unwrap()]);
    std::fs::remove_dir_all(&empty).unwrap();
    assert!(!ok && stderr.contains("no model files"), "{stderr}");
}
