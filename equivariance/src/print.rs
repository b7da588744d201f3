//! The text form of a [`Basis`], as `cdlc --emit tying` prints it.
//!
//! The first line is exactly `<name>: <free> free of <dense>`. Then the
//! group, the map, the channel factor, how the basis was solved, and the
//! pattern: for label patterns the matrix of labels (its first rows and
//! columns when large), otherwise the basis matrices. The output depends
//! only on the basis, so it is stable across runs.

use crate::basis::{Basis, Method, Pattern};
use crate::number::show_rational;
use crate::space::show_shape;
use std::fmt::Write;

/// Rows and columns of a matrix printed before it is cut.
const MAX_ROWS: usize = 16;
const MAX_COLS: usize = 24;
/// Basis matrices printed before the rest are counted.
const MAX_ELEMENTS: usize = 12;

impl Basis {
    /// The tying report for the parameter `name` (for example `phi.W`).
    pub fn render(&self, name: &str) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{name}: {} free of {}", self.free(), self.dense());
        let _ = writeln!(out, "  group: {}", self.group);
        if self.in_shape.is_empty() {
            let _ = writeln!(out, "  map: invariant {}", show_shape(&self.out_shape));
        } else {
            let _ = writeln!(
                out,
                "  map: {} -> {}",
                show_shape(&self.in_shape),
                show_shape(&self.out_shape)
            );
        }
        let (d, c) = self.channels();
        if d * c > 1 {
            let _ = writeln!(
                out,
                "  channels: {d} out x {c} in, each pair with its own copy of the {} coefficients below",
                self.pattern.count()
            );
        }
        let _ = writeln!(out, "  solved: {}", self.describe_method());
        let (rows, cols) = self.display_grid();
        let inner_in = if self.inner_in_shape.is_empty() {
            "invariant".to_string()
        } else {
            show_shape(&self.inner_in_shape)
        };
        let inner = format!("{} -> {}", inner_in, show_shape(&self.inner_out_shape));
        let n: usize = self.inner_in_shape.iter().product();
        match &self.pattern {
            Pattern::Labels { count, .. } | Pattern::Sparse { count, .. } => {
                let _ = writeln!(
                    out,
                    "  pattern {inner}: {count} labels (0 = always zero, -k = minus coefficient k)"
                );
                // The grid is the inner matrix reshaped: cell `u` is entry `u`.
                let cell = |u: usize| {
                    let label = self.pattern.label_at(u / n, u % n, n);
                    label.expect("a label pattern").to_string()
                };
                write_matrix(&mut out, cell, rows, cols);
            }
            Pattern::Vectors { float, exact } => {
                let _ = writeln!(out, "  basis {inner}: {} matrices", float.len());
                for k in 0..float.len().min(MAX_ELEMENTS) {
                    let mut cells = vec!["0".to_string(); rows * cols];
                    match exact {
                        Some(e) => {
                            for (u, v) in &e[k] {
                                cells[*u as usize] = show_rational(v);
                            }
                        }
                        None => {
                            for (u, v) in &float[k] {
                                cells[*u as usize] = show_float(*v);
                            }
                        }
                    }
                    let _ = writeln!(out, "  B{}:", k + 1);
                    write_matrix(&mut out, |u| cells[u].clone(), rows, cols);
                }
                if float.len() > MAX_ELEMENTS {
                    let _ = writeln!(out, "  ... and {} more", float.len() - MAX_ELEMENTS);
                }
            }
        }
        if self.scales.iter().any(|s| *s != 1.0) {
            let factors: Vec<String> = self.scales.iter().map(|s| show_scale(*s)).collect();
            let _ = writeln!(
                out,
                "  elements scaled to unit row norm, by (in coefficient order): {}",
                factors.join(", ")
            );
        }
        out
    }

    fn describe_method(&self) -> String {
        match self.method {
            Method::Orbits => "exact, orbits of index pairs".to_string(),
            Method::SignedOrbits => "exact, signed orbits of index pairs".to_string(),
            Method::Rational => "exact, rational elimination".to_string(),
            Method::Float => match self.gap {
                Some(g) => format!(
                    "floating point, singular values relative to the largest: zero up to {:.1e}, nonzero from {:.1e} (tolerance {:.0e})",
                    g.largest_zero, g.smallest_nonzero, g.tolerance
                ),
                None => "floating point".to_string(),
            },
        }
    }

    /// Rows and columns of the inner matrix as printed: `W'[i, j]`, except
    /// that an invariant is laid out along the last axis of its space (one row
    /// for a vector).
    fn display_grid(&self) -> (usize, usize) {
        let m: usize = self.inner_out_shape.iter().product();
        let n: usize = self.inner_in_shape.iter().product();
        if n == 1 && self.inner_out_shape.len() >= 2 {
            let last = *self.inner_out_shape.last().expect("rank ≥ 2");
            (m / last, last)
        } else if n == 1 {
            (1, m)
        } else {
            (m, n)
        }
    }
}

/// Writes the first rows and columns of a `rows × cols` matrix whose cell
/// at flat index `i·cols + j` is `cell(i·cols + j)`; only the cells shown
/// are asked for.
fn write_matrix(out: &mut String, cell: impl Fn(usize) -> String, rows: usize, cols: usize) {
    let shown_rows = rows.min(MAX_ROWS);
    let shown_cols = cols.min(MAX_COLS);
    let cells: Vec<Vec<String>> = (0..shown_rows)
        .map(|i| (0..shown_cols).map(|j| cell(i * cols + j)).collect())
        .collect();
    let width = cells.iter().flatten().map(String::len).max().unwrap_or(1);
    for row in &cells {
        let mut line = String::from("   ");
        for c in row {
            let _ = write!(line, " {c:>width$}");
        }
        if shown_cols < cols {
            line.push_str(" ...");
        }
        let _ = writeln!(out, "{line}");
    }
    if shown_rows < rows || shown_cols < cols {
        let _ = writeln!(
            out,
            "    (rows 1-{shown_rows} of {rows}, columns 1-{shown_cols} of {cols})"
        );
    }
}

/// A float as a short fraction when it is one, else with 6 significant digits.
fn show_float(x: f64) -> String {
    for q in 1..=12i64 {
        let p = (x * q as f64).round();
        if (x - p / q as f64).abs() < 1e-12 {
            return if q == 1 {
                format!("{}", p as i64)
            } else {
                format!("{}/{q}", p as i64)
            };
        }
    }
    format!("{x:.6}")
}

/// A normalising factor: `1/√r` when it is one (an orbit with `r` entries
/// per row), else the number.
fn show_scale(s: f64) -> String {
    let r = (1.0 / (s * s)).round();
    if r >= 1.0 && (1.0 / r.sqrt() - s).abs() <= 1e-12 * s {
        if r == 1.0 {
            "1".to_string()
        } else {
            format!("1/√{r}")
        }
    } else {
        show_float(s)
    }
}
