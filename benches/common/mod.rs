//! Structures shared by the benchmarks.

// Each bench uses a subset of these.
#![allow(dead_code)]

use crystalpot::{Lattice, Structure, Vec3};

/// Rock-salt NaCl with n³ conventional cells (8 n³ atoms), slightly rattled.
pub fn rocksalt(n: usize) -> Structure {
    let a = 5.64;
    let lattice = Lattice::from_rows([[a, 0.0, 0.0], [0.0, a, 0.0], [0.0, 0.0, a]]).unwrap();
    let frac = [
        [0.0, 0.0, 0.0],
        [0.0, 0.5, 0.5],
        [0.5, 0.0, 0.5],
        [0.5, 0.5, 0.0],
        [0.5, 0.0, 0.0],
        [0.5, 0.5, 0.5],
        [0.0, 0.0, 0.5],
        [0.0, 0.5, 0.0],
    ]
    .map(|f| Vec3::new(f[0], f[1], f[2]));
    let cell = Structure::from_fractional(
        lattice,
        vec![11, 11, 11, 11, 17, 17, 17, 17],
        &frac,
        [true; 3],
    )
    .unwrap();
    rattled(&cell.supercell([n, n, n]).unwrap(), 0.05)
}

/// Diamond Si with n³ conventional cells (8 n³ atoms), rattled by up to 0.05 Å.
pub fn diamond_si(n: usize) -> Structure {
    let a = 5.43;
    let lattice = Lattice::from_rows([[a, 0.0, 0.0], [0.0, a, 0.0], [0.0, 0.0, a]]).unwrap();
    let frac = [
        [0.0, 0.0, 0.0],
        [0.0, 0.5, 0.5],
        [0.5, 0.0, 0.5],
        [0.5, 0.5, 0.0],
        [0.25, 0.25, 0.25],
        [0.25, 0.75, 0.75],
        [0.75, 0.25, 0.75],
        [0.75, 0.75, 0.25],
    ]
    .map(|f| Vec3::new(f[0], f[1], f[2]));
    let cell = Structure::from_fractional(lattice, vec![14; 8], &frac, [true; 3]).unwrap();
    rattled(&cell.supercell([n, n, n]).unwrap(), 0.05)
}

/// `s` with every atom moved by a deterministic offset of up to `amplitude` Å per axis.
fn rattled(s: &Structure, amplitude: f64) -> Structure {
    let positions = s
        .positions()
        .iter()
        .enumerate()
        .map(|(i, x)| {
            x + Vec3::new(
                (i as f64 * 0.37).sin(),
                (i as f64 * 0.71).cos(),
                (i as f64 * 1.3).sin(),
            ) * amplitude
        })
        .collect();
    Structure::new(*s.lattice(), s.numbers().to_vec(), positions, [true; 3]).unwrap()
}
