//! The physics an energy model must respect, on seeded random weights: forces and stress are
//! minus the energy's gradients, supercells and rigid motions change nothing, the energy and
//! forces are continuous where neighbours cross the cutoff, and the training-time derivatives
//! (dense pair tables) equal the inference-time ones (structure factors).

use candle_core::Tensor;

use super::*;
use crate::cell::Lattice;
use crate::structure::tests::{moved, strained};
use crate::train::dataset::Sample;
use crate::train::energy::{predict, prepare, Trainable};

fn config() -> EnergyConfig {
    EnergyConfig {
        cutoff: 3.2,
        width: 8,
        channels: 2,
        radial_basis: 4,
        phi_scales: vec![0.7, 0.05],
        energy_scale: 0.3,
        tolerance: 1e-11,
        ..EnergyConfig::new(vec!["Li".into(), "O".into()])
    }
}

/// A random model with non-zero charges, so that the Coulomb baseline is exercised.
fn model(seed: u64) -> EnergyModel {
    let c = config();
    let t = Trainable::new(&c, &[-2.0, -4.5], seed).unwrap();
    let vars = crate::train::energy::named_vars(&t.varmap);
    vars["baseline.charges"]
        .set(&Tensor::new(&[0.8f64, -1.1], &candle_core::Device::Cpu).unwrap())
        .unwrap();
    t.to_model(EnergyMeta::new("test", c, Default::default()))
        .unwrap()
}

fn cell() -> Structure {
    let lattice = Lattice::from_parameters([4.0, 4.4, 4.9], [82.0, 97.0, 104.0]).unwrap();
    let frac = [
        [0.0, 0.0, 0.0],
        [0.52, 0.47, 0.5],
        [0.21, 0.71, 0.33],
        [0.7, 0.2, 0.85],
    ]
    .map(|f| Vec3::new(f[0], f[1], f[2]));
    Structure::from_fractional(lattice, vec![3, 8, 3, 8], &frac, [true; 3]).unwrap()
}

fn energy(m: &EnergyModel, s: &Structure) -> f64 {
    m.compute(s, &Request::default()).unwrap().energy
}

#[test]
fn forces_and_stress_are_minus_the_energy_gradient() {
    let (m, s) = (model(1), cell());
    let r = m.compute(&s, &Request::all()).unwrap();
    let forces = r.forces.unwrap();
    let h = 1e-5;
    let scale = forces.iter().map(|f| f.norm()).fold(0.0, f64::max);
    for (atom, force) in forces.iter().enumerate() {
        for axis in 0..3 {
            let fd = -(energy(&m, &moved(&s, atom, axis, h))
                - energy(&m, &moved(&s, atom, axis, -h)))
                / (2.0 * h);
            assert!(
                (fd - force[axis]).abs() < 1e-6 * scale,
                "atom {atom} axis {axis}: {fd} vs {}",
                force[axis]
            );
        }
    }
    let w = r.virial.unwrap();
    for (a, b) in [(0, 0), (1, 1), (0, 2), (1, 2)] {
        let mut eps = Mat3::zeros();
        eps[(a, b)] += 0.5 * h;
        eps[(b, a)] += 0.5 * h;
        let fd = -(energy(&m, &strained(&s, &eps)) - energy(&m, &strained(&s, &-eps))) / (2.0 * h);
        assert!(
            (fd - w[(a, b)]).abs() < 1e-6 * w.abs().max(),
            "virial ({a},{b}): {fd} vs {}",
            w[(a, b)]
        );
    }
}

#[test]
fn supercells_and_rigid_motions_leave_the_energy_per_atom() {
    let (m, s) = (model(2), cell());
    let e = energy(&m, &s) / s.len() as f64;
    for reps in [[2, 2, 2], [3, 1, 2]] {
        let big = s.supercell(reps).unwrap();
        let e_big = energy(&m, &big) / big.len() as f64;
        assert!((e_big - e).abs() < 1e-8, "{reps:?}: {e_big} vs {e}");
    }
    let shifted: Vec<Vec3> = s
        .positions()
        .iter()
        .map(|x| x + Vec3::new(0.3, -1.2, 0.7))
        .collect();
    let translated =
        Structure::new(*s.lattice(), s.numbers().to_vec(), shifted, [true; 3]).unwrap();
    assert!((energy(&m, &translated) / 4.0 - e).abs() < 1e-10);
    let rotation = nalgebra::Rotation3::from_euler_angles(0.3, -0.7, 1.1).into_inner();
    let lattice = Lattice::from_matrix(s.lattice().matrix() * rotation.transpose()).unwrap();
    let rotated_x = s.positions().iter().map(|x| rotation * x).collect();
    let rotated = Structure::new(lattice, s.numbers().to_vec(), rotated_x, [true; 3]).unwrap();
    assert!((energy(&m, &rotated) / 4.0 - e).abs() < 1e-10);
    let order = [2, 0, 3, 1];
    let permuted = Structure::new(
        *s.lattice(),
        order.iter().map(|&k| s.numbers()[k]).collect(),
        order.iter().map(|&k| s.positions()[k]).collect(),
        [true; 3],
    )
    .unwrap();
    assert!((energy(&m, &permuted) / 4.0 - e).abs() < 1e-10);
}

#[test]
fn energy_and_forces_are_continuous_through_the_cutoff() {
    // Two atoms in a large cell; move one along x through r_c = 3.2 Å.
    let m = model(3);
    let lattice = Lattice::from_rows([[9.0, 0.0, 0.0], [0.0, 9.0, 0.0], [0.0, 0.0, 9.0]]).unwrap();
    let at = |d: f64| {
        Structure::new(
            lattice,
            vec![3, 8],
            vec![Vec3::zeros(), Vec3::new(d, 0.0, 0.0)],
            [true; 3],
        )
        .unwrap()
    };
    let rc = m.config().cutoff;
    let probe = |d: f64| {
        let r = m.compute(&at(d), &Request::all()).unwrap();
        (r.energy, r.forces.unwrap()[1][0])
    };
    let delta = 1e-6;
    let (e_in, f_in) = probe(rc - delta);
    let (e_out, f_out) = probe(rc + delta);
    // Across 2δ the energy changes by at most |F| 2δ; the force by O(δ) (C¹ envelope).
    assert!(
        (e_in - e_out).abs() < 2.0 * delta * (f_in.abs() + 1.0),
        "{e_in} vs {e_out}"
    );
    assert!((f_in - f_out).abs() < 1e-4, "{f_in} vs {f_out}");
}

#[test]
fn training_derivatives_equal_inference_derivatives() {
    let c = config();
    let t = Trainable::new(&c, &[-2.0, -4.5], 4).unwrap();
    let m = t
        .to_model(EnergyMeta::new("test", c.clone(), Default::default()))
        .unwrap();
    let s = cell();
    let sample = Sample {
        id: "cell".into(),
        structure: s.clone(),
        targets: vec![0.0],
        forces: None,
        stress: None,
    };
    let prepared = prepare(&[sample], &c).unwrap();
    let (e, f, stress) = predict(&t.network, &prepared[0]).unwrap();
    let r = m.compute(&s, &Request::all()).unwrap();
    assert!((e.to_scalar::<f64>().unwrap() - r.energy).abs() < 1e-9 * r.energy.abs());
    let f = f.to_vec2::<f64>().unwrap();
    for (a, b) in f.iter().zip(r.forces.as_ref().unwrap()) {
        for d in 0..3 {
            assert!((a[d] - b[d]).abs() < 1e-8, "{a:?} vs {b:?}");
        }
    }
    let expected = r.stress(s.volume()).unwrap() * crate::train::dataset::EV_PER_A3_IN_GPA;
    let stress = stress.to_vec2::<f64>().unwrap();
    for a in 0..3 {
        for b in 0..3 {
            assert!(
                (stress[a][b] - expected[(a, b)]).abs() < 1e-6,
                "{stress:?} vs {expected}"
            );
        }
    }
}

/// The energy of some atoms (what an MPI rank owning them computes): the parts add up to the
/// whole, and its forces are minus its own gradient (the reverse pass starts from the mask).
#[test]
fn the_energy_of_some_atoms_has_its_own_exact_forces() {
    let (m, s) = (model(6), cell());
    let mask = vec![true, false, false, true];
    let part = |mask: Vec<bool>, s: &Structure| {
        m.compute(
            s,
            &Request {
                energy_atoms: Some(mask),
                ..Request::all()
            },
        )
        .unwrap()
    };
    let (own, rest) = (
        part(mask.clone(), &s),
        part(mask.iter().map(|b| !b).collect(), &s),
    );
    let whole = m.compute(&s, &Request::all()).unwrap();
    assert!((own.energy + rest.energy - whole.energy).abs() < 1e-10 * whole.energy.abs());
    let forces = own.forces.unwrap();
    let scale = forces.iter().map(|f| f.norm()).fold(0.0, f64::max);
    for (k, f) in forces.iter().enumerate() {
        let sum = f + rest.forces.as_ref().unwrap()[k];
        assert!((sum - whole.forces.as_ref().unwrap()[k]).norm() < 1e-10 * scale);
    }
    let h = 1e-5;
    for (atom, force) in forces.iter().enumerate() {
        for axis in 0..3 {
            let e = |d: f64| part(mask.clone(), &moved(&s, atom, axis, d)).energy;
            let fd = -(e(h) - e(-h)) / (2.0 * h);
            assert!(
                (fd - force[axis]).abs() < 1e-6 * scale,
                "atom {atom} axis {axis}: {fd} vs {}",
                force[axis]
            );
        }
    }
}

#[test]
fn unknown_elements_and_bad_masks_are_errors() {
    let m = model(5);
    let mut s = cell();
    s = Structure::new(
        *s.lattice(),
        vec![3, 8, 11, 8],
        s.positions().to_vec(),
        [true; 3],
    )
    .unwrap();
    let err = m.compute(&s, &Request::default()).unwrap_err().to_string();
    assert!(
        err.contains("element Na is not one of the model's elements (Li, O)"),
        "{err}"
    );
    let request = Request {
        energy_atoms: Some(vec![true]),
        ..Request::default()
    };
    assert!(m.compute(&cell(), &request).is_err());
}
