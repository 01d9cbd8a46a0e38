//! Real orthonormal spherical harmonics Y_lm(r̂) and their gradients with respect to the
//! (not normalised) vector r, for every l ≤ l_max at once.
//!
//! The solid harmonics S_lm(r) = r^l Y_lm(r̂) are homogeneous polynomials, built by the
//! associated-Legendre recursion in (z, r²) times Re/Im (x + iy)^m; each is carried with its
//! gradient. At a unit vector u, Y(r) = S(u) and ∇_r Y = (∇S(u) − l S(u) u) / |r| (Euler's
//! theorem for a homogeneous function of degree l). No Condon–Shortley phase; index
//! l² + l + m, m = −l..l, with m > 0 the cosine and m < 0 the sine harmonics.

use crate::cell::Vec3;

/// A polynomial's value and gradient at one point.
#[derive(Clone, Copy, Debug, Default)]
struct Jet {
    v: f64,
    g: [f64; 3],
}

impl Jet {
    fn constant(v: f64) -> Self {
        Jet { v, g: [0.0; 3] }
    }
    fn coordinate(v: f64, axis: usize) -> Self {
        let mut g = [0.0; 3];
        g[axis] = 1.0;
        Jet { v, g }
    }
    fn mul(self, o: Jet) -> Jet {
        Jet {
            v: self.v * o.v,
            g: [0, 1, 2].map(|k| self.g[k] * o.v + self.v * o.g[k]),
        }
    }
    fn scale(self, s: f64) -> Jet {
        Jet {
            v: self.v * s,
            g: self.g.map(|x| x * s),
        }
    }
    fn sub(self, o: Jet) -> Jet {
        Jet {
            v: self.v - o.v,
            g: [0, 1, 2].map(|k| self.g[k] - o.g[k]),
        }
    }
    fn add(self, o: Jet) -> Jet {
        self.sub(o.scale(-1.0))
    }
}

/// Number of harmonics with l ≤ l_max.
pub fn count(l_max: usize) -> usize {
    (l_max + 1) * (l_max + 1)
}

/// Index of Y_lm in the arrays [`evaluate`] fills.
pub fn index(l: usize, m: i64) -> usize {
    ((l * l + l) as i64 + m) as usize
}

/// Normalisation √((2l+1)/4π · (l−m)!/(l+m)!) (times √2 for m ≠ 0), for m ≥ 0.
fn normalisation(l: usize, m: usize) -> f64 {
    let mut ratio = 1.0;
    for k in (l - m + 1)..=(l + m) {
        ratio /= k as f64;
    }
    let n = ((2 * l + 1) as f64 / (4.0 * std::f64::consts::PI) * ratio).sqrt();
    if m == 0 {
        n
    } else {
        n * std::f64::consts::SQRT_2
    }
}

/// Fills `values` (and `gradients`, ∂Y_lm/∂r, when given) for every l ≤ l_max at vector `r`
/// (|r| > 0). Both slices have [`count`]`(l_max)` entries.
pub fn evaluate(r: &Vec3, l_max: usize, values: &mut [f64], gradients: Option<&mut [Vec3]>) {
    let norm = r.norm();
    let u = r / norm;
    let x = Jet::coordinate(u[0], 0);
    let y = Jet::coordinate(u[1], 1);
    let z = Jet::coordinate(u[2], 2);
    let r2 = x.mul(x).add(y.mul(y)).add(z.mul(z));
    let n = count(l_max);
    let mut solid = vec![Jet::default(); n];
    // (cos, sin) parts Re/Im (x + iy)^m and the Legendre factor Q_l^m(z, r²).
    let (mut c, mut s) = (Jet::constant(1.0), Jet::constant(0.0));
    let mut q_mm = Jet::constant(1.0);
    for m in 0..=l_max {
        if m > 0 {
            (c, s) = (x.mul(c).sub(y.mul(s)), x.mul(s).add(y.mul(c)));
            q_mm = q_mm.scale((2 * m - 1) as f64);
        }
        let (mut q_prev, mut q) = (Jet::constant(0.0), q_mm);
        for l in m..=l_max {
            if l > m {
                let next = z
                    .mul(q)
                    .scale((2 * l - 1) as f64)
                    .sub(r2.mul(q_prev).scale((l + m - 1) as f64))
                    .scale(1.0 / (l - m) as f64);
                (q_prev, q) = (q, next);
            }
            let k = normalisation(l, m);
            solid[l * l + l + m] = q.mul(c).scale(k);
            if m > 0 {
                solid[l * l + l - m] = q.mul(s).scale(k);
            }
        }
    }
    for (v, j) in values.iter_mut().zip(&solid) {
        *v = j.v;
    }
    if let Some(grads) = gradients {
        for l in 0..=l_max {
            for k in l * l..(l + 1) * (l + 1) {
                let j = solid[k];
                let g = Vec3::new(j.g[0], j.g[1], j.g[2]);
                grads[k] = (g - u * (l as f64 * j.v)) / norm;
            }
        }
    }
}
