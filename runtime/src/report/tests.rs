//! The metrics table's exact text and the loss plot's structure.

use super::*;

fn rows() -> Vec<EpochMetrics> {
    vec![
        EpochMetrics {
            epoch: 1,
            train_loss: 0.75,
            val_loss: Some(0.8),
            val_accuracy: Some(0.5),
        },
        EpochMetrics {
            epoch: 2,
            train_loss: 0.5,
            val_loss: Some(0.625),
            val_accuracy: Some(0.75),
        },
        EpochMetrics {
            epoch: 3,
            train_loss: 0.25,
            val_loss: Some(0.5),
            val_accuracy: Some(0.875),
        },
    ]
}

#[test]
fn metrics_table() {
    assert_eq!(
        metrics_csv(&rows()),
        "epoch,train_loss,val_loss,val_accuracy\n1,0.75,0.8,0.5\n2,0.5,0.625,0.75\n3,0.25,0.5,0.875\n"
    );
    let regression = [EpochMetrics {
        epoch: 1,
        train_loss: 1.5,
        val_loss: Some(2.0),
        val_accuracy: None,
    }];
    assert_eq!(
        metrics_csv(&regression),
        "epoch,train_loss,val_loss,val_accuracy\n1,1.5,2,\n"
    );
    let no_split = [EpochMetrics {
        epoch: 1,
        train_loss: 1.5,
        val_loss: None,
        val_accuracy: None,
    }];
    assert!(metrics_csv(&no_split).ends_with("\n1,1.5,,\n"));
}

/// The contents of every `<text>` element, trimmed.
fn texts(svg: &str) -> Vec<&str> {
    svg.split("<text")
        .skip(1)
        .filter_map(|t| {
            let body = &t[t.find('>')? + 1..];
            Some(body[..body.find("</text>")?].trim())
        })
        .collect()
}

/// Checks that every tag is closed in order (a minimal well-formedness
/// check: the plot has no comments, CDATA or `>` inside attributes).
#[track_caller]
fn check_balanced(svg: &str) {
    let mut open: Vec<&str> = Vec::new();
    let mut rest = svg;
    while let Some(start) = rest.find('<') {
        let end = start + rest[start..].find('>').expect("every tag is closed by >");
        let tag = &rest[start + 1..end];
        rest = &rest[end + 1..];
        if tag.starts_with('?') || tag.starts_with('!') || tag.ends_with('/') {
            continue;
        }
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(open.pop(), Some(name.trim()), "mismatched </{name}>");
        } else {
            open.push(tag.split_whitespace().next().expect("a tag has a name"));
        }
    }
    assert!(open.is_empty(), "unclosed tags {open:?}");
}

/// The number of points of each polyline drawn in a series colour (blue
/// for training, red for validation); axes and ticks are black.
fn polylines(svg: &str) -> Vec<usize> {
    svg.match_indices("<polyline")
        .map(|(i, _)| &svg[i..i + svg[i..].find('>').expect("closed")])
        .filter(|tag| tag.contains("stroke=\"#0000FF\"") || tag.contains("stroke=\"#FF0000\""))
        .map(|tag| {
            let points = tag.split("points=\"").nth(1).expect("a points attribute");
            points[..points.find('"').expect("quoted")]
                .split_whitespace()
                .count()
        })
        .collect()
}

#[test]
fn loss_plot_has_both_curves_axes_and_legend() {
    let svg = loss_svg(&rows(), "classify").expect("drawn");
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    check_balanced(&svg);
    for text in ["classify", "epoch", "loss", "train", "validation"] {
        assert!(texts(&svg).contains(&text), "missing text {text}");
    }
    // The two curves have one point per epoch; the legend adds two 2-point
    // samples.
    let mut lines = polylines(&svg);
    lines.sort();
    assert_eq!(lines.iter().filter(|&&n| n == 3).count(), 2, "{lines:?}");
    assert_eq!(svg.matches("<circle").count(), 6);
}

#[test]
fn degenerate_runs_still_plot() {
    let one = [EpochMetrics {
        epoch: 1,
        train_loss: f64::NAN,
        val_loss: None,
        val_accuracy: None,
    }];
    let svg = loss_svg(&one, "diverged").expect("drawn");
    check_balanced(&svg);
    assert!(polylines(&svg).is_empty());
    let svg = loss_svg(&[], "empty").expect("drawn");
    check_balanced(&svg);
    let flat = [
        EpochMetrics {
            epoch: 1,
            train_loss: 2.0,
            val_loss: None,
            val_accuracy: None,
        },
        EpochMetrics {
            epoch: 2,
            train_loss: 2.0,
            val_loss: None,
            val_accuracy: None,
        },
    ];
    let svg = loss_svg(&flat, "flat").expect("drawn");
    assert!(texts(&svg).contains(&"train"));
    assert!(
        !texts(&svg).contains(&"validation"),
        "no validation series, no legend entry"
    );
}

#[test]
fn files_are_written() {
    let dir = std::env::temp_dir().join(format!("cdlc-runtime-report-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temporary folder is writable");
    write_metrics(&dir.join("metrics.csv"), &rows()).expect("written");
    write_loss_svg(&dir.join("loss.svg"), &rows(), "classify").expect("written");
    let csv = std::fs::read_to_string(dir.join("metrics.csv")).expect("readable");
    assert!(csv.starts_with(METRICS_HEADER));
    let svg = std::fs::read_to_string(dir.join("loss.svg")).expect("readable");
    assert!(svg.contains("<polyline"));
    assert!(write_metrics(&dir.join("missing").join("m.csv"), &rows()).is_err());
    std::fs::remove_dir_all(&dir).expect("clean up");
}
