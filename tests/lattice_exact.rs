//! Data-driven checks of the exact lattice sums against the shared fixtures
//! (`$CRYSTALPOT_DATA/fixtures/lattice_sums.json`, default `../shared/data`).

mod common;

use common::{floats, structure};
use crystalpot::lattice::{pair_matrices, Potential, Tolerance};
use crystalpot::{Lattice, Structure, Vec3};

const POTENTIALS: [Potential; 3] = [
    Potential::InversePower(1.0),
    Potential::InversePower(6.0),
    Potential::Exponential {
        alpha: 3.0,
        include_self: true,
    },
];

#[test]
fn all_fixture_sums_agree_within_the_bound() {
    let data = common::fixture("lattice_sums.json");
    let structures = data["structures"].as_array().unwrap();
    assert_eq!(structures.len(), 25);
    let mut worst_ratio: f64 = 0.0;
    for s in structures {
        let id = s["id"].as_str().unwrap();
        let st = structure(s);
        for tol in [Tolerance::Absolute(1e-10), Tolerance::Relative(1e-10)] {
            let matrices = pair_matrices(&st, &POTENTIALS, tol).unwrap();
            for (m, name) in matrices.iter().zip(["coulomb", "london", "pauli"]) {
                let reference = floats(&s[format!("{name}_converged")]);
                let errors = floats(&s[format!("{name}_converged_err")]);
                let mut max_dev: f64 = 0.0;
                for ((a, b), err) in m.values.iter().zip(&reference).zip(&errors) {
                    let dev = (a - b).abs();
                    assert!(
                        dev <= m.error_bound + err,
                        "{id} {name} {tol:?}: deviation {dev:e} > bound {:e} + fixture error {err:e}",
                        m.error_bound
                    );
                    max_dev = max_dev.max(dev);
                }
                if let Tolerance::Absolute(t) = tol {
                    assert!(m.error_bound <= t);
                }
                worst_ratio = worst_ratio.max(max_dev / m.error_bound);
            }
        }
    }
    eprintln!("largest deviation / bound over the fixtures: {worst_ratio:.3e}");
}

#[test]
fn madelung_constants_of_the_fixture_ionic_cells() {
    let data = common::fixture("lattice_sums.json");
    let expected = [
        ("NaCl_rocksalt_conventional", 1.747564594633182),
        ("CsCl_B2", 1.762674773070989),
        ("ZnS_zincblende_conventional", 1.638055053388789),
        ("CaF2_fluorite_conventional", 2.51939244),
    ];
    for (id, madelung) in expected {
        let s = data["structures"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id)
            .unwrap();
        let check = &s["madelung_check"];
        let q = floats(&check["charges"]);
        let units = check["formula_units_in_cell"].as_f64().unwrap();
        let r0 = check["r0_nearest_neighbour_distance"].as_f64().unwrap();
        let st = structure(s);
        let m = &pair_matrices(
            &st,
            &[Potential::InversePower(1.0)],
            Tolerance::Relative(1e-13),
        )
        .unwrap()[0];
        let n = q.len();
        let (mut energy, mut energy_bound) = (0.0, 0.0);
        for i in 0..n {
            for j in 0..n {
                energy += 0.5 * q[i] * q[j] * m.get(i, j);
                energy_bound += 0.5 * (q[i] * q[j]).abs() * m.error_bound;
            }
        }
        let qq = q.iter().copied().fold(f64::NEG_INFINITY, f64::max)
            * q.iter().copied().fold(f64::INFINITY, f64::min).abs();
        let value = -energy / units * r0 / qq;
        let bound = energy_bound / units * r0 / qq;
        // Literature values are rounded to the last printed digit (fluorite: 1e-8).
        let printed = if id.starts_with("CaF2") { 5e-9 } else { 1e-15 };
        assert!(
            (value - madelung).abs() <= bound + printed,
            "{id}: {value} vs {madelung} (bound {bound:e})"
        );
        assert!(bound <= 1e-12 * madelung, "{id}: bound {bound:e} too loose");
    }
}

mod random_cells {
    use super::*;
    use crystalpot::lattice::PairMatrix;
    use crystalpot::Mat3;
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};

    /// A random cell: skewed (angles 35–145°), elongated up to 1:10, volumes from ~1 to ~10⁴ Å³,
    /// 1–4 atoms at least 0.3 of the mean spacing apart.
    fn random_structure(rng: &mut StdRng) -> Structure {
        loop {
            let scale = 10f64.powf(rng.random_range(-0.3..1.0));
            let lengths = [0, 1, 2].map(|_| scale * rng.random_range(1.0..10.0));
            let angles = [0, 1, 2].map(|_| rng.random_range(35.0..145.0));
            let Ok(lattice) = Lattice::from_parameters(lengths, angles) else {
                continue;
            };
            if lattice.volume() < 1e-3 * lengths.iter().product::<f64>() {
                continue;
            }
            let n = rng.random_range(1..=4usize);
            let frac: Vec<Vec3> = (0..n)
                .map(|_| {
                    Vec3::new(
                        rng.random_range(-1.0..2.0),
                        rng.random_range(-1.0..2.0),
                        rng.random_range(-1.0..2.0),
                    )
                })
                .collect();
            let Ok(s) = Structure::from_fractional(lattice, vec![1; n], &frac, [true; 3]) else {
                continue;
            };
            let spacing = (s.volume() / n as f64).cbrt();
            if crystalpot::neighbors::min_distance(&s).unwrap().unwrap().0
                > 0.3 * spacing.min(lengths.iter().copied().fold(f64::INFINITY, f64::min))
            {
                return s;
            }
        }
    }

    fn max_deviation(a: &PairMatrix, b: &PairMatrix) -> f64 {
        a.values
            .iter()
            .zip(&b.values)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f64::max)
    }

    /// Screened Coulomb with a long (Ewald regime) and a short screening length (direct
    /// regime in most cells: the cells span ~0.5–100 Å).
    const POTENTIALS: [Potential; 6] = [
        Potential::InversePower(1.0),
        Potential::InversePower(6.0),
        Potential::InversePower(2.0),
        Potential::Exponential {
            alpha: 1.7,
            include_self: false,
        },
        Potential::Screened { kappa: 0.15 },
        Potential::Screened { kappa: 2.5 },
    ];

    /// Loose results (different η and cut-offs, chosen by the code) against tight ones: the
    /// loose bound must cover the difference minus the tight bound, over thousands of cells.
    #[test]
    fn bound_is_never_below_the_true_error() {
        let mut rng = StdRng::seed_from_u64(7);
        let mut worst_ratio = [0.0f64; POTENTIALS.len()];
        let mut cells = 0;
        for _ in 0..1500 {
            let s = random_structure(&mut rng);
            let rel = 10f64.powf(rng.random_range(-6.0..-2.0));
            let loose = pair_matrices(&s, &POTENTIALS, Tolerance::Relative(rel)).unwrap();
            let tight = pair_matrices(&s, &POTENTIALS, Tolerance::Relative(1e-8)).unwrap();
            for (q, (l, t)) in loose.iter().zip(&tight).enumerate() {
                let dev = max_deviation(l, t);
                assert!(
                    dev <= l.error_bound + t.error_bound,
                    "{:?} rel {rel:e}: deviation {dev:e} > {:e} + {:e}; lattice {:?}",
                    POTENTIALS[q],
                    l.error_bound,
                    t.error_bound,
                    s.lattice().matrix()
                );
                if t.error_bound < 1e-2 * l.error_bound {
                    worst_ratio[q] = worst_ratio[q].max(dev / l.error_bound);
                }
            }
            cells += 1;
        }
        eprintln!("{cells} cells; largest true error / bound per potential: {worst_ratio:?}");
    }

    /// Translation, atom permutation, change of basis (unimodular) and supercells change
    /// nothing beyond the bounds.
    #[test]
    fn invariances() {
        let mut rng = StdRng::seed_from_u64(11);
        for _ in 0..150 {
            let s = random_structure(&mut rng);
            let n = s.len();
            let tol = Tolerance::Relative(1e-8);
            let base = pair_matrices(&s, &POTENTIALS, tol).unwrap();
            let check = |other: &[PairMatrix], map: &dyn Fn(usize) -> usize, what: &str| {
                for (a, b) in base.iter().zip(other) {
                    for i in 0..n {
                        for j in 0..n {
                            let d = (a.get(i, j) - b.get(map(i), map(j))).abs();
                            assert!(d <= a.error_bound + b.error_bound, "{what}: {d:e}");
                        }
                    }
                }
            };
            let shift = Vec3::new(
                rng.random_range(-9.0..9.0),
                rng.random_range(-9.0..9.0),
                rng.random_range(-9.0..9.0),
            );
            let moved = Structure::new(
                *s.lattice(),
                s.numbers().to_vec(),
                s.positions().iter().map(|p| p + shift).collect(),
                [true; 3],
            )
            .unwrap();
            check(
                &pair_matrices(&moved, &POTENTIALS, tol).unwrap(),
                &|i| i,
                "translation",
            );
            let perm: Vec<usize> = (0..n).rev().collect();
            let permuted = Structure::new(
                *s.lattice(),
                s.numbers().to_vec(),
                perm.iter().map(|&k| s.positions()[k]).collect(),
                [true; 3],
            )
            .unwrap();
            // atom i of s is atom n-1-i of `permuted`
            check(
                &pair_matrices(&permuted, &POTENTIALS, tol).unwrap(),
                &|i| n - 1 - i,
                "permutation",
            );
            let t = Mat3::new(1.0, 2.0, 0.0, 0.0, 1.0, -3.0, 1.0, 2.0, 1.0); // det = 1
            let other = Lattice::from_matrix(t * s.lattice().matrix()).unwrap();
            let rebased = Structure::new(
                other,
                s.numbers().to_vec(),
                s.positions().to_vec(),
                [true; 3],
            )
            .unwrap();
            check(
                &pair_matrices(&rebased, &POTENTIALS, tol).unwrap(),
                &|i| i,
                "basis",
            );
            // Supercell: Σ over the images of j in the supercell = unit-cell value.
            let reps = [2, 1, 2];
            let sc = s.supercell(reps).unwrap();
            // Each potential to its own unit-cell bound (their magnitudes differ by 1e5).
            let big: Vec<PairMatrix> = POTENTIALS
                .iter()
                .zip(&base)
                .map(|(p, m)| {
                    pair_matrices(&sc, &[*p], Tolerance::Absolute(m.error_bound.max(1e-12)))
                        .unwrap()
                        .remove(0)
                })
                .collect();
            let copies = reps.iter().product::<usize>();
            for (q, (a, b)) in base.iter().zip(&big).enumerate() {
                // For 1/r^p with p < 3 each supercell sum has its own background: the images of
                // j differ from the unit-cell sum by the constant Σ_G≠0 over the extra G — skip.
                if matches!(POTENTIALS[q], Potential::InversePower(p) if p < 3.0) {
                    continue;
                }
                for i in 0..n {
                    for j in 0..n {
                        let sum: f64 = (0..copies).map(|c| b.get(i, c * n + j)).sum();
                        let d = (a.get(i, j) - sum).abs();
                        assert!(
                            d <= a.error_bound + copies as f64 * b.error_bound,
                            "supercell {q}: {d:e}"
                        );
                    }
                }
            }
        }
    }
}
