//! Cardinal B-splines M_n (Essmann et al. 1995, §3): the charge-assignment weights of smooth
//! PME, their derivatives (for analytic forces) and the Euler exponential-spline factors
//! |b(m)|² that turn the interpolated structure factor into an approximation of the true one.

/// Weights M_n(w + j) and derivatives M_n'(w + j), j = 0..n, of one coordinate u = ⌊u⌋ + w
/// on the mesh points k = ⌊u⌋ − j.
pub(super) fn weights(order: usize, w: f64, values: &mut [f64], derivatives: &mut [f64]) {
    debug_assert!(order >= 3 && values.len() >= order && derivatives.len() >= order);
    // M_2(w) = w, M_2(w + 1) = 1 − w; then M_k(x) = (x M_{k−1}(x) + (k − x) M_{k−1}(x − 1))/(k − 1).
    values[0] = w;
    values[1] = 1.0 - w;
    for k in 3..=order {
        if k == order {
            // M_n' (x) = M_{n−1}(x) − M_{n−1}(x − 1), from the order n − 1 values.
            derivatives[0] = values[0];
            for j in 1..order - 1 {
                derivatives[j] = values[j] - values[j - 1];
            }
            derivatives[order - 1] = -values[order - 2];
        }
        let inv = 1.0 / (k - 1) as f64;
        values[k - 1] = 0.0;
        for j in (0..k).rev() {
            let x = w + j as f64;
            let lower = if j > 0 { values[j - 1] } else { 0.0 };
            values[j] = (x * values[j] + (k as f64 - x) * lower) * inv;
        }
    }
}

/// |b(m)|² = 1 / |Σ_{k=0}^{n−2} M_n(k + 1) e^{2πimk/K}|² for m = 0..K (Essmann eq. 4.4).
/// At the Nyquist index of odd orders the sum can vanish; the mesh leaves that index out.
pub(super) fn euler_factors(order: usize, mesh: usize) -> Vec<f64> {
    let mut values = vec![0.0; order];
    let mut scratch = vec![0.0; order];
    weights(order, 0.0, &mut values, &mut scratch);
    // values[j] = M_n(j), so M_n(k + 1) = values[k + 1].
    (0..mesh)
        .map(|m| {
            let (mut re, mut im) = (0.0, 0.0);
            for k in 0..order - 1 {
                let arg = 2.0 * std::f64::consts::PI * (m * k) as f64 / mesh as f64;
                re += values[k + 1] * arg.cos();
                im += values[k + 1] * arg.sin();
            }
            let norm = re * re + im * im;
            if norm > 1e-300 {
                1.0 / norm
            } else {
                0.0
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// M_n by its defining convolution, evaluated by the explicit piecewise formula
    /// M_n(x) = 1/(n−1)! Σ_k (−1)^k C(n, k) (x − k)_+^{n−1}.
    fn reference(order: usize, x: f64) -> f64 {
        let mut fact = 1.0;
        for k in 1..order {
            fact *= k as f64;
        }
        let mut binom = 1.0;
        let mut total = 0.0;
        for k in 0..=order {
            if k > 0 {
                binom *= (order + 1 - k) as f64 / k as f64;
            }
            let t = x - k as f64;
            if t > 0.0 {
                total += if k % 2 == 0 { binom } else { -binom } * t.powi(order as i32 - 1);
            }
        }
        total / fact
    }

    #[test]
    fn weights_match_the_explicit_spline_and_sum_to_one() {
        for order in 3..=10 {
            for w in [0.0, 0.137, 0.5, 0.999] {
                let mut v = vec![0.0; order];
                let mut d = vec![0.0; order];
                weights(order, w, &mut v, &mut d);
                assert!((v.iter().sum::<f64>() - 1.0).abs() < 1e-14);
                assert!(d.iter().sum::<f64>().abs() < 1e-13);
                for j in 0..order {
                    let x = w + j as f64;
                    assert!(
                        // The reference alternates large powers: ~1e-11 cancellation at n = 10.
                        (v[j] - reference(order, x)).abs() < 1e-10,
                        "n={order} j={j}"
                    );
                    if w == 0.0 {
                        continue; // a knot: the central difference straddles a kink of M''.
                    }
                    let h = 1e-4;
                    let fd = (reference(order, x + h) - reference(order, x - h)) / (2.0 * h);
                    assert!(
                        (d[j] - fd).abs() < 1e-6,
                        "n={order} j={j}: {} vs {fd}",
                        d[j]
                    );
                }
            }
        }
    }

    #[test]
    fn euler_factors_interpolate_plane_waves() {
        // |b(m)|² Σ_k M_n(u − k) e^{2πimk/K} reproduces e^{2πimu/K} in modulus for small m/K.
        let (order, mesh) = (8, 32);
        let b2 = euler_factors(order, mesh);
        assert!((b2[0] - 1.0).abs() < 1e-14);
        for m in [1usize, 3, 5] {
            let u: f64 = 7.3;
            let (mut re, mut im) = (0.0, 0.0);
            let mut v = vec![0.0; order];
            let mut d = vec![0.0; order];
            weights(order, u - u.floor(), &mut v, &mut d);
            for (j, value) in v.iter().enumerate() {
                let k = u.floor() - j as f64;
                let arg = 2.0 * std::f64::consts::PI * m as f64 * k / mesh as f64;
                re += value * arg.cos();
                im += value * arg.sin();
            }
            let modulus = (b2[m] * (re * re + im * im)).sqrt();
            assert!((modulus - 1.0).abs() < 1e-5, "m={m}: {modulus}");
        }
    }
}
