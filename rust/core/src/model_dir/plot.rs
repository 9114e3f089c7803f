//! The training-curve plot written beside a model: losses and mean IoU per epoch.

use crate::history::EpochRecord;
use crate::{Error, Result};
use plotters::prelude::*;
use std::path::Path;

static FONT: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");

fn register_font() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Only fails for a malformed font, which is compiled in and tested.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

/// Draws train/validation loss (left) and validation mean IoU (right) to a PNG.
pub fn plot_history(history: &[EpochRecord], path: &Path) -> Result<()> {
    register_font();
    let err = |e: &dyn std::fmt::Display| Error::data(path, format!("cannot draw plot: {e}"));
    let root = BitMapBackend::new(path, (1000, 420)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let (left, right) = root.split_horizontally(500);
    let epochs = history.len().max(1) as f64;
    let max_loss = history.iter().flat_map(|r| [r.train_loss, r.val_loss]).filter(|v| v.is_finite()).fold(0.0, f64::max);

    let mut chart = ChartBuilder::on(&left)
        .caption("Loss", ("sans-serif", 20))
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(50)
        .build_cartesian_2d(1.0..epochs.max(2.0), 0.0..(max_loss * 1.05).max(1e-3))
        .map_err(|e| err(&e))?;
    chart.configure_mesh().x_desc("epoch").draw().map_err(|e| err(&e))?;
    for (label, color, pick) in [
        ("train", BLUE, (|r: &EpochRecord| r.train_loss) as fn(&EpochRecord) -> f64),
        ("validation", RED, |r: &EpochRecord| r.val_loss),
    ] {
        chart
            .draw_series(LineSeries::new(history.iter().map(|r| (r.epoch as f64, pick(r))), color.stroke_width(2)))
            .map_err(|e| err(&e))?
            .label(label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
    }
    chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw().map_err(|e| err(&e))?;

    let mut iou = ChartBuilder::on(&right)
        .caption("Validation mean IoU", ("sans-serif", 20))
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(50)
        .build_cartesian_2d(1.0..epochs.max(2.0), 0.0..1.0)
        .map_err(|e| err(&e))?;
    iou.configure_mesh().x_desc("epoch").draw().map_err(|e| err(&e))?;
    iou.draw_series(LineSeries::new(history.iter().map(|r| (r.epoch as f64, r.metrics.mean_iou)), GREEN.stroke_width(2)))
        .map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))?;
    Ok(())
}
