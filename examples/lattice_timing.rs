//! Quick timing of the exact pair matrices (Coulomb, London, Pauli α = 3) for a 20-atom cell
//! at 1e-10: `cargo run --release --example lattice_timing`.

use std::time::Instant;

use crystalpot::lattice::{pair_matrices, Potential, Tolerance};
use crystalpot::{Lattice, Structure, Vec3};

fn main() -> crystalpot::Result<()> {
    let lattice = Lattice::from_parameters([6.1, 6.8, 7.3], [82.0, 97.0, 104.0])?;
    // 20 atoms on a jittered 3×3×3 grid (first 20 sites), deterministic.
    let mut frac = Vec::new();
    for k in 0..27 {
        let (a, b, c) = (k % 3, (k / 3) % 3, k / 9);
        let jitter = |s: usize| ((k * 7919 + s * 104729) % 1000) as f64 / 1000.0 * 0.12;
        frac.push(Vec3::new(
            (a as f64 + jitter(1)) / 3.0,
            (b as f64 + jitter(2)) / 3.0,
            (c as f64 + jitter(3)) / 3.0,
        ));
    }
    frac.truncate(20);
    let structure = Structure::from_fractional(lattice, vec![6; 20], &frac, [true; 3])?;
    let potentials = [
        Potential::InversePower(1.0),
        Potential::InversePower(6.0),
        Potential::Exponential {
            alpha: 3.0,
            include_self: true,
        },
    ];
    for tol in [Tolerance::Absolute(1e-10), Tolerance::Relative(1e-10)] {
        let result = pair_matrices(&structure, &potentials, tol)?;
        let reps = 2000;
        let start = Instant::now();
        for _ in 0..reps {
            std::hint::black_box(pair_matrices(&structure, &potentials, tol)?);
        }
        let per_call = start.elapsed().as_secs_f64() / reps as f64;
        let bounds: Vec<String> = result
            .iter()
            .map(|m| format!("{:.1e}", m.error_bound))
            .collect();
        println!(
            "{tol:?}: {:.1} µs per call (3 matrices, N = 20); bounds {}",
            per_call * 1e6,
            bounds.join(", ")
        );
    }
    Ok(())
}
