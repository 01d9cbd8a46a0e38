//! Smooth PME against the exact Ewald engine: random skewed cells (1/r and 1/r⁶, one and
//! several weight channels), finite differences of the PME energy, translation and supercell
//! invariance, and the neutralising-background convention for non-neutral weights.

use crystalpot::lattice::per_atom::{
    channel_sums_with, ChannelSums, Channels, Method, MethodUsed, PmeParameters, SumOptions,
};
use crystalpot::{Lattice, Structure, Vec3};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// A skewed cell (angles 60–120°, edges 1:1.6) holding `n` atoms on a jittered grid, at least
/// ~1.2 Å apart.
fn random_cell(rng: &mut StdRng, n_side: usize) -> Structure {
    let spacing = 2.4;
    let lengths = [0, 1, 2].map(|_| spacing * n_side as f64 * rng.random_range(0.8..1.3));
    let angles = [0, 1, 2].map(|_| rng.random_range(60.0..120.0));
    let lattice = Lattice::from_parameters(lengths, angles).unwrap();
    let mut frac = Vec::new();
    for a in 0..n_side {
        for b in 0..n_side {
            for c in 0..n_side {
                let mut jitter = || rng.random_range(-0.12..0.12) / n_side as f64;
                let f = Vec3::new(a as f64, b as f64, c as f64) / n_side as f64;
                frac.push(f + Vec3::new(jitter(), jitter(), jitter()));
            }
        }
    }
    let numbers = (0..frac.len())
        .map(|i| if i % 2 == 0 { 11 } else { 17 })
        .collect();
    Structure::from_fractional(lattice, numbers, &frac, [true; 3]).unwrap()
}

fn charges(s: &Structure) -> Vec<f64> {
    s.numbers()
        .iter()
        .map(|&z| if z == 11 { 1.0 } else { -1.0 })
        .collect()
}

fn options(tolerance: f64, method: Method) -> SumOptions {
    SumOptions {
        tolerance,
        derivatives: true,
        method,
        pme_parameters: None,
    }
}

fn rms(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v * v, n + 1));
    (sum / n as f64).sqrt()
}

/// RMS and max deviations of φ (per channel, per unit of its largest weight), forces and
/// virial between PME and exact sums.
struct Deviation {
    phi_rms: f64,
    phi_max: f64,
    force_rms: f64,
    virial_max: f64,
    energy: f64,
}

fn deviation(pme: &ChannelSums, exact: &ChannelSums, channels: &Channels) -> Deviation {
    let mut phi_rms: f64 = 0.0;
    let mut phi_max: f64 = 0.0;
    for (c, w) in channels.weights.iter().enumerate() {
        let max_w = w.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        let d = pme.phi[c]
            .iter()
            .zip(&exact.phi[c])
            .map(|(a, b)| (a - b) / max_w);
        phi_rms = phi_rms.max(rms(d.clone()));
        phi_max = phi_max.max(d.fold(0.0, |m, x| m.max(x.abs())));
    }
    let (fp, fe) = (pme.forces.as_ref().unwrap(), exact.forces.as_ref().unwrap());
    let force_rms = rms(fp.iter().zip(fe).map(|(a, b)| (a - b).norm()));
    Deviation {
        phi_rms,
        phi_max,
        force_rms,
        virial_max: (pme.virial.unwrap() - exact.virial.unwrap()).abs().max(),
        energy: (pme.energy - exact.energy).abs(),
    }
}

#[test]
fn pme_matches_exact_ewald_on_random_skewed_cells() {
    let mut rng = StdRng::seed_from_u64(18);
    for case in 0..4 {
        let s = random_cell(&mut rng, 7 + case % 2);
        let q = charges(&s);
        // Coulomb charges; geometric-mixing dispersion B_i; per-element channels with a
        // symmetric coupling (the energy network's Φ_iB).
        let b: Vec<f64> = (0..s.len()).map(|_| rng.random_range(0.5..2.0)).collect();
        let elements = Channels {
            weights: vec![
                q.iter().map(|&x| if x > 0.0 { 1.0 } else { 0.0 }).collect(),
                q.iter().map(|&x| if x < 0.0 { 1.0 } else { 0.0 }).collect(),
            ],
            coupling: vec![0.7, -0.3, -0.3, 1.1],
        };
        let sets = [
            (1.0, Channels::single(q.clone(), 1.0)),
            (6.0, Channels::single(b, -1.0)),
            (1.0, elements.clone()),
            (6.0, elements),
        ];
        for (p, channels) in &sets {
            let exact =
                channel_sums_with(&s, *p, channels, &options(1e-10, Method::Ewald)).unwrap();
            assert_eq!(exact.method, MethodUsed::Ewald);
            for tol in [1e-3, 1e-5] {
                let pme = channel_sums_with(&s, *p, channels, &options(tol, Method::Pme)).unwrap();
                assert!(matches!(pme.method, MethodUsed::Pme(_)));
                let d = deviation(&pme, &exact, channels);
                let w_max = channels
                    .weights
                    .iter()
                    .flatten()
                    .fold(0.0f64, |m, x| m.max(x.abs()));
                // Forces and energies couple channels through M: per unit weight² and of the
                // largest row sum of |M|.
                let nc = channels.weights.len();
                let m_row = (0..nc)
                    .map(|c| {
                        (0..nc)
                            .map(|d| channels.coupling[c * nc + d].abs())
                            .sum::<f64>()
                    })
                    .fold(0.0, f64::max);
                let f_scale = tol * w_max * w_max * m_row;
                let label = format!(
                    "case {case} p={p} nc={} tol={tol:e}: ",
                    channels.weights.len()
                );
                // RMS errors within the requested accuracy (per unit weight), the largest
                // within a few RMS, and the reported estimates no smaller than the RMS.
                assert!(d.phi_rms <= tol, "{label}φ rms {:e}", d.phi_rms);
                assert!(d.phi_max <= 5.0 * tol, "{label}φ max {:e}", d.phi_max);
                assert!(d.force_rms <= f_scale, "{label}F rms {:e}", d.force_rms);
                for (c, w) in channels.weights.iter().enumerate() {
                    let max_w = w.iter().fold(0.0f64, |m, x| m.max(x.abs()));
                    assert!(
                        pme.phi_error_bound[c] <= 1.0001 * tol * max_w,
                        "{label}estimate"
                    );
                }
                // Energies per atom within the tolerance (per unit weight²).
                let per_atom = d.energy / s.len() as f64;
                assert!(per_atom <= f_scale, "{label}E/N {per_atom:e}");
                // W = Σ x F for homogeneous sums: its error is about Σ |x| δF.
                let extent = s.lattice().lengths().iter().fold(0.0f64, |m, &l| m.max(l));
                let virial_scale = s.len() as f64 * extent * f_scale;
                assert!(
                    d.virial_max <= virial_scale,
                    "{label}W {:e} > {virial_scale:e}",
                    d.virial_max
                );
            }
        }
    }
}

fn fixed(eta: f64, r_cut: f64, order: usize, mesh: usize) -> SumOptions {
    SumOptions {
        tolerance: 1e-3,
        derivatives: true,
        method: Method::Pme,
        pme_parameters: Some(PmeParameters {
            eta,
            r_cut,
            order,
            mesh: [mesh; 3],
        }),
    }
}

fn rebuilt(s: &Structure, lattice: Lattice, positions: Vec<Vec3>) -> Structure {
    Structure::new(lattice, s.numbers().to_vec(), positions, [true; 3]).unwrap()
}

/// The PME energy (fixed parameters: a fixed mesh in fractional coordinates) is a smooth
/// function of positions and strain; its forces and virial are its exact derivatives. η r_cut
/// ≈ 5.4 makes the real-space cut-off jump negligible.
#[test]
fn pme_forces_and_virial_are_derivatives_of_the_pme_energy() {
    let mut rng = StdRng::seed_from_u64(6);
    let s = random_cell(&mut rng, 4);
    let q = charges(&s);
    let b: Vec<f64> = (0..s.len()).map(|_| rng.random_range(0.5..2.0)).collect();
    let sets = [
        (1.0, Channels::single(q.clone(), 1.0)),
        (
            6.0,
            Channels {
                weights: vec![b, q],
                coupling: vec![-1.0, 0.2, 0.2, 0.5],
            },
        ),
    ];
    let options = fixed(0.9, 6.0, 6, 40);
    for (p, channels) in &sets {
        let energy = |s: &Structure| channel_sums_with(s, *p, channels, &options).unwrap().energy;
        let full = channel_sums_with(&s, *p, channels, &options).unwrap();
        let forces = full.forces.unwrap();
        let scale = forces.iter().map(|f| f.norm()).fold(0.0, f64::max);
        let h = 1e-5;
        for atom in [0, 17, 40] {
            for axis in 0..3 {
                let shifted = |d: f64| {
                    let mut x = s.positions().to_vec();
                    x[atom][axis] += d;
                    rebuilt(&s, *s.lattice(), x)
                };
                let fd = -(energy(&shifted(h)) - energy(&shifted(-h))) / (2.0 * h);
                let err = (fd - forces[atom][axis]).abs();
                assert!(
                    err < 1e-6 * scale,
                    "p={p} atom {atom} axis {axis}: {fd} vs {}",
                    forces[atom][axis]
                );
            }
        }
        let virial = full.virial.unwrap();
        let vscale = virial.abs().max();
        for a in 0..3 {
            for c in a..3 {
                let strained = |d: f64| {
                    let mut eps = crystalpot::Mat3::zeros();
                    eps[(a, c)] = d;
                    eps[(c, a)] = d;
                    let f = crystalpot::Mat3::identity() + eps;
                    let l = Lattice::from_matrix(s.lattice().matrix() * f.transpose()).unwrap();
                    rebuilt(&s, l, s.positions().iter().map(|x| f * x).collect())
                };
                let fd = -(energy(&strained(h)) - energy(&strained(-h))) / (2.0 * h);
                let analytic = if a == c {
                    virial[(a, a)]
                } else {
                    virial[(a, c)] + virial[(c, a)]
                };
                assert!(
                    (fd - analytic).abs() < 1e-6 * vscale,
                    "p={p} W[{a}{c}]: {fd} vs {analytic}"
                );
            }
        }
    }
}

/// Moving every atom by one vector, or repeating the cell, changes PME results only within
/// the requested accuracy (the mesh breaks both symmetries at that level).
#[test]
fn translation_and_supercell_invariance() {
    let mut rng = StdRng::seed_from_u64(7);
    let s = random_cell(&mut rng, 6);
    let q = charges(&s);
    let channels = Channels::single(q.clone(), 1.0);
    let tol = 1e-5;
    for p in [1.0, 6.0] {
        let base = channel_sums_with(&s, p, &channels, &options(tol, Method::Pme)).unwrap();
        let shift = Vec3::new(0.37, -1.21, 2.05);
        let moved = rebuilt(
            &s,
            *s.lattice(),
            s.positions().iter().map(|x| x + shift).collect(),
        );
        let other = channel_sums_with(&moved, p, &channels, &options(tol, Method::Pme)).unwrap();
        let n = s.len() as f64;
        assert!(
            (other.energy - base.energy).abs() / n <= tol,
            "p={p} translation: E"
        );
        let (fa, fb) = (base.forces.unwrap(), other.forces.unwrap());
        assert!(
            rms(fa.iter().zip(&fb).map(|(a, b)| (a - b).norm())) <= 2.0 * tol,
            "p={p}"
        );

        let sc = s.supercell([2, 1, 1]).unwrap();
        let q2: Vec<f64> = q.iter().chain(&q).copied().collect();
        let big = channel_sums_with(
            &sc,
            p,
            &Channels::single(q2, 1.0),
            &options(tol, Method::Pme),
        )
        .unwrap();
        assert!(
            (big.energy - 2.0 * base.energy).abs() / (2.0 * n) <= tol,
            "p={p} supercell"
        );
        assert!(
            (big.virial.unwrap() - base.virial.unwrap() * 2.0)
                .abs()
                .max()
                <= 2.0 * n * 20.0 * tol
        );
    }
}

/// Non-neutral weights: PME keeps the exact engine's convention (neutralising background for
/// 1/r, the zero-average continuation; the same G = 0 constant), so the two agree.
#[test]
fn non_neutral_weights_follow_the_exact_background_convention() {
    let mut rng = StdRng::seed_from_u64(8);
    let s = random_cell(&mut rng, 6);
    let w: Vec<f64> = (0..s.len())
        .map(|i| if i % 3 == 0 { -1.0 } else { 0.8 })
        .collect();
    assert!(w.iter().sum::<f64>().abs() > 10.0);
    let channels = Channels::single(w, 1.0);
    let tol = 1e-5;
    for p in [1.0, 2.0, 6.0] {
        let exact = channel_sums_with(&s, p, &channels, &options(1e-10, Method::Ewald)).unwrap();
        let pme = channel_sums_with(&s, p, &channels, &options(tol, Method::Pme)).unwrap();
        let d = deviation(&pme, &exact, &channels);
        assert!(d.phi_rms <= tol, "p={p}: φ rms {:e}", d.phi_rms);
        assert!(d.force_rms <= tol, "p={p}: F rms {:e}", d.force_rms);
        assert!(d.energy / s.len() as f64 <= tol, "p={p}: E {:e}", d.energy);
    }
}

/// Small cells stay exact (rigorous bounds); an explicit PME request is honoured; bad fixed
/// parameters are refused with a reason.
#[test]
fn method_choice_and_bad_parameters() {
    let mut rng = StdRng::seed_from_u64(9);
    let s = random_cell(&mut rng, 4);
    let channels = Channels::single(charges(&s), 1.0);
    let auto = channel_sums_with(&s, 1.0, &channels, &options(1e-6, Method::Auto)).unwrap();
    assert_eq!(auto.method, MethodUsed::Ewald);
    let mut bad = fixed(0.5, 6.0, 6, 4);
    let err = channel_sums_with(&s, 1.0, &channels, &bad)
        .unwrap_err()
        .to_string();
    assert!(err.contains("mesh size"), "{err}");
    bad.pme_parameters.as_mut().unwrap().eta = f64::NAN;
    assert!(channel_sums_with(&s, 1.0, &channels, &bad).is_err());
    // Beyond double precision: refused, whichever limit (PME's reach or rounding) is hit.
    assert!(channel_sums_with(&s, 1.0, &channels, &options(1e-17, Method::Pme)).is_err());
    assert_eq!("pme".parse::<Method>().unwrap(), Method::Pme);
    assert!("fast"
        .parse::<Method>()
        .unwrap_err()
        .to_string()
        .contains("ewald, pme or auto"));
}
