use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use super::*;
use crate::cell::Lattice;
use crate::model::energy::file::Provenance;

fn config(elements: &[&str]) -> LinearConfig {
    let n = elements.len();
    LinearConfig {
        elements: elements.iter().map(|s| s.to_string()).collect(),
        cutoff: 4.2,
        basis: BasisConfig {
            n_max: 4,
            l_max: 3,
            degrees: vec![3, 4, 3, 2],
        },
        inner: vec![1.6; n * n],
        tolerance: 1e-10,
    }
}

/// A model with random weights, charges and dispersion, so that every term is exercised.
pub(crate) fn random_model(elements: &[&str], seed: u64) -> LinearModel {
    let config = config(elements);
    let featurizer = Featurizer::new(&config).unwrap();
    let (n, k) = (elements.len(), featurizer.basis_len());
    let mut rng = StdRng::seed_from_u64(seed);
    let mut random = |len: usize, scale: f64| -> Vec<f64> {
        (0..len)
            .map(|_| scale * (rng.random::<f64>() - 0.5))
            .collect()
    };
    let weights = (0..n).map(|_| random(k, 0.02)).collect();
    let committee = (0..3)
        .map(|_| (0..n).map(|_| random(k + 1, 0.001)).collect())
        .collect();
    let reference_energies = random(n, 2.0);
    let dispersion = random(n, 4.0).iter().map(|c| c.abs() + 1.0).collect();
    let charges = if n == 2 {
        vec![0.8, -0.8]
    } else {
        vec![0.0; n]
    };
    LinearModel::new(
        LinearMeta {
            format_version: file::FORMAT_VERSION,
            kind: file::KIND.into(),
            name: "test".into(),
            config,
            provenance: Provenance::default(),
        },
        LinearParameters {
            reference_energies,
            weights,
            committee,
            charges,
            dispersion,
        },
    )
    .unwrap()
}

/// A rattled rock-salt cell (8 atoms) of two elements.
pub(crate) fn rattled_pair_crystal(seed: u64) -> Structure {
    let a = 4.6;
    let lattice = Lattice::from_rows([[a, 0.1, 0.0], [0.0, a, 0.2], [0.15, 0.0, a]]).unwrap();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut numbers = Vec::new();
    let mut positions = Vec::new();
    for (k, f) in [
        [0.0, 0.0, 0.0],
        [0.5, 0.5, 0.0],
        [0.5, 0.0, 0.5],
        [0.0, 0.5, 0.5],
        [0.5, 0.0, 0.0],
        [0.0, 0.5, 0.0],
        [0.0, 0.0, 0.5],
        [0.5, 0.5, 0.5],
    ]
    .iter()
    .enumerate()
    {
        numbers.push(if k < 4 { 11 } else { 17 });
        let jitter = Vec3::from_fn(|_, _| 0.15 * (rng.random::<f64>() - 0.5));
        positions.push(lattice.to_cartesian(&Vec3::from(*f)) + jitter);
    }
    Structure::new(lattice, numbers, positions, [true; 3]).unwrap()
}

fn rotation(angle: f64, axis: Vec3) -> Mat3 {
    *nalgebra::Rotation3::from_axis_angle(&nalgebra::Unit::new_normalize(axis), angle).matrix()
}

#[test]
fn invariants_do_not_change_under_rotation_reflection_and_neighbour_order() {
    let f = Featurizer::new(&config(&["Si", "O"])).unwrap();
    let mut rng = StdRng::seed_from_u64(3);
    let neighbours: Vec<(usize, Vec3)> = (0..9)
        .map(|k| {
            let v = Vec3::from_fn(|_, _| 3.0 * (rng.random::<f64>() - 0.5));
            (k % 2, v)
        })
        .collect();
    let b = f.basis.values(&f.density(0, neighbours.iter().copied()).a);
    assert!(f.orders().contains(&4) && f.orders().contains(&3));
    let transforms = [
        rotation(0.7, Vec3::new(1.0, 2.0, -0.5)),
        -rotation(2.1, Vec3::new(-0.3, 0.2, 1.0)),
    ];
    for t in transforms {
        let mut moved: Vec<(usize, Vec3)> = neighbours.iter().map(|&(z, v)| (z, t * v)).collect();
        moved.reverse();
        let b2 = f.basis.values(&f.density(0, moved.into_iter()).a);
        let scale = b.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        for (x, y) in b.iter().zip(&b2) {
            assert!((x - y).abs() < 1e-12 * scale, "{x} vs {y}");
        }
    }
    // And they are not trivially constant: another environment differs.
    let other = f
        .basis
        .values(&f.density(0, neighbours[1..].iter().copied()).a);
    assert!(b.iter().zip(&other).any(|(x, y)| (x - y).abs() > 1e-6));
}

#[test]
fn forces_and_virial_are_the_exact_derivatives_of_the_energy() {
    let model = random_model(&["Na", "Cl"], 1);
    let s = rattled_pair_crystal(2);
    let r = model.compute(&s, &Request::all()).unwrap();
    let forces = r.forces.unwrap();
    let h = 1e-5;
    let energy_at = |positions: Vec<Vec3>, lattice: Lattice| {
        let moved = Structure::new(lattice, s.numbers().to_vec(), positions, [true; 3]).unwrap();
        model.compute(&moved, &Request::default()).unwrap().energy
    };
    for atom in [0, 5] {
        for a in 0..3 {
            let shifted = |d: f64| {
                let mut p = s.positions().to_vec();
                p[atom][a] += d;
                energy_at(p, *s.lattice())
            };
            let fd = -(shifted(h) - shifted(-h)) / (2.0 * h);
            assert!(
                (fd - forces[atom][a]).abs() < 1e-6,
                "{fd} vs {}",
                forces[atom][a]
            );
        }
    }
    let w = r.virial.unwrap();
    let strained = |eps: f64, a: usize, b: usize| {
        let mut e = Mat3::identity();
        e[(a, b)] += eps / 2.0;
        e[(b, a)] += eps / 2.0;
        let lattice = Lattice::from_matrix(s.lattice().matrix() * e).unwrap();
        energy_at(s.positions().iter().map(|p| e * p).collect(), lattice)
    };
    for (a, b) in [(0, 0), (1, 2), (0, 1)] {
        let fd = -(strained(h, a, b) - strained(-h, a, b)) / (2.0 * h);
        assert!(
            (fd - w[(a, b)]).abs() < 1e-5,
            "W{a}{b}: {fd} vs {}",
            w[(a, b)]
        );
    }
}

#[test]
fn the_design_rows_reproduce_inference() {
    let mut model = random_model(&["Na", "Cl"], 4);
    model.parameters.charges = vec![0.0; 2];
    model.parameters.dispersion = vec![0.0; 2];
    let model = LinearModel::new(model.meta.clone(), model.parameters.clone()).unwrap();
    let s = rattled_pair_crystal(5);
    let r = model.compute(&s, &Request::all()).unwrap();
    let d = model.featurizer().design(&s).unwrap();
    let p = &model.parameters;
    let mut w = p.reference_energies.clone();
    w.extend(p.weights.concat());
    let dot = |row: &[f64]| row.iter().zip(&w).map(|(x, y)| x * y).sum::<f64>();
    assert!((dot(&d.energy) + d.core_energy - r.energy).abs() < 1e-10);
    let cols = w.len();
    let forces = r.forces.unwrap();
    for (k, row) in d.forces.chunks(cols).enumerate() {
        let predicted = dot(row) + d.core_forces[k / 3][k % 3];
        assert!((predicted - forces[k / 3][k % 3]).abs() < 1e-10);
    }
    let virial = r.virial.unwrap();
    for (v, &(a, b)) in VOIGT.iter().enumerate() {
        let predicted = dot(&d.virial[v * cols..(v + 1) * cols]) + d.core_virial[(a, b)];
        assert!(
            (predicted - virial[(a, b)]).abs() < 1e-9,
            "{predicted} {}",
            virial[(a, b)]
        );
    }
}

#[test]
fn local_energies_through_the_engine_contract_match_the_structure_path() {
    let model = random_model(&["Na", "Cl"], 6);
    let s = rattled_pair_crystal(7);
    let list = NeighborList::build_with(&s, model.cutoff(), ListKind::Full).unwrap();
    let mut local_total = 0.0;
    let mut forces = vec![Vec3::zeros(); s.len()];
    for i in 0..s.len() {
        let pairs = list.pairs_of(i);
        let vectors: Vec<Vec3> = pairs.iter().map(|p| p.r).collect();
        let numbers: Vec<u8> = pairs.iter().map(|p| s.numbers()[p.j]).collect();
        let mut g = vec![Vec3::zeros(); pairs.len()];
        let env = Environment {
            centre: s.numbers()[i],
            neighbours: &numbers,
            vectors: &vectors,
        };
        local_total += model.local_energy(&env, Some(&mut g)).unwrap();
        for (p, g) in pairs.iter().zip(&g) {
            forces[p.j] -= g;
            forces[i] += g;
        }
    }
    let mut local_only = model.clone();
    local_only.parameters.charges = vec![0.0; 2];
    local_only.parameters.dispersion = vec![0.0; 2];
    let r = local_only.compute(&s, &Request::all()).unwrap();
    assert!((r.energy - local_total).abs() < 1e-10);
    for (a, b) in forces.iter().zip(r.forces.unwrap()) {
        assert!((a - b).norm() < 1e-10);
    }
    let long = model.rank_one_long_range();
    assert_eq!(long.charges, vec![(11, 0.8), (17, -0.8)]);
    assert_eq!(long.dispersion.len(), 2);
}

#[test]
fn shares_and_energy_masks_add_up_to_the_whole() {
    let model = random_model(&["Na", "Cl"], 8);
    let s = rattled_pair_crystal(9);
    let whole = model.compute(&s, &Request::all()).unwrap();
    let mut energy = 0.0;
    let mut forces = vec![Vec3::zeros(); s.len()];
    for k in 0..3 {
        let r = model
            .compute(
                &s,
                &Request {
                    partition: crate::model::Partition::new(k, 3).unwrap(),
                    ..Request::all()
                },
            )
            .unwrap();
        energy += r.energy;
        forces
            .iter_mut()
            .zip(r.forces.unwrap())
            .for_each(|(a, b)| *a += b);
    }
    assert!((energy - whole.energy).abs() < 1e-9 * whole.energy.abs().max(1.0));
    for (a, b) in forces.iter().zip(whole.forces.unwrap()) {
        assert!((a - b).norm() < 1e-9);
    }
}

#[test]
fn the_file_round_trip_keeps_every_number() {
    let model = random_model(&["Na", "Cl"], 10);
    let bytes = file::write(&model).unwrap();
    let back = file::read(&bytes).unwrap();
    assert_eq!(back.parameters, model.parameters);
    assert_eq!(back.meta, model.meta);
    let s = rattled_pair_crystal(11);
    let request = Request {
        uncertainty: true,
        ..Request::all()
    };
    let (a, b) = (
        model.compute(&s, &request).unwrap(),
        back.compute(&s, &request).unwrap(),
    );
    assert_eq!(a, b);
    assert!(a.energy_std.unwrap() > 0.0);
}

#[test]
fn energy_is_continuous_where_a_neighbour_leaves_the_cutoff_and_repulsive_up_close() {
    let model = random_model(&["Si"], 12);
    let lattice =
        Lattice::from_rows([[20.0, 0.0, 0.0], [0.0, 20.0, 0.0], [0.0, 0.0, 20.0]]).unwrap();
    let pair = |r: f64| {
        let s = Structure::new(
            lattice,
            vec![14, 14],
            vec![Vec3::zeros(), Vec3::new(r, 0.0, 0.0)],
            [true; 3],
        )
        .unwrap();
        let mut local = model.clone();
        local.parameters.dispersion = vec![0.0];
        local.compute(&s, &Request::all()).unwrap()
    };
    let rc = model.cutoff();
    let (inside, outside) = (pair(rc - 1e-7), pair(rc + 1e-7));
    assert!((inside.energy - outside.energy).abs() < 1e-10);
    assert!(inside.forces.unwrap()[0].norm() < 1e-5);
    // The screened nuclear repulsion dominates well inside the training data's range.
    let close = pair(0.4);
    assert!(close.energy - pair(3.0).energy > 100.0, "{}", close.energy);
    assert!(close.forces.unwrap()[1][0] > 100.0);
}

#[test]
fn unknown_elements_and_wrong_sizes_are_clear_errors() {
    let model = random_model(&["Na", "Cl"], 13);
    let s = crate::structure::tests::rocksalt(5.64);
    let mut cs = s.clone();
    cs = Structure::new(
        *cs.lattice(),
        vec![55; cs.len()],
        cs.positions().to_vec(),
        [true; 3],
    )
    .unwrap();
    let err = model.compute(&cs, &Request::all()).unwrap_err();
    assert!(err.to_string().contains("Cs is not in the model"), "{err}");
    let mut p = model.parameters.clone();
    p.weights[0].pop();
    assert!(LinearModel::new(model.meta.clone(), p).is_err());
}
