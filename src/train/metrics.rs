//! Regression metrics reported by training and `crystalpot evaluate`.

use serde::Serialize;

/// Errors of predictions against targets.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Metrics {
    pub n: usize,
    pub mae: f64,
    pub rmse: f64,
    /// Coefficient of determination 1 − SS_res/SS_tot (NaN when the targets are constant).
    pub r2: f64,
    pub max_error: f64,
}

impl Metrics {
    /// Metrics of `predictions` against `targets` (same length, at least one).
    pub fn new(predictions: &[f64], targets: &[f64]) -> Self {
        assert_eq!(
            predictions.len(),
            targets.len(),
            "one prediction per target"
        );
        let n = targets.len();
        let mean = targets.iter().sum::<f64>() / n as f64;
        let (mut abs, mut sq, mut max, mut tot) = (0.0, 0.0, 0.0f64, 0.0);
        for (&p, &t) in predictions.iter().zip(targets) {
            let e = p - t;
            abs += e.abs();
            sq += e * e;
            max = max.max(e.abs());
            tot += (t - mean) * (t - mean);
        }
        Metrics {
            n,
            mae: abs / n as f64,
            rmse: (sq / n as f64).sqrt(),
            r2: if tot > 0.0 { 1.0 - sq / tot } else { f64::NAN },
            max_error: max,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        let m = Metrics::new(&[1.0, 2.0, 4.0], &[1.0, 3.0, 3.0]);
        assert_eq!(m.n, 3);
        assert!((m.mae - 2.0 / 3.0).abs() < 1e-15);
        assert!((m.rmse - (2.0f64 / 3.0).sqrt()).abs() < 1e-15);
        assert_eq!(m.max_error, 1.0);
        // mean 7/3; SS_tot = 16/9 + 4/9 + 4/9 = 24/9; SS_res = 2.
        assert!((m.r2 - (1.0 - 2.0 / (24.0 / 9.0))).abs() < 1e-15);
        assert!(Metrics::new(&[1.0], &[2.0]).r2.is_nan());
    }
}
