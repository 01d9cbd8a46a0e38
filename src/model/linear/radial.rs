//! The radial side of the local basis: Chebyshev polynomials of the distance under a smooth
//! envelope, frozen inside the training data's closest approach, and a screened nuclear
//! (ZBL) repulsion that takes over there.
//!
//! Frozen: below the inner distance r_in of a species pair, the radial functions see
//! s(r) = r_in − h (1 − e^{−(r_in − r)/h}) instead of r (s and s' continuous at r_in), so the
//! fitted polynomials cannot swing to large values where no data constrained them, and the
//! forces stay continuous. The repulsion ZBL(r) · sw(r) switches off (C² quintic) between
//! 0.6 r_in and r_in: it never touches the training data, and below 0.6 r_in it is the
//! physical screened Coulomb repulsion of the nuclei.

/// Length (Å) over which the radial argument freezes below r_in.
const FREEZE_LENGTH: f64 = 0.2;

/// Where the ZBL repulsion starts to switch off, as a fraction of r_in.
const CORE_SWITCH_START: f64 = 0.6;

/// Coulomb constant e²/(4πε₀) in eV·Å.
const COULOMB: f64 = 14.399645478425668;

/// The radial functions of one species pair, with values and r-derivatives.
#[derive(Clone, Debug, PartialEq)]
pub struct Radial {
    pub n_max: usize,
    pub cutoff: f64,
    pub inner: f64,
}

impl Radial {
    /// s(r) and ds/dr.
    fn argument(&self, r: f64) -> (f64, f64) {
        if r >= self.inner {
            return (r, 1.0);
        }
        let e = (-(self.inner - r) / FREEZE_LENGTH).exp();
        (self.inner - FREEZE_LENGTH * (1.0 - e), e)
    }

    /// R_n(r) = T_n(2s/r_c − 1) (1 − (s/r_c)²)² for n < n_max, into `values` and, with
    /// `derivatives`, dR_n/dr. Zero beyond the cutoff.
    pub fn evaluate(&self, r: f64, values: &mut [f64], derivatives: &mut [f64]) {
        if r >= self.cutoff {
            values.fill(0.0);
            derivatives.fill(0.0);
            return;
        }
        let (s, ds) = self.argument(r);
        let t = s / self.cutoff;
        let x = 2.0 * t - 1.0;
        let dx = 2.0 / self.cutoff;
        let envelope = (1.0 - t * t).powi(2);
        let d_envelope = -4.0 * t * (1.0 - t * t) / self.cutoff;
        // Chebyshev T_n and T_n' by their three-term recursions.
        let (mut t0, mut t1) = (1.0, x);
        let (mut d0, mut d1) = (0.0, 1.0);
        for n in 0..self.n_max {
            let (tn, dn) = (t0, d0);
            values[n] = tn * envelope;
            derivatives[n] = (dn * dx * envelope + tn * d_envelope) * ds;
            let t2 = 2.0 * x * t1 - t0;
            let d2 = 2.0 * t1 + 2.0 * x * d1 - d0;
            (t0, t1, d0, d1) = (t1, t2, d1, d2);
        }
    }
}

/// Universal screened nuclear repulsion (Ziegler–Biersack–Littmark) of atomic numbers z1,
/// z2, switched off smoothly at `inner`: (energy, d energy / dr).
pub fn core_repulsion(z1: u8, z2: u8, inner: f64, r: f64) -> (f64, f64) {
    if r >= inner {
        return (0.0, 0.0);
    }
    let (z1, z2) = (f64::from(z1), f64::from(z2));
    let a = 0.46850 / (z1.powf(0.23) + z2.powf(0.23));
    const TERMS: [(f64, f64); 4] = [
        (0.18175, 3.19980),
        (0.50986, 0.94229),
        (0.28022, 0.40290),
        (0.02817, 0.20162),
    ];
    let x = r / a;
    let (mut screen, mut d_screen) = (0.0, 0.0);
    for (c, d) in TERMS {
        let e = c * (-d * x).exp();
        screen += e;
        d_screen -= d * e / a;
    }
    let k = COULOMB * z1 * z2;
    let (e, de) = (k * screen / r, k * (d_screen / r - screen / (r * r)));
    let start = CORE_SWITCH_START * inner;
    if r <= start {
        return (e, de);
    }
    let t = (r - start) / (inner - start);
    let sw = 1.0 - t * t * t * (10.0 - 15.0 * t + 6.0 * t * t);
    let dsw = -30.0 * t * t * (1.0 - t) * (1.0 - t) / (inner - start);
    (e * sw, de * sw + e * dsw)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finite_difference(f: impl Fn(f64) -> f64, r: f64) -> f64 {
        let h = 1e-6;
        (f(r + h) - f(r - h)) / (2.0 * h)
    }

    #[test]
    fn radial_derivatives_match_finite_differences_inside_and_outside_r_in() {
        let radial = Radial {
            n_max: 8,
            cutoff: 5.0,
            inner: 2.0,
        };
        for r in [0.7, 1.9, 2.3, 4.2, 4.99] {
            let (mut v, mut d) = (vec![0.0; 8], vec![0.0; 8]);
            radial.evaluate(r, &mut v, &mut d);
            for n in 0..8 {
                let fd = finite_difference(
                    |r| {
                        let (mut v, mut d) = (vec![0.0; 8], vec![0.0; 8]);
                        radial.evaluate(r, &mut v, &mut d);
                        v[n]
                    },
                    r,
                );
                assert!((fd - d[n]).abs() < 1e-6 * (1.0 + fd.abs()), "r {r} n {n}");
            }
        }
    }

    #[test]
    fn radial_functions_and_their_slopes_vanish_at_the_cutoff() {
        let radial = Radial {
            n_max: 6,
            cutoff: 5.0,
            inner: 2.0,
        };
        let (mut v, mut d) = (vec![0.0; 6], vec![0.0; 6]);
        radial.evaluate(5.0 - 1e-7, &mut v, &mut d);
        assert!(v.iter().all(|x| x.abs() < 1e-12));
        assert!(d.iter().all(|x| x.abs() < 1e-5));
    }

    #[test]
    fn core_repulsion_is_zbl_inside_smooth_and_zero_at_r_in() {
        let (e, _) = core_repulsion(14, 14, 2.0, 0.5);
        // Si–Si ZBL at 0.5 Å: 14² · 14.4 eV·Å / 0.5 Å · φ(3.92) ≈ 5645 eV · 0.083 ≈ 470 eV.
        assert!(e > 400.0 && e < 550.0, "{e}");
        for r in [0.5, 1.3, 1.7, 1.99] {
            let fd = finite_difference(|r| core_repulsion(14, 14, 2.0, r).0, r);
            let (_, de) = core_repulsion(14, 14, 2.0, r);
            assert!(
                (fd - de).abs() < 1e-5 * (1.0 + de.abs()),
                "r {r}: {fd} {de}"
            );
        }
        assert_eq!(core_repulsion(14, 14, 2.0, 2.0), (0.0, 0.0));
    }
}
