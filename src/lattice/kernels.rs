//! Reusable pieces of the exact lattice sums: the Ewald/Crandall split of 1/r^p (real-space
//! radial term and its derivative, reciprocal coefficient a(|G|²) and its derivative, the
//! G = 0 and self constants), the Yukawa–Ewald split of e^{−κr}/r
//! ([`ScreenedCoulombKernel`]), both behind the [`SplitKernel`] trait the exact engine uses,
//! the exponential kernel, and lattice / reciprocal-vector enumeration inside a sphere.
//! Per-atom sums, forces and stress are built from these.
//!
//! Splitting (Crandall 1998): with 1/r^p = Γ(p/2)⁻¹ ∫₀^∞ t^{p/2-1} e^{-r²t} dt cut at t = η²,
//!
//! S_p(v) = Σ'_k Γ(p/2, η²|v+Lk|²) / (Γ(p/2) |v+Lk|^p)               (real space)
//!        + Σ_{G≠0} a(|G|²) cos(G·v)                                 (reciprocal space)
//!        + c₀ − δ_{v,0} η^p / Γ(p/2 + 1)                            (G = 0, self)
//!
//! a(G²) = π^{3/2} / (V Γ(p/2)) (|G|/2)^{p-3} Γ((3-p)/2, G²/(4η²)), c₀ = 2π^{3/2} η^{p-3} /
//! ((p-3) V Γ(p/2)). For p < 3 the same formulas are the analytic continuation of the Epstein
//! zeta function (uniform neutralising background, zero cell average); p = 3 is its pole.

use std::f64::consts::{FRAC_2_SQRT_PI, PI};

use super::bounds::{self, LatticeCounting};
use crate::cell::{Lattice, Vec3};
use crate::error::{Error, Result};
use crate::math::gamma::ERFC_ERROR;

/// Unit roundoff of f64 (2⁻⁵³).
pub const UNIT_ROUNDOFF: f64 = f64::EPSILON / 2.0;

/// Assumed relative error of one libm call (exp, erfc, sqrt, sin/cos, tgamma) or one
/// elementary operation including its inputs' conversion, in units of [`UNIT_ROUNDOFF`]:
/// 4 u = 2 ulp, twice what the musl-derived libm documents for these functions.
pub const OP_ERROR: f64 = 4.0 * UNIT_ROUNDOFF;

/// How the upper incomplete gamma function Γ(s, x) is evaluated: closed forms in exp and
/// erfc where they exist (fast, with a rounding bound of their own), the general routine of
/// [`crate::math::gamma`] otherwise.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum GammaForm {
    /// s = n ≥ 1: Γ(n, x) = (n-1)! e^{-x} Σ_{k<n} x^k / k!.
    Integer(u32),
    /// s = n + 1/2 (n may be negative): recurrence from Γ(1/2, x) = √π erfc(√x).
    HalfInteger(i32),
    /// Any other real s.
    General(f64),
}

/// Relative accuracy of `math::gamma::upper_gamma` (measured worst case 1.3e-15 against
/// 40-digit references; its tests enforce 2.5e-15), in units of the roundoff.
const GENERAL_GAMMA_ERROR: f64 = 24.0 * UNIT_ROUNDOFF;

impl GammaForm {
    /// The cheapest evaluation for `s`.
    pub(crate) fn of(s: f64) -> Self {
        let twice = 2.0 * s;
        if twice.fract() != 0.0 || twice.abs() > 200.0 {
            return GammaForm::General(s);
        }
        let twice = twice as i32;
        if twice % 2 != 0 {
            GammaForm::HalfInteger((twice - 1) / 2)
        } else if twice >= 2 {
            GammaForm::Integer(twice as u32 / 2)
        } else {
            GammaForm::General(s)
        }
    }

    /// (Γ(s, x), bound on its absolute rounding error) for x > 0.
    pub(crate) fn eval(self, x: f64) -> (f64, f64) {
        let e = (-x).exp();
        match self {
            GammaForm::Integer(n) => {
                let (mut term, mut sum) = (1.0, 1.0);
                for k in 1..n {
                    term *= x / k as f64;
                    sum += term;
                }
                let mut fact = 1.0;
                for k in 1..n {
                    fact *= k as f64;
                }
                let value = fact * e * sum;
                (value, value * OP_ERROR * (3 * n + 4) as f64)
            }
            GammaForm::HalfInteger(n) => {
                let sqrt_x = x.sqrt();
                let mut g = PI.sqrt() * crate::math::erfc(sqrt_x);
                let mut err = (ERFC_ERROR + 2.0 * OP_ERROR) * g;
                // t = x^s e^{-x}, kept in step with s.
                let mut s = 0.5;
                let mut t = sqrt_x * e;
                let mut step = 3.0;
                for _ in 0..n.max(0) {
                    // Γ(s+1, x) = s Γ(s, x) + x^s e^{-x}
                    g = s * g + t;
                    err = s * err + OP_ERROR * step * (s * g.abs() + t);
                    t *= x;
                    s += 1.0;
                    step += 2.0;
                }
                for _ in n..0 {
                    // Γ(s-1, x) = (Γ(s, x) - x^{s-1} e^{-x}) / (s-1)
                    t /= x;
                    s -= 1.0;
                    let magnitude = g.abs() + t;
                    g = (g - t) / s;
                    err = (err + OP_ERROR * step * magnitude) / s.abs();
                    step += 2.0;
                }
                (g, err)
            }
            GammaForm::General(s) => {
                let g = crate::math::gamma::upper_gamma(s, x);
                (g, GENERAL_GAMMA_ERROR * g.abs())
            }
        }
    }
}

/// The Ewald/Crandall split of 1/r^p at splitting parameter η, for a cell of volume V.
/// All pieces of the sum for any p > 0, p ≠ 3 (see the module doc).
#[derive(Clone, Copy, Debug)]
pub struct InversePowerKernel {
    /// Exponent p.
    pub p: f64,
    /// Splitting parameter η (1/Å).
    pub eta: f64,
    /// Cell volume V (Å³).
    pub volume: f64,
    /// Γ(p/2).
    gamma_s: f64,
    /// π^{3/2} / (V Γ(p/2)), the prefactor of a(G²).
    recip_prefactor: f64,
    real_form: GammaForm,
    recip_form: GammaForm,
    deriv_form: GammaForm,
}

impl InversePowerKernel {
    /// Validates p (> 0, finite, ≠ 3) and η, V (> 0, finite).
    pub fn new(p: f64, eta: f64, volume: f64) -> Result<Self> {
        if !(p.is_finite() && p > 0.0) {
            return Err(Error::InvalidInput(format!(
                "inverse-power exponent must be finite and > 0, got p = {p}"
            )));
        }
        if p == 3.0 {
            return Err(Error::InvalidInput(
                "p = 3 is the pole of the Epstein zeta function: Σ 1/r^3 over a 3-D lattice \
                 has no finite value (also not by analytic continuation)"
                    .into(),
            ));
        }
        if !(eta.is_finite() && eta > 0.0 && volume.is_finite() && volume > 0.0) {
            return Err(Error::InvalidInput(format!(
                "splitting parameter and volume must be > 0, got eta = {eta}, V = {volume}"
            )));
        }
        Ok(InversePowerKernel {
            p,
            eta,
            volume,
            gamma_s: libm::tgamma(p / 2.0),
            recip_prefactor: PI.powf(1.5) / (volume * libm::tgamma(p / 2.0)),
            real_form: GammaForm::of(p / 2.0),
            recip_form: GammaForm::of((3.0 - p) / 2.0),
            deriv_form: GammaForm::of((5.0 - p) / 2.0),
        })
    }

    /// The same kernel with another splitting parameter.
    pub fn with_eta(&self, eta: f64) -> Self {
        InversePowerKernel { eta, ..*self }
    }

    /// Γ(p/2).
    pub fn gamma_half_p(&self) -> f64 {
        self.gamma_s
    }

    /// Real-space radial term Γ(p/2, η²r²) / (Γ(p/2) r^p), r > 0.
    #[inline]
    pub fn real_term(&self, r: f64) -> f64 {
        match self.real_form {
            // The two hot cases (p = 1, p = 6) in closed form: erfc(ηr)/r, e^{-x}(1+x+x²/2)/r^6.
            GammaForm::HalfInteger(0) => crate::math::erfc(self.eta * r) / r,
            GammaForm::Integer(3) => {
                let x = self.eta * self.eta * r * r;
                let r2 = r * r;
                (-x).exp() * (1.0 + x * (1.0 + 0.5 * x)) / (r2 * r2 * r2)
            }
            _ => {
                self.real_form.eval(self.eta * self.eta * r * r).0 / (self.gamma_s * r.powf(self.p))
            }
        }
    }

    /// Bound on the relative rounding error of [`real_term`](Self::real_term) for exact r:
    /// the libm call plus ~10 operations for the closed forms, the recurrence otherwise.
    pub fn real_term_rounding(&self) -> f64 {
        match self.real_form {
            GammaForm::HalfInteger(0) => ERFC_ERROR + 5.0 * OP_ERROR,
            GammaForm::Integer(3) => 6.0 * OP_ERROR,
            GammaForm::Integer(n) => (3 * n + 10) as f64 * OP_ERROR,
            GammaForm::HalfInteger(n) => (4 * n.unsigned_abs() + 12) as f64 * OP_ERROR,
            GammaForm::General(_) => GENERAL_GAMMA_ERROR + 10.0 * OP_ERROR,
        }
    }

    /// (real-space term, its derivative d/dr): f' = −(p f + 2 η^p e^{−η²r²} / Γ(p/2)) / r.
    /// The two hot cases (p = 1, p = 6) share their exponential between f and f'.
    #[inline]
    pub fn real_term_and_derivative(&self, r: f64) -> (f64, f64) {
        match self.real_form {
            GammaForm::HalfInteger(0) => {
                let (erfc, gaussian) = crate::math::gamma::erfc_and_gaussian(self.eta * r);
                let f = erfc / r;
                (f, -(f + FRAC_2_SQRT_PI * self.eta * gaussian) / r)
            }
            GammaForm::Integer(3) => {
                let x = self.eta * self.eta * r * r;
                let r2 = r * r;
                let e = (-x).exp();
                let f = e * (1.0 + x * (1.0 + 0.5 * x)) / (r2 * r2 * r2);
                (f, -(6.0 * f + self.eta.powi(6) * e) / r)
            }
            _ => self.general_term_and_derivative(r),
        }
    }

    /// [`real_term_and_derivative`](Self::real_term_and_derivative) for any p.
    fn general_term_and_derivative(&self, r: f64) -> (f64, f64) {
        let f = self.real_term(r);
        let x = self.eta * self.eta * r * r;
        let df = -(self.p * f + 2.0 * self.eta.powf(self.p) * (-x).exp() / self.gamma_s) / r;
        (f, df)
    }

    /// Reciprocal coefficient a(|G|²) of cos(G·v), summed over all G ≠ 0 (both G and −G).
    pub fn recip_coeff(&self, g2: f64) -> f64 {
        self.recip_coeff_with_error(g2).0
    }

    /// a(|G|²) with a bound on its rounding error.
    pub fn recip_coeff_with_error(&self, g2: f64) -> (f64, f64) {
        let y = g2 / (4.0 * self.eta * self.eta);
        let (gamma, err) = self.recip_form.eval(y);
        let prefactor = self.recip_prefactor * half_power(g2 / 4.0, (self.p - 3.0) / 2.0);
        let value = prefactor * gamma;
        (value, prefactor * err + value.abs() * 6.0 * OP_ERROR)
    }

    /// da/d(|G|²) = −π^{3/2} / (4 V Γ(p/2)) (|G|²/4)^{(p-5)/2} Γ((5-p)/2, G²/(4η²)) (for stress).
    pub fn recip_coeff_derivative(&self, g2: f64) -> f64 {
        let y = g2 / (4.0 * self.eta * self.eta);
        let gamma = self.deriv_form.eval(y).0;
        -self.recip_prefactor / 4.0 * half_power(g2 / 4.0, (self.p - 5.0) / 2.0) * gamma
    }

    /// G = 0 constant c₀ = 2π^{3/2} η^{p-3} / ((p-3) V Γ(p/2)) (negative for p < 3), added to
    /// every pair.
    pub fn g0_constant(&self) -> f64 {
        2.0 * PI.powf(1.5) * self.eta.powf(self.p - 3.0)
            / ((self.p - 3.0) * self.volume * self.gamma_s)
    }

    /// Self constant −η^p / Γ(p/2 + 1), added when v is a lattice vector (i == j) and the k = 0
    /// term is left out of the real-space sum.
    pub fn self_constant(&self) -> f64 {
        -self.eta.powf(self.p) / (self.gamma_s * self.p / 2.0)
    }

    /// Cost of one real-space term relative to an exp (erfc costs about two), for the cost model.
    pub fn real_term_cost(&self) -> f64 {
        match self.real_form {
            GammaForm::HalfInteger(_) => 2.0,
            GammaForm::Integer(_) => 1.0,
            GammaForm::General(_) => 15.0,
        }
    }

    /// Bound on |f'(r)| / f(r) over r in [r_min, r_max] for the real-space term, from
    /// |f'| = (p f + 2 η^p e^{-x}/Γ(p/2)) / r and e^{-x} η^p/Γ(p/2) ≤ (x + 1) f (lower bound
    /// on Γ(s, x)), so |f'|/f ≤ (p + 2 + 2η²r²)/r.
    pub fn log_derivative_bound(&self, r_min: f64, r_max: f64) -> f64 {
        (self.p + 2.0) / r_min + 2.0 * self.eta * self.eta * r_max
    }
}

impl SplitKernel for InversePowerKernel {
    fn eta(&self) -> f64 {
        self.eta
    }

    fn with_eta(&self, eta: f64) -> Self {
        InversePowerKernel::with_eta(self, eta)
    }

    fn min_eta(&self) -> f64 {
        0.0
    }

    #[inline]
    fn real_term(&self, r: f64) -> f64 {
        InversePowerKernel::real_term(self, r)
    }

    fn real_term_and_derivative(&self, r: f64) -> (f64, f64) {
        InversePowerKernel::real_term_and_derivative(self, r)
    }

    fn recip_coeff_derivative(&self, g2: f64) -> f64 {
        InversePowerKernel::recip_coeff_derivative(self, g2)
    }

    fn real_term_cost(&self) -> f64 {
        InversePowerKernel::real_term_cost(self)
    }

    fn real_rounding(&self, _r_cut: f64) -> (f64, f64) {
        (self.real_term_rounding(), 0.0)
    }

    /// From [`log_derivative_bound`](InversePowerKernel::log_derivative_bound).
    fn log_derivative(&self, r_min: f64) -> (f64, f64) {
        ((self.p + 2.0) / r_min, 2.0 * self.eta * self.eta)
    }

    fn recip_coeff_with_error(&self, g2: f64) -> (f64, f64) {
        InversePowerKernel::recip_coeff_with_error(self, g2)
    }

    fn constants(&self) -> (f64, f64, f64) {
        let (c0, self_c) = (self.g0_constant(), self.self_constant());
        (c0, self_c, 8.0 * OP_ERROR * (c0.abs() + self_c.abs()))
    }

    fn real_tail(&self, counting: &LatticeCounting, r_cut: f64) -> f64 {
        bounds::real_space_tail(self, counting, r_cut)
    }

    fn reciprocal_tail(&self, geometry: &ReducedGeometry, g_cut: f64) -> f64 {
        bounds::reciprocal_tail(self, geometry, g_cut)
    }

    fn describe(&self) -> String {
        format!("1/r^{}", self.p)
    }
}

/// The pieces of an Ewald-type split f = f_real + f_recip of a radial potential that the exact
/// engine needs: the real-space term, the reciprocal coefficients, the two constants, and
/// rigorous bounds on tails, rounding and sensitivity. One engine serves every such split.
pub trait SplitKernel {
    /// Splitting parameter η (1/Å).
    fn eta(&self) -> f64;
    /// The same kernel with another splitting parameter.
    fn with_eta(&self, eta: f64) -> Self
    where
        Self: Sized;
    /// Smallest useful η (below it the split changes nothing but risks underflow).
    fn min_eta(&self) -> f64;
    /// Real-space radial term f_real(r), r > 0.
    fn real_term(&self, r: f64) -> f64;
    /// (f_real(r), f_real'(r)) (for forces and stress).
    fn real_term_and_derivative(&self, r: f64) -> (f64, f64);
    /// da/d(|G|²) (for stress).
    fn recip_coeff_derivative(&self, g2: f64) -> f64;
    /// Cost of one real-space term relative to an exp, for the cost model.
    fn real_term_cost(&self) -> f64;
    /// (a, c): relative rounding error of `real_term(r)` for exact r ≤ r_cut is ≤ a + c·r.
    fn real_rounding(&self, r_cut: f64) -> (f64, f64);
    /// (a, c): |f_real'(r)| ≤ (a + c·r) f_real(r) for r ≥ r_min.
    fn log_derivative(&self, r_min: f64) -> (f64, f64);
    /// Reciprocal coefficient a(|G|²) of cos(G·v) (G and −G together) and its rounding bound.
    fn recip_coeff_with_error(&self, g2: f64) -> (f64, f64);
    /// (G = 0 constant added to every pair, self constant added when i == j, rounding bound of
    /// both).
    fn constants(&self) -> (f64, f64, f64);
    /// Bound on the real-space terms beyond `r_cut` over the points counted by `counting`.
    fn real_tail(&self, counting: &LatticeCounting, r_cut: f64) -> f64;
    /// Bound on Σ_{|G| > g_cut} a(|G|) (both ±G).
    fn reciprocal_tail(&self, geometry: &ReducedGeometry, g_cut: f64) -> f64;
    /// Name of the potential for error messages.
    fn describe(&self) -> String;
}

/// Screened Coulomb (Yukawa) e^{−κr}/r split at η, for a cell of volume V. From
/// e^{−κr}/r = (2/√π) ∫₀^∞ exp(−r²t² − κ²/(4t²)) dt cut at t = η, with b = κ/(2η):
///
/// f_real(r) = [e^{−κr} erfc(ηr − b) + e^{κr} erfc(ηr + b)] / (2r)   (the part t > η)
/// a(G²)     = (4π/V) e^{−(G²+κ²)/(4η²)} / (G² + κ²)                 (Fourier transform of t < η)
/// c₀        = (4π/(Vκ²)) e^{−b²}                                    (G = 0: finite, no background)
/// self      = −[2η/√π e^{−b²} − κ erfc(b)]                          (−f_recip(0) for i == j)
///
/// As κ → 0, S_Y − 4π/(Vκ²) → S_C + κ δ_ij (the Coulomb sum with neutralising background).
#[derive(Clone, Copy, Debug)]
pub struct ScreenedCoulombKernel {
    /// Inverse screening length κ (1/Å).
    pub kappa: f64,
    /// Splitting parameter η (1/Å).
    pub eta: f64,
    /// Cell volume V (Å³).
    pub volume: f64,
    /// b = κ/(2η).
    b: f64,
}

/// Largest b = κ/(2η) used: e^{−b²} ≥ 1e-271 stays a normal f64 (no underflow anywhere) and
/// the reciprocal part is then far below any reachable tolerance.
const SCREENED_MAX_B: f64 = 25.0;

/// Where b − ηr ≥ this, erfc(ηr − b) = 2 and the second term are negligible below 1e-19
/// relative, and f_real(r) = e^{−κr}/r to that accuracy (the direct-summation regime).
const SCREENED_DIRECT_GAP: f64 = 6.5;

impl ScreenedCoulombKernel {
    /// Validates κ, η, V (finite, > 0).
    pub fn new(kappa: f64, eta: f64, volume: f64) -> Result<Self> {
        if !(kappa.is_finite() && kappa > 0.0) {
            return Err(Error::InvalidInput(format!(
                "screening constant kappa must be finite and > 0 (1/Å), got kappa = {kappa}"
            )));
        }
        if !(eta.is_finite() && eta > 0.0 && volume.is_finite() && volume > 0.0) {
            return Err(Error::InvalidInput(format!(
                "splitting parameter and volume must be > 0, got eta = {eta}, V = {volume}"
            )));
        }
        Ok(ScreenedCoulombKernel {
            kappa,
            eta,
            volume,
            b: kappa / (2.0 * eta),
        })
    }

    /// b = κ/(2η).
    pub fn b(&self) -> f64 {
        self.b
    }

    /// (T₁, T₂) without overflow of e^{κr} or underflow of erfc: where erfc(z) would lose
    /// range, e^{±κr} erfc(ηr ∓ b) = e^{−η²r²−b²} erfcx(ηr ∓ b).
    #[inline]
    fn real_pair(&self, r: f64) -> (f64, f64) {
        let (x, b, kr) = (self.eta * r, self.b, self.kappa * r);
        let scaled = |z: f64| (-(x * x + b * b)).exp() * crate::math::erfcx(z);
        // One exp for both e^{∓κr}: where erfc(x + b) is used, κr = 2xb < (x+b)²/2 < 338, so
        // e^{−κr} is a normal number.
        let damping = (-kr).exp();
        let t1 = if x - b < 26.0 {
            damping * crate::math::erfc(x - b)
        } else {
            scaled(x - b)
        };
        let t2 = if x + b < 26.0 {
            crate::math::erfc(x + b) / damping
        } else {
            scaled(x + b)
        };
        (t1, t2)
    }
}

impl SplitKernel for ScreenedCoulombKernel {
    fn eta(&self) -> f64 {
        self.eta
    }

    fn with_eta(&self, eta: f64) -> Self {
        ScreenedCoulombKernel {
            eta,
            b: self.kappa / (2.0 * eta),
            ..*self
        }
    }

    fn min_eta(&self) -> f64 {
        self.kappa / (2.0 * SCREENED_MAX_B)
    }

    #[inline]
    fn real_term(&self, r: f64) -> f64 {
        if self.b - self.eta * r >= SCREENED_DIRECT_GAP {
            return (-self.kappa * r).exp() / r;
        }
        let (t1, t2) = self.real_pair(r);
        (t1 + t2) / (2.0 * r)
    }

    /// With T₁ = e^{−κr} erfc(ηr − b), T₂ = e^{κr} erfc(ηr + b):
    /// f' = [κ(T₂ − T₁) − (4η/√π) e^{−η²r²−b²}] / (2r) − f/r.
    fn real_term_and_derivative(&self, r: f64) -> (f64, f64) {
        let (x, b) = (self.eta * r, self.b);
        let (t1, t2) = self.real_pair(r);
        let f = (t1 + t2) / (2.0 * r);
        let gauss = 4.0 / PI.sqrt() * self.eta * (-(x * x + b * b)).exp();
        (f, (self.kappa * (t2 - t1) - gauss) / (2.0 * r) - f / r)
    }

    /// da/d(|G|²) = −a (1/(4η²) + 1/(G² + κ²)).
    fn recip_coeff_derivative(&self, g2: f64) -> f64 {
        let s = g2 + self.kappa * self.kappa;
        -self.recip_coeff_with_error(g2).0 * (0.25 / (self.eta * self.eta) + 1.0 / s)
    }

    /// One exp and two erfc (erfc ≈ 2 exp), or one exp in the direct regime.
    fn real_term_cost(&self) -> f64 {
        if self.b >= 2.0 * SCREENED_DIRECT_GAP {
            1.0
        } else {
            5.0
        }
    }

    /// Relative error ≤ OP_ERROR (6 + 3b + κr + 8x² + 4x), x = ηr ≤ η r_cut. Arguments:
    /// erfc(z) for z = x ∓ b carries the error of z (≤ 2u(x + b)) amplified by
    /// |erfc'/erfc| ≤ 2/√π (z ≤ 0) or 2(z + 1) (z ≥ 0, from erfcx(z) > 2/(√π(z + √(z²+2))));
    /// e^{±κr} that of κr (u·κr); T₂ ≤ T₁ e^{−(b−x)²}/(√π(x+b)) for x < b keeps T₂'s share
    /// linear in b. Plus the libm calls, the products, the sum and the division, and the
    /// two erfc's own error beyond OP_ERROR.
    fn real_rounding(&self, r_cut: f64) -> (f64, f64) {
        let eta = self.eta;
        (
            OP_ERROR * (6.0 + 3.0 * self.b) + 2.0 * (ERFC_ERROR - OP_ERROR).max(0.0),
            OP_ERROR * (self.kappa + 8.0 * eta * eta * r_cut + 4.0 * eta),
        )
    }

    /// From the derivative in [`real_term_and_derivative`](Self::real_term_and_derivative):
    /// |T₂ − T₁| ≤ 2rf, and 2rf ≥ e^{−x²−b²} erfcx(x − b) ≥ e^{−x²−b²} / (√π(max(x−b, 0) + 1)),
    /// so |f'| ≤ f (1/r + κ + 4η(1 + ηr)).
    fn log_derivative(&self, r_min: f64) -> (f64, f64) {
        let eta = self.eta;
        (1.0 / r_min + self.kappa + 4.0 * eta, 4.0 * eta * eta)
    }

    /// Relative error ≤ OP_ERROR (4 + 3y), y = (G² + κ²)/(4η²): G² (4u), + κ², × 1/(4η²),
    /// exp (u·y from the argument), the division and 4π/V.
    fn recip_coeff_with_error(&self, g2: f64) -> (f64, f64) {
        let s = g2 + self.kappa * self.kappa;
        let y = s / (4.0 * self.eta * self.eta);
        let value = 4.0 * PI / self.volume * (-y).exp() / s;
        (value, value * OP_ERROR * (4.0 + 3.0 * y))
    }

    /// The self constant is a difference of t₁ = 2η e^{−b²}/√π and t₂ = κ erfc(b) (which
    /// cancel for large b): its error is charged on t₁ + t₂. erfc(b) carries b's error
    /// amplified by 2(b + 1).
    fn constants(&self) -> (f64, f64, f64) {
        let (kappa, eta, b) = (self.kappa, self.eta, self.b);
        let e = (-b * b).exp();
        let c0 = 4.0 * PI / (self.volume * kappa * kappa) * e;
        let t1 = 2.0 * eta / PI.sqrt() * e;
        let t2 = kappa * crate::math::erfc(b);
        let err = OP_ERROR * ((c0 + t1) * (6.0 + 3.0 * b * b) + t2 * (4.0 + b * (b + 1.0)));
        (c0, t2 - t1, err)
    }

    fn real_tail(&self, counting: &LatticeCounting, r_cut: f64) -> f64 {
        bounds::screened_real_tail(self, counting, r_cut)
    }

    fn reciprocal_tail(&self, geometry: &ReducedGeometry, g_cut: f64) -> f64 {
        bounds::screened_reciprocal_tail(self, geometry, g_cut)
    }

    fn describe(&self) -> String {
        format!("exp(-{} r)/r", self.kappa)
    }
}

/// x^e, by multiplications and one square root when 2e is a (small) integer: powf costs
/// ~20 ns and this is on the per-G path.
fn half_power(x: f64, e: f64) -> f64 {
    let twice = 2.0 * e;
    if twice.fract() == 0.0 && twice.abs() <= 64.0 {
        let k = twice as i32;
        let whole = x.powi(k.div_euclid(2));
        if k.rem_euclid(2) == 1 {
            whole * x.sqrt()
        } else {
            whole
        }
    } else {
        x.powf(e)
    }
}

/// exp(−α r), the Pauli-type kernel summed directly in real space.
#[derive(Clone, Copy, Debug)]
pub struct ExponentialKernel {
    pub alpha: f64,
}

impl ExponentialKernel {
    #[inline]
    pub fn term(&self, r: f64) -> f64 {
        (-self.alpha * r).exp()
    }

    /// (term, d/dr term).
    pub fn term_and_derivative(&self, r: f64) -> (f64, f64) {
        let f = self.term(r);
        (f, -self.alpha * f)
    }
}

/// Geometry shared by every sum over one lattice: the LLL-reduced basis, its reciprocal, and
/// the diameters of both centred cells (used by the tail bounds).
#[derive(Clone, Debug)]
pub struct ReducedGeometry {
    /// LLL-reduced lattice (same lattice, same handedness).
    pub reduced: Lattice,
    /// Reciprocal basis of the reduced lattice (rows, with 2π).
    pub reciprocal: crate::cell::Mat3,
    /// Volume V (Å³).
    pub volume: f64,
    /// Longest diagonal of the reduced cell (Å): every point of the centred cell is within D/2
    /// of its centre.
    pub diameter: f64,
    /// Longest diagonal of the reciprocal cell (1/Å).
    pub reciprocal_diameter: f64,
}

impl ReducedGeometry {
    pub fn new(lattice: &Lattice) -> Self {
        let reduced = lattice.lll_reduced().0;
        let reciprocal = reduced.reciprocal();
        let rows = *reduced.matrix();
        ReducedGeometry {
            volume: reduced.volume().abs(),
            diameter: longest_diagonal(&rows),
            reciprocal_diameter: longest_diagonal(&reciprocal),
            reduced,
            reciprocal,
        }
    }
}

/// max over sign choices of |±a ± b ± c| for the rows of `m`.
fn longest_diagonal(m: &crate::cell::Mat3) -> f64 {
    let (a, b, c) = (
        m.row(0).transpose(),
        m.row(1).transpose(),
        m.row(2).transpose(),
    );
    [(1.0, 1.0), (1.0, -1.0), (-1.0, 1.0), (-1.0, -1.0)]
        .iter()
        .map(|&(sb, sc)| (a + b * sb + c * sc).norm())
        .fold(0.0, f64::max)
}

/// A point of a lattice: its integer coordinates and Cartesian position.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LatticePoint {
    pub index: [i32; 3],
    pub cart: Vec3,
}

/// Every point m·B of the lattice with rows `basis` (B) inside the closed ball of `radius`,
/// sorted by length (the origin first). `dual` must be the dual rows (a_i · b_j = 2π δ_ij for
/// a reciprocal lattice, or the reciprocal for a direct one) so that |m_i| ≤ radius |dual_i|/2π
/// bounds the search box. With `half_space`, only one of ±m is kept and the origin is left out.
pub fn points_within(
    basis: &crate::cell::Mat3,
    dual: &crate::cell::Mat3,
    radius: f64,
    half_space: bool,
) -> Vec<LatticePoint> {
    let bound = |i: usize| (radius * dual.row(i).norm() / std::f64::consts::TAU).floor() as i32;
    let (n0, n1, n2) = (bound(0), bound(1), bound(2));
    let r2 = radius * radius;
    let mut points = Vec::new();
    for i in if half_space { 0 } else { -n0 }..=n0 {
        for j in -n1..=n1 {
            for k in -n2..=n2 {
                if half_space && (i, j, k) <= (0, 0, 0) {
                    continue;
                }
                let cart =
                    (basis.row(0) * i as f64 + basis.row(1) * j as f64 + basis.row(2) * k as f64)
                        .transpose();
                if cart.norm_squared() <= r2 {
                    points.push(LatticePoint {
                        index: [i, j, k],
                        cart,
                    });
                }
            }
        }
    }
    points.sort_by_cached_key(|p| p.cart.norm_squared().to_bits());
    points
}

/// Lattice vectors n·L of the reduced lattice with |n·L| ≤ radius, sorted by length.
pub fn lattice_vectors_within(geometry: &ReducedGeometry, radius: f64) -> Vec<LatticePoint> {
    points_within(
        geometry.reduced.matrix(),
        &geometry.reciprocal,
        radius,
        false,
    )
}

/// Reciprocal vectors G = m·B with 0 < |G| ≤ radius, one of each ±G pair, sorted by length.
pub fn reciprocal_vectors_within(geometry: &ReducedGeometry, radius: f64) -> Vec<LatticePoint> {
    points_within(
        &geometry.reciprocal,
        geometry.reduced.matrix(),
        radius,
        true,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_form_derivatives_match_the_general_recurrence() {
        for p in [1.0, 6.0] {
            let kernel = InversePowerKernel::new(p, 0.37, 1000.0).unwrap();
            for r in [0.5, 2.0, 5.5, 9.0, 14.0] {
                let (f, df) = kernel.real_term_and_derivative(r);
                let (g, dg) = kernel.general_term_and_derivative(r);
                assert!((f - g).abs() <= 1e-14 * g.abs(), "p={p} r={r}: {f} vs {g}");
                assert!(
                    (df - dg).abs() <= 1e-13 * dg.abs(),
                    "p={p} r={r}: {df} vs {dg}"
                );
            }
        }
    }

    /// Γ(s, x) by Simpson quadrature of t^s e^{-t} over u = ln t in [ln x, ln(x + 60)]
    /// (smooth in u, so the reference is accurate to ~1e-13).
    fn gamma_quadrature(s: f64, x: f64) -> f64 {
        let f = |u: f64| {
            let t = u.exp();
            t.powf(s) * (-t).exp()
        };
        let n = 20000;
        let (a, b) = (x.ln(), (x + 60.0).ln());
        let h = (b - a) / n as f64;
        let mut sum = f(a) + f(b);
        for i in 1..n {
            sum += f(a + i as f64 * h) * if i % 2 == 1 { 4.0 } else { 2.0 };
        }
        sum * h / 3.0
    }

    #[test]
    fn closed_form_gamma_matches_quadrature() {
        for s in [1.0, 2.0, 3.0, 0.5, 1.5, 2.5, -0.5, -1.5, -2.5] {
            let form = GammaForm::of(s);
            assert!(!matches!(form, GammaForm::General(_)), "s = {s}");
            for x in [0.3, 1.0, 2.7, 8.0, 20.0] {
                let (g, err) = form.eval(x);
                let q = gamma_quadrature(s, x);
                assert!((g - q).abs() <= 1e-9 * q.abs(), "s={s} x={x} {g} {q}");
                // The general routine is checked against 40-digit references to 2.5e-15.
                let general = crate::math::gamma::upper_gamma(s, x);
                assert!(
                    (g - general).abs() <= err + 2.5e-15 * general.abs(),
                    "s={s} x={x}"
                );
                assert!(
                    err >= 0.0 && err < 1e-12 * g.abs().max(1e-300) * x.max(1.0).powi(3) + 1e-300
                );
            }
        }
        for s in [0.0, -1.0, 0.3, -2.7] {
            assert_eq!(GammaForm::of(s), GammaForm::General(s));
        }
    }

    #[test]
    fn kernel_pieces_match_their_closed_forms() {
        let k = InversePowerKernel::new(1.0, 0.7, 50.0).unwrap();
        let r = 1.3;
        assert!((k.real_term(r) - crate::math::erfc(0.7 * r) / r).abs() < 1e-15);
        let g2: f64 = 2.2;
        let exact = 4.0 * PI / (50.0 * g2) * (-g2 / (4.0 * 0.49)).exp();
        assert!((k.recip_coeff(g2) - exact).abs() < 1e-15 * exact);
        assert!((k.g0_constant() + PI / (0.49 * 50.0)).abs() < 1e-15);
        assert!((k.self_constant() + 2.0 * 0.7 / PI.sqrt()).abs() < 1e-15);
        for p in [1.0, 2.0, 4.0, 6.0, 0.5, 2.5, 5.0, 7.3] {
            let k = InversePowerKernel::new(p, 0.6, 40.0).unwrap();
            let h = 1e-5;
            let (_, df) = k.real_term_and_derivative(r);
            let fd = (k.real_term(r + h) - k.real_term(r - h)) / (2.0 * h);
            assert!((df - fd).abs() < 1e-7 * df.abs(), "p={p}");
            let da = k.recip_coeff_derivative(g2);
            let fd = (k.recip_coeff(g2 + h) - k.recip_coeff(g2 - h)) / (2.0 * h);
            assert!((da - fd).abs() < 1e-7 * da.abs(), "p={p}");
        }
    }

    /// (2/√π) ∫ exp(−r²t² − κ²/(4t²)) dt over [lo, hi] by Simpson in u = ln t (smooth; the
    /// step keeps the h⁴ error below 1e-12 relative for the peaked integrands used here).
    fn yukawa_integral(r: f64, kappa: f64, lo: f64, hi: f64) -> f64 {
        let f = |u: f64| {
            let t = u.exp();
            t * (-(r * r * t * t) - kappa * kappa / (4.0 * t * t)).exp()
        };
        let n = 200_000;
        let (a, b) = (lo.ln(), hi.ln());
        let h = (b - a) / n as f64;
        let mut sum = f(a) + f(b);
        for i in 1..n {
            sum += f(a + i as f64 * h) * if i % 2 == 1 { 4.0 } else { 2.0 };
        }
        2.0 / PI.sqrt() * sum * h / 3.0
    }

    #[test]
    fn screened_kernel_pieces_match_their_integrals() {
        for (kappa, eta) in [
            (0.3, 0.8),
            (2.0, 0.5),
            (5.0, 0.12),
            (0.05, 1.3),
            (40.0, 1.0),
        ] {
            let k = ScreenedCoulombKernel::new(kappa, eta, 70.0).unwrap();
            for r in [0.2, 0.9, 2.5, 6.0, 11.0] {
                let f = k.real_term(r);
                // The integral over t > η (upper end where the integrand is < 1e-300).
                let hi = (800.0f64).sqrt() / r + 10.0 * eta;
                let q = yukawa_integral(r, kappa, eta, hi);
                assert!(
                    (f - q).abs() <= 1e-10 * q + 1e-300,
                    "κ={kappa} η={eta} r={r}: {f} {q}"
                );
                // Envelopes used by the tail bounds.
                assert!(f <= (-kappa * r).exp() / r * (1.0 + 1e-14));
                if eta * r >= k.b() {
                    let x = eta * r;
                    assert!(f <= (-(x * x) - k.b() * k.b()).exp() / r * (1.0 + 1e-14));
                }
                // The log-derivative bound, against the analytic derivative and differences.
                let (_, df) = k.real_term_and_derivative(r);
                let h = 1e-6 * r;
                let fd = (k.real_term(r + h) - k.real_term(r - h)) / (2.0 * h);
                assert!((df - fd).abs() <= 1e-6 * df.abs() + 1e-250, "{df} {fd}");
                let (a, c) = k.log_derivative(r);
                assert!(df.abs() <= (a + c * r) * f, "κ={kappa} η={eta} r={r}");
            }
            // Self constant: −lim_{r→0} (e^{−κr}/r − f_real(r)) = −(2/√π) ∫₀^η e^{−κ²/(4t²)} dt.
            let (c0, self_c, err) = k.constants();
            // From where the integrand is e^{−800}.
            let q = -yukawa_integral(0.0, kappa, kappa / 800f64.sqrt() / 2.0, eta);
            assert!(
                (self_c - q).abs() <= 1e-10 * q.abs() + err + 1e-300,
                "{self_c} {q}"
            );
            let b = kappa / (2.0 * eta);
            let expected = 4.0 * PI / (70.0 * kappa * kappa) * (-b * b).exp();
            assert!((c0 - expected).abs() <= 1e-14 * expected);
            // a(G²) is the Fourier coefficient of the part t < η: decreasing in G.
            let (a1, _) = k.recip_coeff_with_error(1.0);
            let (a2, _) = k.recip_coeff_with_error(1.5);
            assert!(a2 < a1 || a1 == 0.0);
            let h = 1e-5;
            let fd = (k.recip_coeff_with_error(1.0 + h).0 - k.recip_coeff_with_error(1.0 - h).0)
                / (2.0 * h);
            let da = k.recip_coeff_derivative(1.0);
            assert!((da - fd).abs() <= 1e-7 * da.abs() + 1e-300);
        }
        // Arguments where erfc(ηr + b) underflows (ηr + b > 26) still give the right value;
        // where e^{κr} would overflow (κr > 700) the value is below 1e-300 and stays finite.
        let k = ScreenedCoulombKernel::new(30.0, 1.0, 10.0).unwrap();
        let (f, q) = (k.real_term(20.0), yukawa_integral(20.0, 30.0, 1.0, 40.0));
        assert!(q > 1e-290 && (f - q).abs() <= 1e-10 * q, "{f} {q}");
        for r in [24.0, 30.0, 60.0] {
            let f = k.real_term(r);
            assert!(f.is_finite() && (0.0..1e-300).contains(&f), "{f}");
        }
        assert!(ScreenedCoulombKernel::new(0.0, 1.0, 1.0).is_err());
        assert!(ScreenedCoulombKernel::new(f64::NAN, 1.0, 1.0).is_err());
    }

    #[test]
    fn bad_exponents_are_errors() {
        assert!(InversePowerKernel::new(3.0, 1.0, 1.0).is_err());
        assert!(InversePowerKernel::new(-1.0, 1.0, 1.0).is_err());
        assert!(InversePowerKernel::new(f64::NAN, 1.0, 1.0).is_err());
        assert!(InversePowerKernel::new(1.0, 0.0, 1.0).is_err());
        // Exponents without closed forms go through the general incomplete gamma.
        assert!(InversePowerKernel::new(5.0, 1.0, 1.0).is_ok());
        assert!(InversePowerKernel::new(0.5, 1.0, 1.0).is_ok());
    }

    #[test]
    fn enumeration_finds_every_point_in_the_ball() {
        let l = Lattice::from_parameters([3.6, 4.4, 5.1], [70.0, 105.0, 40.0]).unwrap();
        let geo = ReducedGeometry::new(&l);
        let pts = lattice_vectors_within(&geo, 12.0);
        // brute force in the original basis over a big cube
        let mut count = 0;
        for i in -15..=15 {
            for j in -15..=15 {
                for k in -15..=15 {
                    let v = l.to_cartesian(&Vec3::new(i as f64, j as f64, k as f64));
                    if v.norm() <= 12.0 {
                        count += 1;
                    }
                }
            }
        }
        assert_eq!(pts.len(), count);
        assert_eq!(pts[0].cart.norm(), 0.0);
        let g = reciprocal_vectors_within(&geo, 6.0);
        let all = points_within(&geo.reciprocal, geo.reduced.matrix(), 6.0, false);
        assert_eq!(2 * g.len() + 1, all.len());
    }
}
