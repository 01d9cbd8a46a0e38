//! Incomplete Bessel function `K_nu(x, y) = ∫_1^∞ t^(nu-1) exp(-x t - y/t) dt` of order -1/2,
//! the real-space kernel of the Gaussian-superposition (Ewald) splitting of `exp(-a r)`.

/// `K_{-1/2}(x, y) = ∫_1^∞ t^(-3/2) exp(-x t - y/t) dt` for `x >= 0`, `y > 0`, exactly.
///
/// Closed form (split `∫_1^∞ = ∫_0^∞ - ∫_0^1`, both elementary in erfc):
/// `sqrt(pi/y)/2 · [exp(-2√(xy)) erfc(√x - √y) - exp(2√(xy)) erfc(√x + √y)]`.
/// The two brackets cancel by a factor ~ (√x + √y)/(2√y) only, so the relative accuracy
/// stays ~1e-15 times that factor; once `erfc(√x + √y)` underflows the second term is dropped
/// (its exact value is below the double range), which also avoids `inf · 0`.
pub fn incomplete_bessel_k_minus_half(x: f64, y: f64) -> f64 {
    let (sx, sy) = (x.sqrt(), y.sqrt());
    let prefactor = 0.5 * (std::f64::consts::PI / y).sqrt();
    let first = (-2.0 * sx * sy).exp() * libm::erfc(sx - sy);
    let second = if sx + sy < 27.0 {
        (2.0 * sx * sy).exp() * libm::erfc(sx + sy)
    } else {
        0.0
    };
    prefactor * (first - second)
}
