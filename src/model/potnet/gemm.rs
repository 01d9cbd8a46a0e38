//! x · W for the PotNet network's products: few rows (a small crystal has ~100 edges), fixed
//! weights W [in, out] stored row-major. General-purpose gemm repacks W on every call, which
//! for so few rows costs about a quarter of the product; the AVX-512 kernel here reads W in
//! place (an 8 × 32 block of the output in 16 registers, one row of W per step) and is used
//! whenever the CPU has it and the width is a multiple of 32. Other cases go to candle.
//!
//! Every output element is one sequential sum over the inner index, whatever the threads,
//! so results are bit-reproducible.

use candle_core::{Device, Tensor};
use rayon::prelude::*;
use std::sync::LazyLock;

/// Rows of x per parallel task (a multiple of the kernel's 8).
const ROWS_PER_TASK: usize = 64;

/// Whether this CPU runs the AVX-512 kernel (detected once).
static AVX512: LazyLock<bool> = LazyLock::new(|| {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
});

/// A weight matrix W [inputs, outputs], row-major.
#[derive(Clone, Debug)]
pub(super) struct Weights {
    data: Vec<f32>,
    tensor: Tensor,
    inputs: usize,
    outputs: usize,
}

impl Weights {
    /// From a 2-D f32 tensor [inputs, outputs].
    pub(super) fn new(tensor: Tensor) -> candle_core::Result<Self> {
        let tensor = tensor.contiguous()?;
        let (inputs, outputs) = tensor.dims2()?;
        Ok(Weights {
            data: tensor.flatten_all()?.to_vec1()?,
            tensor,
            inputs,
            outputs,
        })
    }

    pub(super) fn outputs(&self) -> usize {
        self.outputs
    }

    /// x · W for x [rows, inputs] row-major.
    pub(super) fn left_mul(&self, x: &[f32]) -> candle_core::Result<Vec<f32>> {
        let (k, n) = (self.inputs, self.outputs);
        if !x.len().is_multiple_of(k) {
            candle_core::bail!("product of {} values by a [{k}, {n}] matrix", x.len());
        }
        let rows = x.len() / k;
        if rows == 0 {
            return Ok(Vec::new());
        }
        if !(*AVX512 && n % 32 == 0) {
            let x = Tensor::from_slice(x, (rows, k), &Device::Cpu)?;
            return x.matmul(&self.tensor)?.flatten_all()?.to_vec1();
        }
        let mut out = vec![0.0f32; rows * n];
        let task = |(x, out): (&[f32], &mut [f32])| {
            // SAFETY: the CPU has AVX-512F (checked above); x holds whole rows of k values,
            // out the same rows of n values, W k × n values, and n is a multiple of 32.
            #[cfg(target_arch = "x86_64")]
            unsafe {
                avx512::product(x, k, &self.data, n, out)
            }
        };
        if rows > ROWS_PER_TASK {
            x.par_chunks(ROWS_PER_TASK * k)
                .zip(out.par_chunks_mut(ROWS_PER_TASK * n))
                .for_each(task);
        } else {
            task((x, &mut out));
        }
        Ok(out)
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::{__m512, _mm512_fmadd_ps, _mm512_loadu_ps, _mm512_set1_ps};
    use std::arch::x86_64::{_mm512_setzero_ps, _mm512_storeu_ps};

    /// Output rows per block.
    const MR: usize = 8;
    /// Output columns per block (two 16-lane registers).
    const NR: usize = 32;

    /// out = x · w, x [rows, k], w [k, n], out [rows, n], all row-major.
    ///
    /// # Safety
    /// The CPU must support AVX-512F; x.len() = rows·k, w.len() = k·n, out.len() = rows·n
    /// and n % 32 == 0.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn product(x: &[f32], k: usize, w: &[f32], n: usize, out: &mut [f32]) {
        let rows = x.len() / k;
        assert!(
            n.is_multiple_of(NR)
                && w.len() == k * n
                && out.len() == rows * n
                && x.len() == rows * k
        );
        for r0 in (0..rows).step_by(MR) {
            let (xb, ob) = (x[r0 * k..].as_ptr(), out[r0 * n..].as_mut_ptr());
            for c0 in (0..n).step_by(NR) {
                let (wb, ob) = (w.as_ptr().add(c0), ob.add(c0));
                match rows - r0 {
                    1 => block::<1>(xb, k, wb, n, ob),
                    2 => block::<2>(xb, k, wb, n, ob),
                    3 => block::<3>(xb, k, wb, n, ob),
                    4 => block::<4>(xb, k, wb, n, ob),
                    5 => block::<5>(xb, k, wb, n, ob),
                    6 => block::<6>(xb, k, wb, n, ob),
                    7 => block::<7>(xb, k, wb, n, ob),
                    _ => block::<MR>(xb, k, wb, n, ob),
                }
            }
        }
    }

    /// R rows × 32 columns of the output: for every p, one row of W (two loads) times R
    /// broadcast entries of x.
    ///
    /// # Safety
    /// AVX-512F; x has R rows of stride k, w k rows of stride n with 32 readable values each,
    /// out R rows of stride n with 32 writable values each.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn block<const R: usize>(
        x: *const f32,
        k: usize,
        w: *const f32,
        n: usize,
        out: *mut f32,
    ) {
        let mut acc: [[__m512; 2]; R] = [[_mm512_setzero_ps(); 2]; R];
        for p in 0..k {
            let w0 = _mm512_loadu_ps(w.add(p * n));
            let w1 = _mm512_loadu_ps(w.add(p * n + 16));
            for (r, a) in acc.iter_mut().enumerate() {
                let xv = _mm512_set1_ps(*x.add(r * k + p));
                a[0] = _mm512_fmadd_ps(xv, w0, a[0]);
                a[1] = _mm512_fmadd_ps(xv, w1, a[1]);
            }
        }
        for (r, a) in acc.iter().enumerate() {
            _mm512_storeu_ps(out.add(r * n), a[0]);
            _mm512_storeu_ps(out.add(r * n + 16), a[1]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Against an f64 triple loop, for row counts around the block sizes and both paths.
    #[test]
    fn products_match_a_reference_loop() {
        let (k, n) = (37, 64);
        let w: Vec<f32> = (0..k * n)
            .map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0)
            .collect();
        let weights = Weights::new(Tensor::from_slice(&w, (k, n), &Device::Cpu).unwrap()).unwrap();
        for rows in [1, 7, 8, 9, 64, 65, 200] {
            let x: Vec<f32> = (0..rows * k)
                .map(|i| ((i * 104729) % 997) as f32 / 498.0 - 1.0)
                .collect();
            let y = weights.left_mul(&x).unwrap();
            for r in 0..rows {
                for c in 0..n {
                    let exact: f64 = (0..k)
                        .map(|p| f64::from(x[r * k + p]) * f64::from(w[p * n + c]))
                        .sum();
                    let scale: f64 = (0..k)
                        .map(|p| f64::from((x[r * k + p] * w[p * n + c]).abs()))
                        .sum();
                    let err = (f64::from(y[r * n + c]) - exact).abs();
                    assert!(
                        err <= 1e-6 * scale.max(1.0),
                        "rows {rows}: [{r},{c}] {err:e}"
                    );
                }
            }
        }
        assert!(weights.left_mul(&[1.0; 5]).is_err());
    }
}
