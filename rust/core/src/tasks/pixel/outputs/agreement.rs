//! Scoring a prediction against a ground-truth mask while rows stream in.

use super::super::metrics::ConfusionMatrix;
use super::LabelSink;
use crate::history::SegmentationMetrics;
use crate::{Error, Result};
use ndarray::{s, Array2, ArrayView2};

/// Confusion counts of predicted labels against a `[H, W]` truth mask;
/// `ignore` marks unlabeled truth pixels (255 in QuPath exports).
pub struct Agreement {
    truth: Array2<u8>,
    matrix: ConfusionMatrix,
    ignore: u8,
}

impl Agreement {
    pub fn new(truth: Array2<u8>, classes: usize, ignore: u8) -> Agreement {
        Agreement { truth, matrix: ConfusionMatrix::new(classes), ignore }
    }

    pub fn metrics(&self) -> SegmentationMetrics {
        self.matrix.metrics()
    }
}

impl LabelSink for Agreement {
    fn write_labels(&mut self, y: usize, labels: ArrayView2<u8>) -> Result<()> {
        let (rows, width) = labels.dim();
        if width != self.truth.ncols() || y + rows > self.truth.nrows() {
            return Err(Error::config(format!(
                "the truth mask is {}x{} but the prediction reaches {}x{width}",
                self.truth.ncols(),
                self.truth.nrows(),
                y + rows
            )));
        }
        self.matrix.add_labels(self.truth.slice(s![y..y + rows, ..]), labels, self.ignore)
    }

    fn finish(&mut self) -> Result<()> {
        Ok(())
    }
}
