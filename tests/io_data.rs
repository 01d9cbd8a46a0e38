//! Reads the real data sets beside the project (never copied into the repository).
//! `CRYSTALPOT_DATA` points at the data folder; the default is `../shared/data` relative to
//! the crate root. A missing folder fails the tests: they must not pass by skipping.

mod common;

use common::data_dir;
use crystalpot::io::{cif, extxyz, poscar, read_structures};
use crystalpot::train::dataset::{self, BadSamples, Sample};
use crystalpot::Structure;

/// Every record of the perov5 validation table, through the training-data reader.
fn perov5_val() -> Vec<Sample> {
    let path = data_dir().join("perov5/val.csv");
    let data = dataset::load(&path, &["heat_all".to_string()], BadSamples::Fail)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(data.skipped.is_empty());
    data.samples
}

#[test]
fn perov5_val_cifs_have_five_atoms() {
    let samples = perov5_val();
    assert_eq!(samples.len(), 3787);
    for sample in &samples {
        let s = &sample.structure;
        assert_eq!(s.len(), 5, "{}", sample.id);
        let (d, _, _) = crystalpot::neighbors::min_distance(s).unwrap().unwrap();
        assert!(d > 0.5, "{}: atoms {d} Å apart", sample.id);
        assert!(
            sample.targets[0].abs() < 10.0,
            "{}: heat_all {:?}",
            sample.id,
            sample.targets
        );
    }
}

fn check_xyz(relative: &str, frames_expected: usize) {
    let path = data_dir().join(relative);
    let frames = extxyz::read_extxyz(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(frames.len(), frames_expected, "{relative}");
    for (i, f) in frames.iter().enumerate() {
        assert!(f.energy.is_some_and(f64::is_finite), "{relative} frame {i}");
        let forces = f.forces.as_ref().expect("forces");
        assert_eq!(forces.len(), f.structure.len(), "{relative} frame {i}");
        assert!(f.structure.pbc().iter().all(|&p| p));
    }
    // the generic reader agrees
    assert_eq!(read_structures(&path).unwrap().len(), frames_expected);
}

#[test]
fn mlearn_si_frames_have_energy_forces_and_stress() {
    check_xyz("mlearn/Si_train.xyz", 214);
    let frames = extxyz::read_extxyz(data_dir().join("mlearn/Si_train.xyz")).unwrap();
    assert!(frames.iter().all(|f| f
        .stress
        .as_ref()
        .is_some_and(|s| s.key == "virial_stress_kB" && s.values.len() == 6)));
    assert!(frames.iter().all(|f| f.info.contains_key("config_type")));
}

#[test]
fn ionic_inp_frames_have_energy_and_forces() {
    check_xyz("ionic/InP_train.xyz", 1610);
    let frames = extxyz::read_extxyz(data_dir().join("ionic/InP_train.xyz")).unwrap();
    assert!(frames.iter().all(|f| f
        .stress
        .as_ref()
        .is_some_and(|s| s.key == "stress_kB_xx_yy_zz_yz_xz_xy")));
}

#[test]
fn real_frames_round_trip_through_extxyz() {
    let path = data_dir().join("ionic/InP_train.xyz");
    let frames: Vec<_> = extxyz::read_extxyz(&path)
        .unwrap()
        .into_iter()
        .take(20)
        .collect();
    let back = extxyz::parse_extxyz_str(&extxyz::format_extxyz(&frames), "round trip").unwrap();
    for (a, b) in frames.iter().zip(&back) {
        assert_eq!(a.energy, b.energy);
        assert_eq!(a.stress, b.stress);
        assert_eq!(a.info, b.info);
        assert_eq!(a.structure.numbers(), b.structure.numbers());
        for (p, q) in a.structure.positions().iter().zip(b.structure.positions()) {
            assert!((p - q).norm() < 1e-9);
        }
    }
}

#[test]
fn every_xyz_file_in_the_data_parses_with_energy_and_forces() {
    let mut seen = 0;
    for folder in ["mlearn", "ionic"] {
        let dir = data_dir().join(folder);
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "xyz") {
                let frames = extxyz::read_extxyz(&path).unwrap_or_else(|e| panic!("{e}"));
                assert!(frames
                    .iter()
                    .all(|f| f.energy.is_some() && f.forces.is_some()));
                seen += 1;
            }
        }
    }
    assert_eq!(seen, 9, "expected 6 mlearn and 3 ionic files");
}

fn assert_same(a: &Structure, b: &Structure, what: &str) {
    assert_eq!(a.numbers(), b.numbers(), "{what}");
    let dl = (a.lattice().matrix() - b.lattice().matrix()).abs().max();
    assert!(dl < 1e-9, "{what}: lattice differs by {dl}");
    for (p, q) in a.positions().iter().zip(b.positions()) {
        assert!((p - q).norm() < 1e-9, "{what}: {p:?} vs {q:?}");
    }
}

#[test]
fn perov5_structures_round_trip_through_poscar_and_cif() {
    for sample in perov5_val().iter().take(200) {
        let (s, id) = (&sample.structure, &sample.id);
        let from_poscar = poscar::parse_poscar_str(&poscar::format_poscar(s, "x"), "P").unwrap();
        assert_same(s, &from_poscar, &format!("POSCAR of {id}"));
        let from_cif = cif::parse_cif_str(&cif::format_cif(s, "x"), "C")
            .unwrap()
            .remove(0);
        assert_same(s, &from_cif, &format!("CIF of {id}"));
    }
}

#[test]
fn mlearn_frames_load_as_training_samples_with_forces_and_stress() {
    let path = data_dir().join("mlearn/Si_train.xyz");
    let data = dataset::load(&path, &["energy".to_string()], BadSamples::Fail).unwrap();
    assert!(data.samples.len() > 100);
    for s in &data.samples {
        assert_eq!(
            s.forces.as_ref().map(Vec::len),
            Some(s.structure.len()),
            "{}",
            s.id
        );
        let stress = s.stress.unwrap_or_else(|| panic!("{}: no stress", s.id));
        assert!((stress - stress.transpose()).norm() == 0.0, "{}", s.id);
        // Below 100 GPa everywhere in this set.
        assert!(
            stress.abs().max() * dataset::EV_PER_A3_IN_GPA < 100.0,
            "{}",
            s.id
        );
    }
}
