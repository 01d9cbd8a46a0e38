//! x · W for the PotNet network's products: few rows (a small crystal has ~100 edges), fixed
//! weights W [in, out]. General-purpose gemm repacks W on every call, which for so few rows
//! costs about a quarter of the product. Here W is repacked once, at load time, into panels of
//! 32 columns stored row after row (the order the kernel reads them, so W streams from memory
//! sequentially); the AVX-512 kernel keeps one panel in L1 while it sweeps all rows of x (a
//! 12 × 32 block of the output in 24 registers, one row of the panel per step). It runs
//! whenever the CPU has AVX-512F and the width is a multiple of 32; other cases go to candle.
//!
//! Every output element is one sequential sum over the inner index, whatever the threads,
//! so results are bit-reproducible.

use candle_core::{Device, Tensor};
use rayon::prelude::*;
use std::sync::LazyLock;

/// Columns per panel of the packed weights (two 16-lane registers).
const PANEL: usize = 32;

/// Parallel tasks cover at most this many rows of x (~256 kB of x at 256 inputs: stays in
/// L2 while the task's panels pass) and this many panels.
const ROWS_PER_TASK: usize = 256;
const PANELS_PER_TASK: usize = 4;

/// Whether this CPU runs the AVX-512 kernel (detected once).
pub(super) static AVX512: LazyLock<bool> = LazyLock::new(|| {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
});

/// A weight matrix W [inputs, outputs].
#[derive(Clone, Debug)]
pub(super) struct Weights {
    /// W in panels of [`PANEL`] columns, each `inputs` rows of `PANEL` values; empty when
    /// the kernel does not apply (then `tensor` is used).
    panels: Vec<f32>,
    tensor: Tensor,
    inputs: usize,
    outputs: usize,
}

impl Weights {
    /// From a 2-D f32 tensor [inputs, outputs].
    pub(super) fn new(tensor: Tensor) -> candle_core::Result<Self> {
        let tensor = tensor.contiguous()?;
        let (inputs, outputs) = tensor.dims2()?;
        let panels = if *AVX512 && outputs.is_multiple_of(PANEL) {
            let w = tensor.flatten_all()?.to_vec1::<f32>()?;
            (0..outputs / PANEL)
                .flat_map(|c| {
                    let w = &w;
                    (0..inputs).flat_map(move |p| &w[p * outputs + c * PANEL..][..PANEL])
                })
                .copied()
                .collect()
        } else {
            Vec::new()
        };
        Ok(Weights {
            panels,
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
        if self.panels.is_empty() {
            let x = Tensor::from_slice(x, (rows, k), &Device::Cpu)?;
            return x.matmul(&self.tensor)?.flatten_all()?.to_vec1();
        }
        // Uninitialised: the kernel writes every entry (all rows of all panels) before the
        // length is set, so zeroing would be a wasted pass.
        let mut out: Vec<f32> = Vec::with_capacity(rows * n);
        let panels = n / PANEL;
        let out_ptr = OutPtr(out.as_mut_ptr());
        // Task (row chunk, panel group): its rows of x, its panels of W, and the output
        // entries where both meet (disjoint between tasks).
        let task = |(r, c): (usize, usize)| {
            let rows = r * ROWS_PER_TASK..((r + 1) * ROWS_PER_TASK).min(rows);
            let cols = c * PANELS_PER_TASK..((c + 1) * PANELS_PER_TASK).min(panels);
            // SAFETY: the panels were packed only because the CPU has AVX-512F; x holds
            // `rows` rows of k values, the panels k × 32 values each, and the output pointer
            // `rows` rows of n values; tasks write disjoint blocks and `out` outlives them.
            #[cfg(target_arch = "x86_64")]
            unsafe {
                avx512::product(
                    &x[rows.start * k..rows.end * k],
                    k,
                    &self.panels[cols.start * k * PANEL..cols.end * k * PANEL],
                    cols.start * PANEL,
                    n,
                    out_ptr.at(rows.start * n),
                )
            }
        };
        let tasks = rows.div_ceil(ROWS_PER_TASK) * panels.div_ceil(PANELS_PER_TASK);
        if rayon::current_num_threads() > 1 && tasks > 1 {
            let groups = panels.div_ceil(PANELS_PER_TASK);
            (0..tasks)
                .into_par_iter()
                .for_each(|t| task((t / groups, t % groups)));
        } else {
            // One thread: every panel sweeps all rows (it is read from memory once).
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as above, for all rows and panels.
            unsafe {
                avx512::product(x, k, &self.panels, 0, n, out.as_mut_ptr())
            }
        }
        // SAFETY: all rows × n entries were written above (a failed assertion in the kernel
        // panics before this point).
        unsafe { out.set_len(rows * n) };
        Ok(out)
    }
}

/// The output of [`Weights::left_mul`], shared by tasks that write disjoint entries.
#[derive(Clone, Copy)]
struct OutPtr(*mut f32);

// SAFETY: only used for writes to disjoint entries by the tasks of one product.
unsafe impl Send for OutPtr {}
unsafe impl Sync for OutPtr {}

impl OutPtr {
    /// The pointer `offset` values in (a method, so closures capture the Sync wrapper).
    fn at(self, offset: usize) -> *mut f32 {
        // SAFETY: callers stay within the output.
        unsafe { self.0.add(offset) }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::PANEL;
    use std::arch::x86_64::{__m512, _mm512_fmadd_ps, _mm512_loadu_ps, _mm512_set1_ps};
    use std::arch::x86_64::{_mm512_setzero_ps, _mm512_storeu_ps};

    /// Output rows per block.
    const MR: usize = 14;

    /// The columns `first_col..` (whole panels) of out = x · W: x [rows, k] row-major,
    /// `panels` the packed panels of those columns, out row-major with row stride n.
    ///
    /// # Safety
    /// The CPU must support AVX-512F; x.len() = rows·k, panels.len() a multiple of 32·k,
    /// and out points to rows × n writable values with first_col + panels.len()/k <= n.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn product(
        x: &[f32],
        k: usize,
        panels: &[f32],
        first_col: usize,
        n: usize,
        out: *mut f32,
    ) {
        let rows = x.len() / k;
        assert!(
            x.len() == rows * k
                && panels.len().is_multiple_of(PANEL * k)
                && first_col + panels.len() / k <= n
        );
        for (c, panel) in panels.chunks_exact(PANEL * k).enumerate() {
            let ob = out.add(first_col + c * PANEL);
            for r0 in (0..rows).step_by(MR) {
                let (xb, ob) = (x.as_ptr().add(r0 * k), ob.add(r0 * n));
                let w = panel.as_ptr();
                // One instance per remainder: R is a compile-time register count.
                macro_rules! rows {
                    ($($r:literal)*) => {
                        match rows - r0 {
                            $($r => block::<$r>(xb, k, w, n, ob),)*
                            _ => block::<MR>(xb, k, w, n, ob),
                        }
                    };
                }
                rows!(1 2 3 4 5 6 7 8 9 10 11 12 13);
            }
        }
    }

    /// R rows × 32 columns of the output: for every p, one row of the panel (two loads)
    /// times R broadcast entries of x.
    ///
    /// # Safety
    /// AVX-512F; x has R rows of stride k, w k rows of 32 values, out R rows of stride n
    /// with 32 writable values each.
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
            let w0 = _mm512_loadu_ps(w.add(p * PANEL));
            let w1 = _mm512_loadu_ps(w.add(p * PANEL + 16));
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
        let (k, n) = (37, 160);
        let w: Vec<f32> = (0..k * n)
            .map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0)
            .collect();
        let weights = Weights::new(Tensor::from_slice(&w, (k, n), &Device::Cpu).unwrap()).unwrap();
        for rows in [1, 7, 11, 12, 13, 64, 65, 300] {
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
