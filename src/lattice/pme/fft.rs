//! Three-dimensional real-to-complex FFTs of a mesh, on realfft (the contiguous axis) and
//! rustfft (the other two), in parallel over lines with rayon.
//!
//! A real mesh of shape (K0, K1, K2), index (k0 K1 + k1) K2 + k2, transforms to the half
//! spectrum of H = K2/2 + 1 columns laid out (m1, m0, h), index (m1 K0 + m0) H + h: the two
//! outer axes come out swapped, which saves a transposition each way, and the mesh code only
//! ever visits the spectrum through [`Spectrum::modes`].

use std::sync::Arc;

use rayon::prelude::*;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};
use rustfft::num_complex::Complex64;
use rustfft::{Fft, FftPlanner};

/// The plans of one mesh shape.
pub(super) struct MeshFft {
    pub dims: [usize; 3],
    r2c: Arc<dyn RealToComplex<f64>>,
    c2r: Arc<dyn ComplexToReal<f64>>,
    forward: [Arc<dyn Fft<f64>>; 2],
    inverse: [Arc<dyn Fft<f64>>; 2],
}

impl MeshFft {
    pub fn new(dims: [usize; 3]) -> Self {
        let mut real = RealFftPlanner::<f64>::new();
        let mut complex = FftPlanner::<f64>::new();
        MeshFft {
            dims,
            r2c: real.plan_fft_forward(dims[2]),
            c2r: real.plan_fft_inverse(dims[2]),
            forward: [
                complex.plan_fft_forward(dims[0]),
                complex.plan_fft_forward(dims[1]),
            ],
            inverse: [
                complex.plan_fft_inverse(dims[0]),
                complex.plan_fft_inverse(dims[1]),
            ],
        }
    }

    /// Number of columns H of the half spectrum.
    pub fn half(&self) -> usize {
        self.dims[2] / 2 + 1
    }

    /// Unnormalised forward transform Σ_k Q(k) e^{−2πi m·k/K} (the real mesh is overwritten).
    pub fn forward(&self, mesh: &mut [f64]) -> Vec<Complex64> {
        let [k0, k1, k2] = self.dims;
        let h = self.half();
        let mut spectrum = vec![Complex64::new(0.0, 0.0); k0 * k1 * h];
        mesh.par_chunks_mut(k2)
            .zip(spectrum.par_chunks_mut(h))
            .for_each_init(
                || self.r2c.make_scratch_vec(),
                |scratch, (line, out)| {
                    self.r2c
                        .process_with_scratch(line, out, scratch)
                        .expect("line lengths match the plan");
                },
            );
        middle_axis(&mut spectrum, k1, h, &self.forward[1]);
        let mut swapped = swap_outer(&spectrum, k0, k1, h);
        middle_axis(&mut swapped, k0, h, &self.forward[0]);
        swapped
    }

    /// Unnormalised inverse Σ_m X(m) e^{+2πi m·k/K} of a half spectrum of a real mesh.
    pub fn inverse(&self, mut spectrum: Vec<Complex64>) -> Vec<f64> {
        let [k0, k1, k2] = self.dims;
        let h = self.half();
        middle_axis(&mut spectrum, k0, h, &self.inverse[0]);
        let mut lines = swap_outer(&spectrum, k1, k0, h);
        middle_axis(&mut lines, k1, h, &self.inverse[1]);
        let mut mesh = vec![0.0; k0 * k1 * k2];
        mesh.par_chunks_mut(k2)
            .zip(lines.par_chunks_mut(h))
            .for_each_init(
                || self.c2r.make_scratch_vec(),
                |scratch, (out, line)| {
                    // The spectrum is Hermitian, so these are real up to rounding.
                    line[0].im = 0.0;
                    if k2.is_multiple_of(2) {
                        line[h - 1].im = 0.0;
                    }
                    self.c2r
                        .process_with_scratch(line, out, scratch)
                        .expect("line lengths match the plan");
                },
            );
        mesh
    }
}

/// Transforms along the middle axis of a (outer, len, inner) array, plane by plane: each plane
/// is transposed so that the transformed axis is contiguous.
fn middle_axis(data: &mut [Complex64], len: usize, inner: usize, fft: &Arc<dyn Fft<f64>>) {
    data.par_chunks_mut(len * inner).for_each_init(
        || {
            (
                vec![Complex64::new(0.0, 0.0); len * inner],
                vec![Complex64::new(0.0, 0.0); fft.get_inplace_scratch_len()],
            )
        },
        |(buffer, scratch), plane| {
            for a in 0..len {
                for b in 0..inner {
                    buffer[b * len + a] = plane[a * inner + b];
                }
            }
            fft.process_with_scratch(buffer, scratch);
            for a in 0..len {
                for b in 0..inner {
                    plane[a * inner + b] = buffer[b * len + a];
                }
            }
        },
    );
}

/// (a, b, inner) → (b, a, inner).
fn swap_outer(data: &[Complex64], a: usize, b: usize, inner: usize) -> Vec<Complex64> {
    let mut out = vec![Complex64::new(0.0, 0.0); data.len()];
    out.par_chunks_mut(a * inner)
        .enumerate()
        .for_each(|(j, plane)| {
            for i in 0..a {
                let src = (i * b + j) * inner;
                plane[i * inner..(i + 1) * inner].copy_from_slice(&data[src..src + inner]);
            }
        });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transforms_match_a_direct_dft_and_invert() {
        let dims = [5, 6, 7];
        let n: usize = dims.iter().product();
        let mesh: Vec<f64> = (0..n).map(|i| ((i * 37 % 11) as f64 - 5.0) * 0.1).collect();
        let fft = MeshFft::new(dims);
        let spectrum = fft.forward(&mut mesh.clone());
        let h = fft.half();
        for (m0, m1, m2) in [(0, 0, 0), (1, 2, 3), (4, 5, 1), (2, 0, 2)] {
            let mut direct = Complex64::new(0.0, 0.0);
            for k0 in 0..dims[0] {
                for k1 in 0..dims[1] {
                    for k2 in 0..dims[2] {
                        let phase = -2.0
                            * std::f64::consts::PI
                            * ((m0 * k0) as f64 / dims[0] as f64
                                + (m1 * k1) as f64 / dims[1] as f64
                                + (m2 * k2) as f64 / dims[2] as f64);
                        direct +=
                            Complex64::from_polar(mesh[(k0 * dims[1] + k1) * dims[2] + k2], phase);
                    }
                }
            }
            let got = spectrum[(m1 * dims[0] + m0) * h + m2];
            assert!((got - direct).norm() < 1e-12, "{got} vs {direct}");
        }
        let back = fft.inverse(spectrum);
        for (a, b) in back.iter().zip(&mesh) {
            assert!((a / n as f64 - b).abs() < 1e-13);
        }
    }
}
