//! The reciprocal part of smooth PME: B-spline spreading of every weight channel onto the
//! mesh, one real-to-complex FFT per channel, the influence function C(m) = a(G_m) |B(m)|²,
//! one inverse FFT per channel, and interpolation of φ and its gradient back at the atoms.
//!
//! With θ_i(k) = Π_α M_n(u_iα − k_α) (u = K·s, s the fractional coordinates of the reduced
//! cell), the Euler splines give ρ_c(G_m) ≈ B(m) Q̂_c(m), Q_c = Σ_i w_ci θ_i, so the exact
//! engine's φ_ci = Σ_G a Re[e^{iG·x_i} ρ_c*] becomes φ_ci ≈ Σ_k θ_i(k) ψ_c(k) with
//! ψ_c = FFT⁻¹[C · FFT Q_c]. C is even in m (the Nyquist planes are left out so that it is),
//! hence E = ½ Σ_cd M_cd Σ_i w_ci φ_di is a symmetric quadratic form in the Q_c and
//! F_i = −Σ_d u_di ∇θ_i · ψ_d (u_di = Σ_c M_cd w_ci) is exactly its gradient. Under strain the
//! fractional coordinates, Q and B stay fixed and only a(G_m) moves, so the virial is the exact
//! engine's ½ Σ_m |B|² Q(m) (a 1 + 2 a' G Gᵀ), Q(m) = Σ_cd M_cd Re[Q̂_c Q̂_d*].

use rayon::prelude::*;
use rustfft::num_complex::Complex64;

use super::bspline;
use super::error::Choice;
use super::fft::MeshFft;
use crate::cell::{Mat3, Vec3};
use crate::lattice::kernels::ReducedGeometry;
use crate::lattice::per_atom::{Accumulator, Channels};

/// B-spline support of one atom: first mesh index and weights/derivatives per direction.
struct Stencil {
    start: [usize; 3],
    values: [Vec<f64>; 3],
    derivatives: [Vec<f64>; 3],
}

impl Stencil {
    fn new(x: &Vec3, reduced: &ReducedGeometry, dims: [usize; 3], order: usize) -> Self {
        let mut start = [0; 3];
        let mut values: [Vec<f64>; 3] = std::array::from_fn(|_| vec![0.0; order]);
        let mut derivatives: [Vec<f64>; 3] = std::array::from_fn(|_| vec![0.0; order]);
        for a in 0..3 {
            let s = reduced.reciprocal.row(a).transpose().dot(x) / (2.0 * std::f64::consts::PI);
            let u = (s - s.floor()) * dims[a] as f64;
            let base = u.floor();
            bspline::weights(order, u - base, &mut values[a], &mut derivatives[a]);
            // Mesh point of weight j is base − j; start at base − (order − 1), ascending.
            let k = (base as i64 - (order as i64 - 1)).rem_euclid(dims[a] as i64);
            start[a] = k as usize;
            values[a].reverse();
            derivatives[a].reverse();
        }
        Stencil {
            start,
            values,
            derivatives,
        }
    }

    /// Calls `f(mesh index, θ, ∂θ/∂u)` for every point of the support.
    #[inline]
    fn for_each(&self, dims: [usize; 3], mut f: impl FnMut(usize, f64, [f64; 3])) {
        let n = self.values[0].len();
        // Wrapped indices per direction, computed once (n ≤ 16).
        let mut index = [[0usize; 16]; 3];
        for (a, row) in index.iter_mut().enumerate() {
            for (j, k) in row.iter_mut().take(n).enumerate() {
                *k = (self.start[a] + j) % dims[a];
            }
        }
        for i in 0..n {
            let (v0, d0) = (self.values[0][i], self.derivatives[0][i]);
            for j in 0..n {
                let (v1, d1) = (self.values[1][j], self.derivatives[1][j]);
                let row = (index[0][i] * dims[1] + index[1][j]) * dims[2];
                let (v01, d01, v0d1) = (v0 * v1, d0 * v1, v0 * d1);
                let third = self.values[2].iter().zip(&self.derivatives[2]);
                for (&k2, (&v2, &d2)) in index[2].iter().zip(third) {
                    f(row + k2, v01 * v2, [d01 * v2, v0d1 * v2, v01 * d2]);
                }
            }
        }
    }
}

/// Adds the mesh part of φ (and of forces and virial when `acc` has them) to `acc`.
pub(crate) fn reciprocal(
    positions: &[Vec3],
    reduced: &ReducedGeometry,
    choice: &Choice,
    channels: &Channels,
    acc: &mut Accumulator,
) {
    let dims = choice.dims;
    let order = choice.order;
    let nc = channels.weights.len();
    let points: usize = dims.iter().product();
    let stencils: Vec<Stencil> = positions
        .par_iter()
        .map(|x| Stencil::new(x, reduced, dims, order))
        .collect();

    // Spreading: per-thread meshes (one per channel), added up.
    let chunk = positions
        .len()
        .div_ceil(rayon::current_num_threads())
        .max(1);
    let mut meshes = stencils
        .par_chunks(chunk)
        .enumerate()
        .map(|(block, part)| {
            let mut local = vec![vec![0.0; points]; nc];
            for (offset, stencil) in part.iter().enumerate() {
                let i = block * chunk + offset;
                let w: Vec<f64> = channels.weights.iter().map(|w| w[i]).collect();
                stencil.for_each(dims, |k, theta, _| {
                    for (mesh, wc) in local.iter_mut().zip(&w) {
                        mesh[k] += wc * theta;
                    }
                });
            }
            local
        })
        .reduce_with(|mut a, b| {
            for (x, y) in a.iter_mut().zip(&b) {
                x.iter_mut().zip(y).for_each(|(p, q)| *p += q);
            }
            a
        })
        .unwrap_or_else(|| vec![vec![0.0; points]; nc]);

    let fft = MeshFft::new(dims);
    let mut spectra: Vec<Vec<Complex64>> = meshes.iter_mut().map(|m| fft.forward(m)).collect();
    let virial = convolve(
        &fft,
        reduced,
        choice,
        channels,
        &mut spectra,
        acc.derivatives,
    );
    let potentials: Vec<Vec<f64>> = spectra.into_iter().map(|s| fft.inverse(s)).collect();

    // Interpolation back at the atoms.
    let cart_rows: [Vec3; 3] = [0, 1, 2].map(|a| {
        reduced.reciprocal.row(a).transpose() * (dims[a] as f64 / (2.0 * std::f64::consts::PI))
    });
    let coupled = channels.coupled();
    let derivatives = acc.derivatives;
    let gathered: Vec<(Vec<f64>, Vec3)> = stencils
        .par_iter()
        .enumerate()
        .map(|(i, stencil)| {
            let mut phi = vec![0.0; nc];
            let mut grad = vec![[0.0; 3]; nc];
            stencil.for_each(dims, |k, theta, dtheta| {
                for c in 0..nc {
                    let psi = potentials[c][k];
                    phi[c] += theta * psi;
                    if derivatives {
                        for a in 0..3 {
                            grad[c][a] += dtheta[a] * psi;
                        }
                    }
                }
            });
            let mut force = Vec3::zeros();
            if derivatives {
                for (d, g) in grad.iter().enumerate() {
                    let u = coupled[d][i];
                    if u != 0.0 {
                        let cart = cart_rows[0] * g[0] + cart_rows[1] * g[1] + cart_rows[2] * g[2];
                        force -= cart * u;
                    }
                }
            }
            (phi, force)
        })
        .collect();
    for (i, (phi, force)) in gathered.into_iter().enumerate() {
        for (c, p) in phi.into_iter().enumerate() {
            acc.phi[c][i] += p;
            acc.abs_phi[c][i] += p.abs();
        }
        if let Some(f) = acc.forces.as_mut() {
            f[i] += force;
        }
    }
    acc.virial += virial;
}

/// Multiplies every spectrum by C(m) = a(G_m) |B(m)|², returning the virial (when wanted)
/// from the spectra before the multiplication.
fn convolve(
    fft: &MeshFft,
    reduced: &ReducedGeometry,
    choice: &Choice,
    channels: &Channels,
    spectra: &mut [Vec<Complex64>],
    derivatives: bool,
) -> Mat3 {
    let dims = fft.dims;
    let h = fft.half();
    let nc = spectra.len();
    let b2: [Vec<f64>; 3] = dims.map(|k| bspline::euler_factors(choice.order, k));
    let rows: [Vec3; 3] = [0, 1, 2].map(|a| reduced.reciprocal.row(a).transpose());
    let kernel = &choice.kernel;
    let signed = |m: usize, k: usize| -> Option<f64> {
        if k.is_multiple_of(2) && m == k / 2 {
            None
        } else if m > k / 2 {
            Some(m as f64 - k as f64)
        } else {
            Some(m as f64)
        }
    };
    // The spectrum is laid out (m1, m0, h); one row of h per (m1, m0).
    let row_len = h;
    let rows_total = dims[0] * dims[1];
    let mut split: Vec<Vec<&mut [Complex64]>> = spectra
        .iter_mut()
        .map(|s| s.chunks_mut(row_len).collect())
        .collect();
    // Regroup per row: for row r, the slices of all channels.
    let mut per_row: Vec<Vec<&mut [Complex64]>> = (0..rows_total).map(|_| Vec::new()).collect();
    for channel in split.iter_mut() {
        for (r, slice) in channel.drain(..).enumerate() {
            per_row[r].push(slice);
        }
    }
    per_row
        .par_iter_mut()
        .enumerate()
        .map(|(r, row)| {
            let (m1, m0) = (r / dims[0], r % dims[0]);
            let mut virial = Mat3::zeros();
            let (Some(s0), Some(s1)) = (signed(m0, dims[0]), signed(m1, dims[1])) else {
                row.iter_mut()
                    .for_each(|s| s.fill(Complex64::new(0.0, 0.0)));
                return virial;
            };
            let outer = b2[0][m0] * b2[1][m1];
            for m2 in 0..h {
                let Some(s2) = signed(m2, dims[2]) else {
                    row.iter_mut()
                        .for_each(|s| s[m2] = Complex64::new(0.0, 0.0));
                    continue;
                };
                let g = rows[0] * s0 + rows[1] * s1 + rows[2] * s2;
                let g2 = g.norm_squared();
                if g2 == 0.0 {
                    row.iter_mut()
                        .for_each(|s| s[m2] = Complex64::new(0.0, 0.0));
                    continue;
                }
                let bb = outer * b2[2][m2];
                let a = kernel.recip_coeff(g2);
                if derivatives {
                    // Columns 1..H−1 stand for themselves and their mirror −m.
                    let mirror = if m2 == 0 { 1.0 } else { 2.0 };
                    let mut q = 0.0;
                    for c in 0..nc {
                        for d in 0..nc {
                            let m = channels.coupling[c * nc + d];
                            if m != 0.0 {
                                q += m * (row[c][m2] * row[d][m2].conj()).re;
                            }
                        }
                    }
                    let da = kernel.recip_coeff_derivative(g2);
                    virial += (Mat3::identity() * a + g * g.transpose() * (2.0 * da))
                        * (0.5 * mirror * bb * q);
                }
                let factor = a * bb;
                row.iter_mut().for_each(|s| s[m2] *= factor);
            }
            virial
        })
        .reduce(Mat3::zeros, |a, b| a + b)
}
