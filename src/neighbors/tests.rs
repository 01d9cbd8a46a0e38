use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use super::*;
use crate::cell::Lattice;

/// Every pair by direct enumeration of all images that can reach the cutoff.
fn brute_force(s: &Structure, cutoff: f64) -> Vec<(usize, usize, [i32; 3], Vec3)> {
    let l = s.lattice();
    let faces = l.face_distances();
    let frac = s.fractional_positions();
    let spread = [0, 1, 2].map(|k| {
        let (lo, hi) = frac
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), f| {
                (a.min(f[k]), b.max(f[k]))
            });
        hi - lo
    });
    let range = |k: usize| {
        if s.pbc()[k] {
            let m = (cutoff / faces[k] + spread[k]).ceil() as i32 + 1;
            -m..=m
        } else {
            0..=0
        }
    };
    let mut out = Vec::new();
    for i in 0..s.len() {
        for j in 0..s.len() {
            for a in range(0) {
                for b in range(1) {
                    for c in range(2) {
                        let n = Vec3::new(a as f64, b as f64, c as f64);
                        let r = s.positions()[j] + l.to_cartesian(&n) - s.positions()[i];
                        let d = r.norm();
                        if d > 0.0 && d <= cutoff {
                            out.push((i, j, [a, b, c], r));
                        }
                    }
                }
            }
        }
    }
    out.sort_by_key(|p| (p.0, p.1, p.2));
    out
}

fn random_structure(rng: &mut StdRng, shape: usize, n: usize, pbc: [bool; 3]) -> Structure {
    let lattice = loop {
        let mut m = Mat3::zeros();
        for r in 0..3 {
            for c in 0..3 {
                m[(r, c)] = rng.random_range(-1.0..1.0);
            }
            m[(r, r)] += 2.0;
        }
        match shape {
            // strongly skewed: add multiples of the other vectors
            1 => {
                let (r0, r1) = (m.row(0).clone_owned(), m.row(1).clone_owned());
                let s1 = rng.random_range(-3.0..3.0);
                let s2 = rng.random_range(-3.0..3.0);
                m.set_row(1, &(m.row(1) + r0 * s1));
                m.set_row(2, &(m.row(2) + r1 * s2));
            }
            // elongated 1:10
            2 => {
                let k = rng.random_range(0..3);
                m.set_row(k, &(m.row(k) * 10.0));
            }
            _ => {}
        }
        m *= rng.random_range(1.0..3.0);
        if m.determinant() < 0.0 {
            m.set_row(0, &(-m.row(0)));
        }
        if let Ok(l) = Lattice::from_matrix(m) {
            if l.volume() > 0.05 * l.lengths().iter().product::<f64>() {
                break l;
            }
        }
    };
    // Fractional coordinates partly outside [0, 1) to exercise wrapping.
    let frac: Vec<Vec3> = (0..n)
        .map(|_| Vec3::from_fn(|_, _| rng.random_range(-1.3..2.2)))
        .collect();
    Structure::from_fractional(lattice, vec![6; n], &frac, pbc).unwrap()
}

fn assert_same(list: &NeighborList, reference: &[(usize, usize, [i32; 3], Vec3)], what: &str) {
    assert_eq!(list.len(), reference.len(), "{what}: pair count");
    for (p, q) in list.pairs().iter().zip(reference) {
        assert_eq!((p.i, p.j, p.shift), (q.0, q.1, q.2), "{what}");
        assert!((p.r - q.3).norm() < 1e-9, "{what}");
        assert!((p.distance - q.3.norm()).abs() < 1e-9, "{what}");
    }
}

#[test]
fn matches_brute_force_on_random_cells() {
    let mut rng = StdRng::seed_from_u64(7);
    for case in 0..60 {
        let shape = case % 3;
        let n = rng.random_range(1..12);
        let s = random_structure(&mut rng, shape, n, [true; 3]);
        let min_face = s
            .lattice()
            .face_distances()
            .into_iter()
            .fold(f64::INFINITY, f64::min);
        // From well below to well above the cell size.
        let cutoff = min_face * rng.random_range(0.2..3.5);
        let list = NeighborList::build(&s, cutoff).unwrap();
        assert_same(&list, &brute_force(&s, cutoff), &format!("case {case}"));
    }
}

#[test]
fn large_cell_uses_many_bins_and_agrees() {
    let mut rng = StdRng::seed_from_u64(11);
    let base = random_structure(&mut rng, 0, 40, [true; 3]);
    let s = base.supercell([3, 2, 2]).unwrap();
    let cutoff = 2.5;
    let list = NeighborList::build(&s, cutoff).unwrap();
    assert_same(&list, &brute_force(&s, cutoff), "supercell");
}

#[test]
fn non_periodic_axes_get_no_images() {
    let mut rng = StdRng::seed_from_u64(3);
    for (case, pbc) in [
        [true, true, false],
        [false, true, false],
        [false; 3],
        [true, false, true],
    ]
    .into_iter()
    .enumerate()
    {
        let s = random_structure(&mut rng, case % 3, 25, pbc);
        let cutoff = 4.0;
        let list = NeighborList::build(&s, cutoff).unwrap();
        for p in list.pairs() {
            for k in 0..3 {
                assert!(pbc[k] || p.shift[k] == 0, "{pbc:?} {p:?}");
            }
        }
        assert_same(&list, &brute_force(&s, cutoff), &format!("pbc {pbc:?}"));
    }
}

#[test]
fn half_list_is_half_of_full_list() {
    let mut rng = StdRng::seed_from_u64(5);
    for case in 0..12 {
        let s = random_structure(&mut rng, case % 3, 7, [true; 3]);
        let cutoff = 1.7 * s.lattice().face_distances()[0];
        let full = NeighborList::build(&s, cutoff).unwrap();
        let half = NeighborList::build_with(&s, cutoff, ListKind::Half).unwrap();
        assert_eq!(half.kind(), ListKind::Half);
        assert_eq!(2 * half.len(), full.len());
        let mut doubled: Vec<_> = half
            .pairs()
            .iter()
            .flat_map(|p| [(p.i, p.j, p.shift), (p.j, p.i, p.shift.map(|x| -x))])
            .collect();
        doubled.sort();
        let all: Vec<_> = full.pairs().iter().map(|p| (p.i, p.j, p.shift)).collect();
        assert_eq!(doubled, all);
        for i in 0..s.len() {
            assert!(full.pairs_of(i).iter().all(|p| p.i == i));
        }
    }
}

#[test]
fn rejects_invalid_cutoffs() {
    let s = crate::structure::tests::rocksalt(5.64);
    for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let err = NeighborList::build(&s, bad).unwrap_err();
        assert!(err.to_string().contains("positive finite"), "{err}");
    }
    let err = NeighborList::build(&s, 1e5).unwrap_err();
    assert!(err.to_string().contains("cutoff"), "{err}");
    assert!(NeighborList::build(&s, 1e-3).unwrap().is_empty());
}

#[test]
fn rejects_atoms_absurdly_far_from_the_cell() {
    let l = Lattice::from_rows([[3.0, 0.0, 0.0], [0.0, 3.0, 0.0], [0.0, 0.0, 3.0]]).unwrap();
    let s = Structure::new(l, vec![1], vec![Vec3::new(1e12, 0.0, 0.0)], [true; 3]).unwrap();
    let err = NeighborList::build(&s, 2.0).unwrap_err();
    assert!(err.to_string().contains("cells away"), "{err}");
}

#[test]
fn min_distance_finds_the_closest_pair_and_checks_name_it() {
    let s = crate::structure::tests::rocksalt(5.64)
        .supercell([2, 1, 3])
        .unwrap();
    let (d, _, _) = min_distance(&s).unwrap().unwrap();
    assert!((d - 2.82).abs() < 1e-12);
    assert!(check_min_distance(&s, 2.8).is_ok());
    let l = Lattice::from_rows([[3.0, 0.0, 0.0], [0.0, 3.0, 0.0], [0.0, 0.0, 3.0]]).unwrap();
    let close = Structure::new(
        l,
        vec![1, 8],
        vec![Vec3::zeros(), Vec3::new(0.1, 0.0, 2.9)],
        [true; 3],
    )
    .unwrap();
    let err = check_min_distance(&close, 0.5).unwrap_err().to_string();
    assert!(
        err.contains("atoms 0 (H) and 1 (O) are 0.1414 Å apart"),
        "{err}"
    );
}
