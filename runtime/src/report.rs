//! Training reports: `metrics.csv` and the loss curve `loss.svg`.
//!
//! `metrics.csv` has the header `epoch,train_loss,val_loss,val_accuracy`
//! and one row per epoch; a field is empty when there is no value (no
//! validation split, or accuracy for a regression loss). Numbers are
//! printed in the shortest form that reads back to the same f64.
//!
//! `loss.svg` plots the training and validation loss per epoch as lines
//! with point markers, labelled axes and a legend. It is drawn with
//! plotters' SVG backend, which writes text as SVG `<text>` elements and so
//! needs no font files. Both files are written atomically.

use std::fmt::Write as _;
use std::path::Path;

use plotters::prelude::*;

use crate::checkpoint::write_atomic;

#[cfg(test)]
mod tests;

/// The metrics of one epoch.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EpochMetrics {
    /// The epoch, from 1.
    pub epoch: usize,
    /// The mean training loss over the epoch.
    pub train_loss: f64,
    /// The validation loss, if there is a validation split.
    pub val_loss: Option<f64>,
    /// The validation accuracy in [0, 1], for classification losses.
    pub val_accuracy: Option<f64>,
}

/// A report that could not be written.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ReportError {
    /// The file system refused.
    #[error("cannot write {path}: {message}")]
    Io {
        /// The file.
        path: String,
        /// The operating system's message.
        message: String,
    },
    /// The plot could not be drawn.
    #[error("cannot draw the loss curve: {0}")]
    Plot(String),
}

/// The header row of `metrics.csv`.
pub const METRICS_HEADER: &str = "epoch,train_loss,val_loss,val_accuracy";

/// The text of `metrics.csv`.
pub fn metrics_csv(rows: &[EpochMetrics]) -> String {
    let mut out = String::from(METRICS_HEADER);
    out.push('\n');
    let opt = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
    for r in rows {
        let _ = writeln!(
            out,
            "{},{},{},{}",
            r.epoch,
            r.train_loss,
            opt(r.val_loss),
            opt(r.val_accuracy)
        );
    }
    out
}

fn io_error(path: &Path, e: std::io::Error) -> ReportError {
    ReportError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

/// Writes `metrics.csv` atomically.
pub fn write_metrics(path: &Path, rows: &[EpochMetrics]) -> Result<(), ReportError> {
    write_atomic(path, metrics_csv(rows).as_bytes()).map_err(|e| io_error(path, e))
}

/// The width and height of the plot, in pixels.
const SIZE: (u32, u32) = (720, 450);

/// The SVG text of the loss curve, titled `title`.
///
/// Non-finite losses (a diverged run) are left out of the lines; with no
/// finite loss at all the axes are drawn empty.
pub fn loss_svg(rows: &[EpochMetrics], title: &str) -> Result<String, ReportError> {
    let train: Vec<(f64, f64)> = points(rows, |r| Some(r.train_loss));
    let val: Vec<(f64, f64)> = points(rows, |r| r.val_loss);
    let (x0, x1) = match (
        rows.iter().map(|r| r.epoch).min(),
        rows.iter().map(|r| r.epoch).max(),
    ) {
        (Some(lo), Some(hi)) if hi > lo => (lo as f64, hi as f64),
        (Some(e), _) => (e as f64 - 1.0, e as f64 + 1.0),
        _ => (0.0, 1.0),
    };
    let ys = train.iter().chain(&val).map(|p| p.1);
    let (lo, hi) = ys.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), y| {
        (lo.min(y), hi.max(y))
    });
    let (y0, y1) = if lo > hi {
        (0.0, 1.0)
    } else {
        let pad = if hi > lo {
            0.05 * (hi - lo)
        } else {
            0.5 * lo.abs().max(1.0)
        };
        (if lo >= 0.0 { 0.0 } else { lo - pad }, hi + pad)
    };
    let mut svg = String::new();
    draw(&mut svg, title, (x0, x1), (y0, y1), &train, &val).map_err(ReportError::Plot)?;
    Ok(svg)
}

/// The finite `(epoch, value)` points of one series.
fn points(rows: &[EpochMetrics], value: impl Fn(&EpochMetrics) -> Option<f64>) -> Vec<(f64, f64)> {
    rows.iter()
        .filter_map(|r| {
            value(r)
                .filter(|v| v.is_finite())
                .map(|v| (r.epoch as f64, v))
        })
        .collect()
}

fn draw(
    svg: &mut String,
    title: &str,
    x: (f64, f64),
    y: (f64, f64),
    train: &[(f64, f64)],
    val: &[(f64, f64)],
) -> Result<(), String> {
    let err = |e: &dyn std::fmt::Display| e.to_string();
    let root = SVGBackend::with_string(svg, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .build_cartesian_2d(x.0..x.1, y.0..y.1)
        .map_err(|e| err(&e))?;
    let epochs = (x.1 - x.0).round() as usize + 1;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_desc("loss")
        .x_labels(epochs.clamp(2, 11))
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_label_formatter(&|v| format!("{v:.3}"))
        .draw()
        .map_err(|e| err(&e))?;
    let series = [("train", train, BLUE), ("validation", val, RED)];
    for (label, pts, color) in series {
        if pts.is_empty() {
            continue;
        }
        chart
            .draw_series(LineSeries::new(pts.iter().copied(), color.stroke_width(2)))
            .map_err(|e| err(&e))?
            .label(label)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        chart
            .draw_series(pts.iter().map(|&p| Circle::new(p, 3, color.filled())))
            .map_err(|e| err(&e))?;
    }
    if !train.is_empty() || !val.is_empty() {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(|e| err(&e))?;
    }
    root.present().map_err(|e| err(&e))?;
    Ok(())
}

/// Writes `loss.svg` atomically.
pub fn write_loss_svg(path: &Path, rows: &[EpochMetrics], title: &str) -> Result<(), ReportError> {
    let svg = loss_svg(rows, title)?;
    write_atomic(path, svg.as_bytes()).map_err(|e| io_error(path, e))
}
