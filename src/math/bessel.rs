//! Incomplete Bessel function `K_nu(x, y) = ∫_1^∞ t^(nu-1) exp(-x t - y/t) dt` of order -1/2,
//! the real-space kernel of the Gaussian-superposition (Ewald) splitting of `exp(-a r)`.

use std::f64::consts::PI;

/// `K_{-1/2}(x, y) = ∫_1^∞ t^(-3/2) exp(-x t - y/t) dt` for `x >= 0`, `y > 0`, to ~1e-14
/// relative.
///
/// Closed form (split `∫_1^∞ = ∫_0^∞ - ∫_0^1`, both elementary in erfc), with `s = √x`, `q = √y`:
/// `sqrt(pi/y)/2 · [exp(-2sq) erfc(s - q) - exp(2sq) erfc(s + q)]`.
/// The two terms cancel only by a factor ~ (s + q)/(2q). For large arguments each term is
/// rewritten as `exp(-x - y) erfcx(·)` so that neither `exp(2sq)` overflows nor `erfc`
/// underflows while the result is still representable.
pub fn incomplete_bessel_k_minus_half(x: f64, y: f64) -> f64 {
    let (s, q) = (x.sqrt(), y.sqrt());
    let prefactor = 0.5 * (PI / y).sqrt();
    if s + q < ERFCX_SWITCH {
        let first = (-2.0 * s * q).exp() * crate::math::erfc(s - q);
        let second = (2.0 * s * q).exp() * crate::math::erfc(s + q);
        return prefactor * (first - second);
    }
    let damping = (-x - y).exp();
    let first = if s - q < ERFCX_SWITCH {
        (-2.0 * s * q).exp() * crate::math::erfc(s - q)
    } else {
        damping * erfcx_large(s - q)
    };
    prefactor * (first - damping * erfcx_large(s + q))
}

/// Above this argument `erfcx` comes from its continued fraction (converges in < 40 steps).
const ERFCX_SWITCH: f64 = 6.0;

/// Scaled complementary error function `exp(z²) erfc(z)` for `z >= ERFCX_SWITCH`, from Laplace's
/// continued fraction `erfcx(z) = 1/√π · 1/(z + (1/2)/(z + 1/(z + (3/2)/(z + …))))`, evaluated
/// bottom-up from a fixed depth that is ample for `z >= 6`.
fn erfcx_large(z: f64) -> f64 {
    let mut tail = 0.0;
    for k in (1..=40).rev() {
        tail = (0.5 * k as f64) / (z + tail);
    }
    1.0 / (PI.sqrt() * (z + tail))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (x, y, K_{-1/2}(x, y)) by 40-digit quadrature: tests/reference/gen_bessel.py.
    const REFERENCE: [(f64, f64, f64); 48] = [
        (0.0, 0.05, 1.9671607716859179),
        (1e-6, 0.05, 1.9636179630405874),
        (0.03, 0.05, 1.4152735857339742),
        (0.1, 0.05, 1.0495791608991125),
        (0.2, 0.05, 0.7802662496227262),
        (0.5, 0.05, 0.40465947199436014),
        (1.0, 0.05, 0.1719424182566304),
        (3.5, 0.05, 0.00607676122284485),
        (10.0, 0.05, 3.8073202636113586e-06),
        (40.0, 0.05, 9.757095501487103e-20),
        (150.0, 0.05, 4.50681668159167e-68),
        (600.0, 0.05, 4.191778059664831e-264),
        (0.0, 1.0, 1.493648265624854),
        (1e-6, 1.0, 1.4901070786163026),
        (0.03, 1.0, 0.980001340092461),
        (0.1, 1.0, 0.680071745710738),
        (0.2, 1.0, 0.4790710227764237),
        (0.5, 1.0, 0.2271958819520286),
        (1.0, 1.0, 0.08930618358110318),
        (3.5, 1.0, 0.0027500568035281874),
        (10.0, 1.0, 1.5862666913559706e-06),
        (40.0, 1.0, 3.857948044098224e-20),
        (150.0, 1.0, 1.7538300869683e-68),
        (600.0, 1.0, 1.6236886998418504e-264),
        (0.0, 3.8635, 0.8968409292936897),
        (1e-6, 3.8635, 0.8933029843489841),
        (0.03, 3.8635, 0.4516461018107695),
        (0.1, 3.8635, 0.2556186265636983),
        (0.2, 3.8635, 0.1512863384450833),
        (0.5, 3.8635, 0.05271479027853946),
        (1.0, 3.8635, 0.015540844272454071),
        (3.5, 3.8635, 0.00027843067169313604),
        (10.0, 3.8635, 1.1655726316603351e-07),
        (40.0, 3.8635, 2.360312865836101e-21),
        (150.0, 3.8635, 1.0200369448639139e-69),
        (600.0, 3.8635, 9.310424507160254e-266),
        (0.0, 20.0, 0.3963327296599473),
        (1e-6, 20.0, 0.3928036281073907),
        (0.03, 20.0, 0.08418870315863644),
        (0.1, 20.0, 0.023425541787954352),
        (0.2, 20.0, 0.007259087074930378),
        (0.5, 20.0, 0.0007101341926044459),
        (1.0, 20.0, 5.17144223410712e-05),
        (3.5, 20.0, 2.142152679480031e-08),
        (10.0, 20.0, 1.982776342767637e-13),
        (40.0, 20.0, 3.8190189872688186e-28),
        (150.0, 20.0, 1.1222044809307224e-76),
        (600.0, 20.0, 9.393389345382895e-273),
    ];

    #[test]
    fn matches_quadrature() {
        for (x, y, expected) in REFERENCE {
            let got = incomplete_bessel_k_minus_half(x, y);
            let rel = (got - expected).abs() / expected;
            // exp(-x ...) inherits ~x·eps from rounding its argument.
            assert!(
                rel < 1e-15 * (20.0 + x),
                "K(-1/2; {x}, {y}) = {got:e}, expected {expected:e} ({rel:.1e})"
            );
        }
    }

    #[test]
    fn erfcx_continued_fraction_is_accurate_at_the_switch() {
        // Against the direct formula, where erfc(6) ≈ 2.2e-17 is still exact in double.
        let z = ERFCX_SWITCH;
        let direct = (z * z).exp() * crate::math::erfc(z);
        assert!((erfcx_large(z) - direct).abs() < 1e-15 * direct);
    }
}
