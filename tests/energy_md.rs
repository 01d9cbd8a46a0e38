//! Molecular dynamics with the shipped linear Si model and the message-passing network kept for
//! tests: 2 ps of NVE (velocity Verlet, 1 fs) of a
//! Si diamond cell started at 1000 K must not drift: the mean total energy of the last 0.2 ps
//! is within 1e-4 eV/atom of that of the first 0.2 ps, and the step-to-step fluctuation (the
//! integrator's O(dt²) wobble) stays below 1e-3 eV/atom. This is what smoothness at the
//! cutoff and exact forces buy; a jump or a force that is not the energy's gradient shows up
//! here as drift.

use crystalpot::model::Request;
use crystalpot::train::split::Rng;
use crystalpot::{Calculator, Lattice, Structure, Vec3};

/// amu·Å²/fs² in eV.
const AMU_A2_PER_FS2: f64 = 103.642_696_5;
/// Boltzmann constant (eV/K).
const K_B: f64 = 8.617_333_262e-5;
const SI_MASS: f64 = 28.0855;

fn diamond_si() -> Structure {
    let a = 5.43;
    let lattice = Lattice::from_rows([[a, 0.0, 0.0], [0.0, a, 0.0], [0.0, 0.0, a]]).unwrap();
    let fcc = [
        [0.0, 0.0, 0.0],
        [0.0, 0.5, 0.5],
        [0.5, 0.0, 0.5],
        [0.5, 0.5, 0.0],
    ];
    let frac: Vec<Vec3> = fcc
        .iter()
        .flat_map(|f| {
            [
                Vec3::new(f[0], f[1], f[2]),
                Vec3::new(f[0] + 0.25, f[1] + 0.25, f[2] + 0.25),
            ]
        })
        .collect();
    Structure::from_fractional(lattice, vec![14; 8], &frac, [true; 3]).unwrap()
}

/// Maxwell–Boltzmann velocities (Å/fs) at `kelvin`, without centre-of-mass motion.
fn velocities(n: usize, kelvin: f64, seed: u64) -> Vec<Vec3> {
    let mut rng = Rng::new(seed);
    let mut uniform = || ((rng.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
    let sigma = (K_B * kelvin / (SI_MASS * AMU_A2_PER_FS2)).sqrt();
    let mut v: Vec<Vec3> = (0..n)
        .map(|_| {
            Vec3::from_fn(|_, _| {
                // Box–Muller.
                let (u1, u2) = (uniform(), uniform());
                sigma * (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
            })
        })
        .collect();
    let mean = v.iter().sum::<Vec3>() / n as f64;
    v.iter_mut().for_each(|x| *x -= mean);
    v
}

#[test]
fn message_passing_si_model_conserves_energy_over_2_ps() {
    conserves_energy("tests/data/energy-model-Si.safetensors");
}

#[test]
fn shipped_linear_si_model_conserves_energy_over_2_ps() {
    conserves_energy("models/linear-mlearn-Si.safetensors");
}

/// 2 ps of NVE from 1000 K with the model at `path` (relative to the crate).
fn conserves_energy(path: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    let calc = Calculator::from_file(&path).unwrap();
    let mut s = diamond_si();
    let n = s.len();
    let mut v = velocities(n, 1000.0, 7);
    let forces = |s: &Structure| {
        let r = calc
            .compute(
                s,
                &Request {
                    forces: true,
                    ..Request::default()
                },
            )
            .unwrap();
        (r.energy, r.forces.unwrap())
    };
    let kinetic = |v: &[Vec3]| {
        0.5 * SI_MASS * AMU_A2_PER_FS2 * v.iter().map(|x| x.norm_squared()).sum::<f64>()
    };
    let dt = 1.0;
    let (mut e_pot, mut f) = forces(&s);
    let mut totals = vec![e_pot + kinetic(&v)];
    for _ in 0..2000 {
        let accel = |f: &[Vec3]| {
            f.iter()
                .map(|x| x / (SI_MASS * AMU_A2_PER_FS2))
                .collect::<Vec<_>>()
        };
        let a = accel(&f);
        let x: Vec<Vec3> = s
            .positions()
            .iter()
            .zip(&v)
            .zip(&a)
            .map(|((x, v), a)| x + v * dt + a * (0.5 * dt * dt))
            .collect();
        s = Structure::new(*s.lattice(), s.numbers().to_vec(), x, [true; 3]).unwrap();
        let (e_new, f_new) = forces(&s);
        let a_new = accel(&f_new);
        v.iter_mut()
            .zip(a.iter().zip(&a_new))
            .for_each(|(v, (a0, a1))| *v += (a0 + a1) * (0.5 * dt));
        (e_pot, f) = (e_new, f_new);
        totals.push(e_pot + kinetic(&v));
    }
    let window = 200;
    let mean = |t: &[f64]| t.iter().sum::<f64>() / t.len() as f64;
    let drift = (mean(&totals[totals.len() - window..]) - mean(&totals[..window])).abs() / n as f64;
    let (lo, hi) = totals
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &e| {
            (lo.min(e), hi.max(e))
        });
    let fluctuation = (hi - lo) / n as f64;
    let temperature = 2.0 * kinetic(&v) / (3.0 * (n - 1) as f64 * K_B);
    assert!(
        temperature > 100.0,
        "the cell froze ({temperature} K): not a real MD test"
    );
    assert!(drift < 1e-4, "total energy drifted by {drift} eV/atom");
    assert!(
        fluctuation < 1e-3,
        "total energy fluctuated by {fluctuation} eV/atom"
    );
    eprintln!("drift {drift:.2e} eV/atom, fluctuation {fluctuation:.2e} eV/atom, {temperature:.0} K at the end");
}
