//! The two exact pipelines — N×N pair matrices (per-pair Ewald with lattice-count bounds) and
//! per-atom sums (structure factors with packing bounds) — must agree within their bounds:
//! φ_i = Σ_j w_j S(i, j).

use crystalpot::lattice::per_atom::{channel_sums, Channels};
use crystalpot::lattice::{pair_matrices, Potential, Tolerance};
use crystalpot::{Lattice, Mat3, Structure, Vec3};

fn skewed_cell() -> Structure {
    let lattice = Lattice::from_parameters([4.1, 5.3, 9.7], [71.0, 103.0, 62.0]).unwrap();
    let frac = [
        [0.01, 0.02, 0.03],
        [0.52, 0.11, 0.27],
        [0.23, 0.61, 0.55],
        [0.77, 0.43, 0.81],
        [0.35, 0.88, 0.12],
    ]
    .map(|f| Vec3::new(f[0], f[1], f[2]));
    Structure::from_fractional(lattice, vec![8, 12, 14, 8, 26], &frac, [true; 3]).unwrap()
}

#[test]
fn per_atom_sums_equal_row_sums_of_the_pair_matrices() {
    let s = skewed_cell();
    let w = vec![1.3, -0.4, 0.8, -2.1, 0.55];
    for p in [1.0, 6.0, 2.5, 5.0, 0.7] {
        let matrix = &pair_matrices(
            &s,
            &[Potential::InversePower(p)],
            Tolerance::Absolute(1e-11),
        )
        .unwrap()[0];
        let per_atom =
            channel_sums(&s, p, &Channels::single(w.clone(), 1.0), 1e-10, false).unwrap();
        let w_norm: f64 = w.iter().map(|x| x.abs()).sum();
        for i in 0..s.len() {
            let row: f64 = (0..s.len())
                .map(|j| w[j] * matrix.values[i * s.len() + j])
                .sum();
            let bound =
                per_atom.phi_error_bound[0] + w_norm * matrix.error_bound + 1e-15 * row.abs();
            let err = (row - per_atom.phi[0][i]).abs();
            assert!(
                err <= bound,
                "p={p} atom {i}: {row} vs {} (err {err:e} > bound {bound:e})",
                per_atom.phi[0][i]
            );
        }
    }
}

#[test]
fn energies_are_invariant_under_rotation() {
    let s = skewed_cell();
    let (c, sn) = (0.3f64.cos(), 0.3f64.sin());
    let rot = Mat3::new(c, -sn, 0.0, sn, c, 0.0, 0.0, 0.0, 1.0)
        * Mat3::new(1.0, 0.0, 0.0, 0.0, c, -sn, 0.0, sn, c);
    let rotated = Structure::new(
        Lattice::from_matrix(s.lattice().matrix() * rot.transpose()).unwrap(),
        s.numbers().to_vec(),
        s.positions().iter().map(|x| rot * x).collect(),
        [true; 3],
    )
    .unwrap();
    let w = Channels::single(vec![1.0, -2.0, 1.5, -1.0, 0.5], 1.0);
    for p in [1.0, 6.0] {
        let a = channel_sums(&s, p, &w, 1e-10, true).unwrap();
        let b = channel_sums(&rotated, p, &w, 1e-10, true).unwrap();
        assert!((a.energy - b.energy).abs() <= a.energy_error_bound + b.energy_error_bound);
        let (fa, fb) = (a.forces.unwrap(), b.forces.unwrap());
        for (x, y) in fa.iter().zip(&fb) {
            assert!((rot * x - y).norm() < 1e-8 * (1.0 + x.norm()));
        }
    }
}
