//! Structures shared by the benchmarks.

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
    let big = cell.supercell([n, n, n]).unwrap();
    let positions = big
        .positions()
        .iter()
        .enumerate()
        .map(|(i, x)| {
            x + Vec3::new(
                (i as f64 * 0.37).sin(),
                (i as f64 * 0.71).cos(),
                (i as f64 * 1.3).sin(),
            ) * 0.05
        })
        .collect();
    Structure::new(*big.lattice(), big.numbers().to_vec(), positions, [true; 3]).unwrap()
}
