//! A PotNet model trained by crystalpot predicts the same value (≤ 1e-6 per cell) for the same
//! crystal whatever its origin, atom order, cell vectors or 1e-9 Å of noise, through the
//! library, the CLI and the C ABI (the ASE front end: ase-calculator/tests/test_potnet_invariance.py).
//! The same weights with the published construction (16-nearest-neighbour cut, lattice sums
//! truncated at r_max = 3) fail the check, so the test can tell the two apart.

use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::process::Command;

use crystalpot::c_api::{
    cpot_compute, cpot_model_free, cpot_model_load, cpot_request_t, cpot_results_t, cpot_system_t,
    CPOT_PROPERTIES,
};
use crystalpot::lattice::potnet::{potnet_sums, PotnetSettings};
use crystalpot::model::potnet::config::{
    Architecture, GraphConstruction, LatticeSumMode, ModelMeta, Provenance,
};
use crystalpot::model::potnet::features::CrystalInput;
use crystalpot::model::potnet::PotnetModel;
use crystalpot::train::potnet::{self, PotnetTraining, Trainer};
use crystalpot::{Lattice, Structure, Vec3};

/// The bar of issue 19: the same crystal, the same prediction to 1e-6 eV/cell.
const BAR: f64 = 1e-6;

fn structure(rows: [[f64; 3]; 3], atoms: &[(u8, [f64; 3])]) -> Structure {
    let lattice = Lattice::from_rows(rows).unwrap();
    let m = lattice.matrix();
    let positions = atoms
        .iter()
        .map(|(_, f)| m.tr_mul(&Vec3::from(*f)))
        .collect();
    let numbers = atoms.iter().map(|(z, _)| *z).collect();
    Structure::new(lattice, numbers, positions, [true; 3]).unwrap()
}

fn cubic(a: f64) -> [[f64; 3]; 3] {
    [[a, 0.0, 0.0], [0.0, a, 0.0], [0.0, 0.0, a]]
}

/// Cubic SrTiO3, conventional NaCl, CsCl and wurtzite ZnO: every site has degenerate shells
/// that the 16th neighbour cuts through.
fn crystals() -> Vec<(&'static str, Structure)> {
    let h = 0.5;
    let (a, c, u) = (3.25, 5.207, 0.382);
    let s3 = 3f64.sqrt() / 2.0;
    let mut nacl = Vec::new();
    for f in [[0.0, 0.0, 0.0], [0.0, h, h], [h, 0.0, h], [h, h, 0.0]] {
        nacl.push((11, f));
        nacl.push((17, [(f[0] + h) % 1.0, f[1], f[2]]));
    }
    vec![
        (
            "SrTiO3",
            structure(
                cubic(3.905),
                &[
                    (38, [0.0, 0.0, 0.0]),
                    (22, [h, h, h]),
                    (8, [h, h, 0.0]),
                    (8, [h, 0.0, h]),
                    (8, [0.0, h, h]),
                ],
            ),
        ),
        ("NaCl", structure(cubic(5.64), &nacl)),
        (
            "CsCl",
            structure(cubic(4.12), &[(55, [0.0; 3]), (17, [h, h, h])]),
        ),
        (
            "ZnO wurtzite",
            structure(
                [[a, 0.0, 0.0], [-a / 2.0, a * s3, 0.0], [0.0, 0.0, c]],
                &[
                    (30, [1.0 / 3.0, 2.0 / 3.0, 0.0]),
                    (30, [2.0 / 3.0, 1.0 / 3.0, h]),
                    (8, [1.0 / 3.0, 2.0 / 3.0, u]),
                    (8, [2.0 / 3.0, 1.0 / 3.0, h + u]),
                ],
            ),
        ),
    ]
}

/// The same crystal written differently: the original, a rigid translation (positions left
/// outside the cell), the atoms in reverse order, other cell vectors (a unimodular change of
/// basis, positions wrapped into the new cell) and 1e-9 Å of deterministic noise.
fn variants(s: &Structure) -> Vec<(&'static str, Structure)> {
    let lattice = *s.lattice().matrix();
    let shift = Vec3::new(0.37, -1.21, 2.9);
    let translated: Vec<Vec3> = s.positions().iter().map(|p| p + shift).collect();
    let mut reversed: Vec<(u8, Vec3)> = s
        .numbers()
        .iter()
        .copied()
        .zip(s.positions().iter().copied())
        .collect();
    reversed.reverse();
    // Rows a + b, b, b + c: the same lattice (determinant 1).
    let m = crystalpot::Mat3::new(1.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 1.0);
    let other = Lattice::from_matrix(m * lattice).unwrap();
    let inverse = other.matrix().try_inverse().unwrap();
    let rebased: Vec<Vec3> = s
        .positions()
        .iter()
        .map(|p| {
            let f = inverse.tr_mul(p).map(|x| x - x.floor());
            other.matrix().tr_mul(&f)
        })
        .collect();
    let noisy: Vec<Vec3> = s
        .positions()
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let k = i as f64;
            p + Vec3::new(
                (k * 1.7).sin(),
                (k * 2.3 + 1.0).cos(),
                (k * 0.9 + 2.0).sin(),
            ) * 1e-9
        })
        .collect();
    let with = |l: Lattice, numbers: Vec<u8>, positions: Vec<Vec3>| {
        Structure::new(l, numbers, positions, [true; 3]).unwrap()
    };
    vec![
        ("original", s.clone()),
        (
            "translated",
            with(*s.lattice(), s.numbers().to_vec(), translated),
        ),
        (
            "atoms reversed",
            with(
                *s.lattice(),
                reversed.iter().map(|a| a.0).collect(),
                reversed.iter().map(|a| a.1).collect(),
            ),
        ),
        (
            "other cell vectors",
            with(other, s.numbers().to_vec(), rebased),
        ),
        (
            "1e-9 Å noise",
            with(*s.lattice(), s.numbers().to_vec(), noisy),
        ),
    ]
}

/// A small random-weight model (width 16, seed 3) with crystalpot's construction for new
/// models, and the same weights with the published construction.
fn models() -> (PotnetModel, PotnetModel) {
    let all: Vec<Structure> = crystals().into_iter().map(|c| c.1).collect();
    let refs: Vec<&Structure> = all.iter().collect();
    let meta = potnet::model_meta(
        "invariance test",
        Architecture {
            fc_features: 16,
            output_dim: 16,
            ..Architecture::default()
        },
        potnet::target("heat_all", "eV/cell", true, &[-1.0, 1.0]),
        &refs,
        Provenance::default(),
    )
    .unwrap();
    let settings = PotnetTraining {
        seed: 3,
        ..PotnetTraining::default()
    };
    let new = Trainer::new(meta.clone(), settings)
        .unwrap()
        .model()
        .unwrap();
    let mut old_meta: ModelMeta = meta;
    old_meta.graph.construction = GraphConstruction::Published;
    old_meta.lattice_sums = LatticeSumMode::potnet(&PotnetSettings::default());
    let old = PotnetModel::new(old_meta, new.tensors().clone()).unwrap();
    (new, old)
}

/// Largest difference of each crystal's variants from its original, given predictions of
/// all variants in [`variants`] order.
fn worst(predict: &mut dyn FnMut(&Structure) -> f64) -> (f64, String) {
    let mut worst = (0.0, String::new());
    for (name, crystal) in crystals() {
        let reference = predict(&crystal);
        assert!(reference.is_finite());
        for (how, v) in variants(&crystal) {
            let d = (predict(&v) - reference).abs();
            if d > worst.0 {
                worst = (d, format!("{name}, {how}"));
            }
        }
    }
    worst
}

fn library(model: &PotnetModel) -> impl FnMut(&Structure) -> f64 + '_ {
    |s| model.predict(std::slice::from_ref(s)).unwrap()[0][0]
}

#[test]
fn the_new_construction_is_invariant_and_the_published_one_is_not() {
    let (new, old) = models();
    let (d, case) = worst(&mut library(&new));
    eprintln!("new construction: worst {d:e} ({case})");
    assert!(d <= BAR, "new construction: {d:e} eV/cell apart ({case})");
    let (d, case) = worst(&mut library(&old));
    eprintln!("published construction: worst {d:e} ({case})");
    assert!(
        d > 100.0 * BAR,
        "the published construction should fail the check, worst {d:e} ({case})"
    );
    assert!(old.meta().invariance_note().is_some());
    assert_eq!(new.meta().invariance_note(), None);
}

#[test]
fn whole_shells_keep_every_equidistant_neighbour() {
    // Cubic SrTiO3: per Sr, 8 Ti at 3.38 Å, 12 O at 2.76 Å, 6 Sr at 3.905 Å. The 16th
    // neighbour falls in the Ti shell (12 O + 8 Ti = 20 >= 16): all 8 Ti are kept.
    let (new, old) = models();
    let s = &crystals()[0].1;
    let lengths = |m: &PotnetModel, s: &Structure| {
        let input = CrystalInput::from_structure(s, m.meta()).unwrap();
        let mut d: Vec<f32> = input.local_length;
        d.sort_by(f32::total_cmp);
        d
    };
    for (_, v) in variants(s) {
        let (a, b) = (lengths(&new, s), lengths(&new, &v));
        assert_eq!(a.len(), b.len(), "same edges whatever the variant");
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() < 1e-5, "{x} vs {y}");
        }
    }
    // The published cut keeps ties only when they are bit-identical, so its edge count
    // depends on the variant (the new one never has fewer edges).
    let counts: Vec<usize> = variants(s)
        .iter()
        .map(|(_, v)| lengths(&old, v).len())
        .collect();
    assert!(
        counts.iter().all(|&c| c <= lengths(&new, s).len()),
        "{counts:?}"
    );
}

#[test]
fn converged_sums_are_the_published_definitions_at_large_r_max() {
    // The published truncated cube converges to the converged mode's values as r_max grows.
    let s = &crystals()[0].1;
    let (new, _) = models();
    let converged = CrystalInput::from_structure(s, new.meta()).unwrap();
    let mut wide = new.meta().clone();
    wide.lattice_sums = LatticeSumMode::potnet(&PotnetSettings {
        r_max: 8,
        ..PotnetSettings::default()
    });
    let truncated = CrystalInput::from_structure(s, &wide).unwrap();
    for (a, b) in converged.inf_feature.iter().zip(&truncated.inf_feature) {
        assert!((a - b).abs() <= 1e-5 * (1.0 + b.abs()), "{a} vs {b}");
    }
    // And the raw sums of r_max = 3 really differ from them for a skewed cell.
    let skewed = &variants(s)[3].1;
    let r3 = potnet_sums(skewed, &PotnetSettings::default()).unwrap();
    let r8 = potnet_sums(
        skewed,
        &PotnetSettings {
            r_max: 8,
            ..PotnetSettings::default()
        },
    )
    .unwrap();
    let gap = r3
        .coulomb
        .iter()
        .zip(&r8.coulomb)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(gap > 1e-6, "r_max = 3 vs 8 differ by only {gap:e}");
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn cli_predictions_from_cifs_are_invariant() {
    let dir = scratch("potnet-invariance-cli");
    let (new, old) = models();
    for (model, file) in [(&new, "new.safetensors"), (&old, "old.safetensors")] {
        model.save(&dir.join(file)).unwrap();
    }
    let mut files = Vec::new();
    for (k, (_, crystal)) in crystals().into_iter().enumerate() {
        for (j, (_, v)) in variants(&crystal).into_iter().enumerate() {
            let path = dir.join(format!("c{k}v{j}.cif"));
            crystalpot::io::cif::write_cif(&path, &v, "variant").unwrap();
            files.push((k, path));
        }
    }
    let predict = |model: &str| -> (Vec<(usize, f64)>, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_crystalpot"))
            .args(["predict", "--json", "--model"])
            .arg(dir.join(model))
            .args(files.iter().map(|f| &f.1))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let values = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .zip(&files)
            .map(|(line, (k, _))| {
                let v: serde_json::Value = serde_json::from_str(line).unwrap();
                (*k, v["predictions"]["heat_all"]["value"].as_f64().unwrap())
            })
            .collect();
        (values, String::from_utf8(out.stderr).unwrap())
    };
    let spread = |values: &[(usize, f64)]| {
        (0..crystals().len())
            .map(|k| {
                let v: Vec<f64> = values.iter().filter(|p| p.0 == k).map(|p| p.1).collect();
                let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
                v.iter().map(|x| x - lo).fold(0.0, f64::max)
            })
            .fold(0.0, f64::max)
    };
    let (values, stderr) = predict("new.safetensors");
    assert_eq!(values.len(), files.len());
    assert!(spread(&values) <= BAR, "CLI spread {:e}", spread(&values));
    assert!(!stderr.contains("nearest-neighbour"), "{stderr}");
    let (values, stderr) = predict("old.safetensors");
    assert!(spread(&values) > 100.0 * BAR);
    assert!(
        stderr.contains("published 16-nearest-neighbour graph"),
        "a published-construction model says so when it loads: {stderr}"
    );
}

#[test]
fn c_abi_predictions_are_invariant() {
    let dir = scratch("potnet-invariance-c");
    let (new, _) = models();
    let path = dir.join("new.safetensors");
    new.save(&path).unwrap();
    let c_path = CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path; the model is freed below.
    let model = unsafe { cpot_model_load(c_path.as_ptr()) };
    assert!(!model.is_null());
    let mut predict = |s: &Structure| {
        let lattice: Vec<f64> = (0..3)
            .flat_map(|r| {
                s.lattice()
                    .matrix()
                    .row(r)
                    .iter()
                    .copied()
                    .collect::<Vec<_>>()
            })
            .collect();
        let numbers: Vec<i32> = s.numbers().iter().map(|&z| i32::from(z)).collect();
        let positions: Vec<f64> = s.positions().iter().flat_map(|p| [p.x, p.y, p.z]).collect();
        let system = cpot_system_t {
            n_atoms: s.len(),
            lattice: lattice.as_ptr(),
            numbers: numbers.as_ptr(),
            positions: positions.as_ptr(),
            pbc: [true; 3],
        };
        let request = cpot_request_t {
            flags: CPOT_PROPERTIES,
            energy_atoms: std::ptr::null(),
        };
        let mut property = [f64::NAN];
        let mut results = cpot_results_t {
            energy: 0.0,
            energy_error_bound: 0.0,
            per_atom_energies: std::ptr::null_mut(),
            forces: std::ptr::null_mut(),
            virial: std::ptr::null_mut(),
            properties: property.as_mut_ptr(),
            n_properties: 1,
        };
        // SAFETY: every pointer is valid for the lengths cpot_system_t documents.
        let status = unsafe { cpot_compute(model, &system, &request, &mut results) };
        assert_eq!(status, 0);
        property[0]
    };
    let (d, case) = worst(&mut predict);
    // SAFETY: loaded above, not used after.
    unsafe { cpot_model_free(model) };
    assert!(d <= BAR, "C ABI: {d:e} eV/cell apart ({case})");
}
