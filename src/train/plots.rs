//! Figures of a training run: the learning curve and the parity plot, as PNG.
//!
//! plotters draws SVG (its bitmap text needs fontconfig development files at build time);
//! resvg turns that into PNG with the system's fonts, in pure Rust.

use std::path::Path;

use plotters::prelude::*;
use resvg::{tiny_skia, usvg};

use crate::error::{Error, Result};

const SIZE: (u32, u32) = (800, 600);

/// One point of a learning curve.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EpochPoint {
    pub epoch: usize,
    pub train_loss: f64,
    pub val_mae: f64,
}

/// Training loss and validation MAE per epoch (log scale: both fall over decades).
pub fn learning_curve(path: &Path, points: &[EpochPoint], unit: &str) -> Result<()> {
    if points.is_empty() {
        return Err(Error::InvalidInput("no epochs to plot".into()));
    }
    let positive = |f: fn(&EpochPoint) -> f64| points.iter().map(f).filter(|v| *v > 0.0);
    let lo = positive(|p| p.train_loss)
        .chain(positive(|p| p.val_mae))
        .fold(f64::INFINITY, f64::min);
    let hi = positive(|p| p.train_loss)
        .chain(positive(|p| p.val_mae))
        .fold(0.0, f64::max);
    let (lo, hi) = if lo.is_finite() && hi > lo {
        (lo / 1.5, hi * 1.5)
    } else {
        (1e-3, 1.0)
    };
    let last = points.iter().map(|p| p.epoch).max().unwrap_or(1).max(1);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(draw_error)?;
        let mut chart = ChartBuilder::on(&root)
            .caption("Learning curve", ("sans-serif", 26))
            .margin(20)
            .x_label_area_size(50)
            .y_label_area_size(80)
            .build_cartesian_2d(0..last, (lo..hi).log_scale())
            .map_err(draw_error)?;
        chart
            .configure_mesh()
            .light_line_style(TRANSPARENT)
            .y_label_formatter(&|v| three_significant_digits(*v))
            .x_desc("epoch")
            .y_desc(format!("loss (normalised) / validation MAE ({unit})"))
            .draw()
            .map_err(draw_error)?;
        let series = |f: fn(&EpochPoint) -> f64| {
            points
                .iter()
                .filter(move |p| f(p) > 0.0)
                .map(move |p| (p.epoch, f(p)))
        };
        chart
            .draw_series(LineSeries::new(series(|p| p.train_loss), &BLUE))
            .map_err(draw_error)?
            .label("training loss")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], BLUE));
        chart
            .draw_series(LineSeries::new(series(|p| p.val_mae), &RED))
            .map_err(draw_error)?
            .label("validation MAE")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], RED));
        chart
            .configure_series_labels()
            .background_style(WHITE)
            .border_style(BLACK)
            .draw()
            .map_err(draw_error)?;
        root.present().map_err(draw_error)?;
    }
    write_png(&svg, path)
}

/// Predicted against true values, with the diagonal and the MAE in the title.
pub fn parity_plot(
    path: &Path,
    predictions: &[f64],
    targets: &[f64],
    what: &str,
    unit: &str,
) -> Result<()> {
    if predictions.is_empty() || predictions.len() != targets.len() {
        return Err(Error::InvalidInput(
            "a parity plot needs as many predictions as targets, at least one".into(),
        ));
    }
    let all = predictions.iter().chain(targets).copied();
    let lo = all.clone().fold(f64::INFINITY, f64::min);
    let hi = all.fold(f64::NEG_INFINITY, f64::max);
    let pad = ((hi - lo) * 0.05).max(1e-9);
    let (lo, hi) = (lo - pad, hi + pad);
    let mae = predictions
        .iter()
        .zip(targets)
        .map(|(p, t)| (p - t).abs())
        .sum::<f64>()
        / targets.len() as f64;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (SIZE.1, SIZE.1)).into_drawing_area();
        root.fill(&WHITE).map_err(draw_error)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!("{what}: MAE {mae:.4} {unit}, n = {}", targets.len()),
                ("sans-serif", 22),
            )
            .margin(20)
            .x_label_area_size(50)
            .y_label_area_size(70)
            .build_cartesian_2d(lo..hi, lo..hi)
            .map_err(draw_error)?;
        chart
            .configure_mesh()
            .light_line_style(TRANSPARENT)
            .x_desc(format!("true ({unit})"))
            .y_desc(format!("predicted ({unit})"))
            .draw()
            .map_err(draw_error)?;
        chart
            .draw_series(LineSeries::new([(lo, lo), (hi, hi)], &BLACK))
            .map_err(draw_error)?;
        chart
            .draw_series(
                targets
                    .iter()
                    .zip(predictions)
                    .map(|(&t, &p)| Circle::new((t, p), 2, BLUE.mix(0.4).filled())),
            )
            .map_err(draw_error)?;
        root.present().map_err(draw_error)?;
    }
    write_png(&svg, path)
}

/// Tick labels such as 0.7 or 0.0035 rather than 0.7000000000000001.
fn three_significant_digits(v: f64) -> String {
    let decimals = (2.0 - v.abs().log10().floor()).clamp(0.0, 12.0) as usize;
    format!("{v:.decimals$}")
}

fn draw_error<E: std::fmt::Display>(e: E) -> Error {
    Error::InvalidInput(format!("drawing a plot failed: {e}"))
}

/// Rasterises an SVG with the system's fonts (text is left out if none is installed).
fn write_png(svg: &str, path: &Path) -> Result<()> {
    let mut options = usvg::Options::default();
    let fonts = options.fontdb_mut();
    fonts.load_system_fonts();
    // plotters asks for the generic "sans-serif", which fontdb maps to Arial by default.
    let family = fonts
        .faces()
        .flat_map(|face| face.families.iter().map(|(name, _)| name.clone()))
        .find(|name| name == "DejaVu Sans" || name.contains("Sans"));
    if let Some(family) = family {
        fonts.set_sans_serif_family(family);
    }
    let tree = usvg::Tree::from_str(svg, &options).map_err(draw_error)?;
    let size = tree.size().to_int_size();
    let mut pixmap = tiny_skia::Pixmap::new(size.width(), size.height())
        .ok_or_else(|| draw_error("empty image"))?;
    resvg::render(&tree, tiny_skia::Transform::default(), &mut pixmap.as_mut());
    let png = pixmap.encode_png().map_err(draw_error)?;
    std::fs::write(path, png).map_err(|e| Error::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png_size(path: &Path) -> (u32, u32) {
        let bytes = std::fs::read(path).unwrap();
        assert_eq!(&bytes[1..4], b"PNG");
        let be = |i: usize| u32::from_be_bytes(bytes[i..i + 4].try_into().unwrap());
        (be(16), be(20))
    }

    #[test]
    fn writes_both_figures_as_png() {
        let dir = std::env::temp_dir().join(format!("crystalpot-plots-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let curve = dir.join("curve.png");
        let points: Vec<EpochPoint> = (1..=20)
            .map(|e| EpochPoint {
                epoch: e,
                train_loss: 1.0 / e as f64,
                val_mae: 0.5 / (e as f64).sqrt(),
            })
            .collect();
        learning_curve(&curve, &points, "eV").unwrap();
        assert_eq!(png_size(&curve), SIZE);
        let parity = dir.join("parity.png");
        parity_plot(
            &parity,
            &[1.0, 2.1, 2.9],
            &[1.0, 2.0, 3.0],
            "heat_all",
            "eV",
        )
        .unwrap();
        assert_eq!(png_size(&parity), (SIZE.1, SIZE.1));
        assert!(parity_plot(&parity, &[], &[], "x", "eV").is_err());
        assert!(learning_curve(&curve, &[], "eV").is_err());
    }
}
