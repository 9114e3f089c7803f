//! Result files of whole-image inference, written while rows stream in.
//!
//! Every writer is a [`ProbabilitySink`] that holds at most a few rows; files
//! are written under a temporary name and renamed into place by `finish`, so
//! a failed or cancelled run leaves no half-written output. Outputs that need
//! only the winning class are [`LabelSink`]s, those that need both are
//! [`ClassifiedSink`]s; [`Sinks`] feeds several outputs from one run and
//! computes the labels once for all of them.

pub mod agreement;
pub mod class_map;
pub mod display;
pub mod measurements;
pub mod objects;
pub mod overlay;
pub mod probability_tiff;
mod staged;

pub use agreement::Agreement;
pub use class_map::ClassMap;
pub use measurements::{ClassCounts, ClassMeasurement, Measurements, PixelSize};
pub use display::Display;
pub use objects::{ObjectFiles, ObjectSummary};
pub use overlay::{blend_colors, class_colors, Overlay, OverlayMode};
pub use probability_tiff::{ProbabilityTiff, SampleType};

use crate::region::{RegionRows, OUTSIDE};
use crate::tiling::ProbabilitySink;
use crate::{Error, Result};
use ndarray::{Array2, Array3, ArrayView1, ArrayView2, ArrayView3, Axis, Zip};

/// Receives the most probable class of each pixel, rows top to bottom:
/// `labels` is `[rows, W]` for image rows `y .. y + rows`, [`OUTSIDE`]
/// where a run restricted to a region does not classify.
pub trait LabelSink {
    fn write_labels(&mut self, y: usize, labels: ArrayView2<u8>) -> Result<()>;
    fn finish(&mut self) -> Result<()>;
}

/// Receives the probabilities `[K, rows, W]` of rows `y .. y + rows` with
/// their labels `[rows, W]`.
pub trait ClassifiedSink {
    fn write_classified(&mut self, y: usize, probs: ArrayView3<f32>, labels: ArrayView2<u8>) -> Result<()>;
    fn finish(&mut self) -> Result<()>;
}

/// Any label sink can take probabilities directly.
impl<T: LabelSink> ProbabilitySink for T {
    fn write_rows(&mut self, y: usize, probs: ArrayView3<f32>) -> Result<()> {
        self.write_labels(y, argmax(probs)?.view())
    }

    fn finish(&mut self) -> Result<()> {
        LabelSink::finish(self)
    }
}

/// The most probable class of each pixel of a `[K, rows, W]` block (the
/// lowest index on ties); at most 256 classes fit the 8-bit labels.
pub fn argmax(probs: ArrayView3<f32>) -> Result<Array2<u8>> {
    let classes = probs.len_of(Axis(0));
    if !(1..=256).contains(&classes) {
        return Err(Error::config(format!("class maps hold 1 to 256 classes, got {classes}")));
    }
    let mut best = probs.index_axis(Axis(0), 0).to_owned();
    let mut labels = Array2::zeros(best.raw_dim());
    for (class, p) in probs.outer_iter().enumerate().skip(1) {
        Zip::from(&mut labels).and(&mut best).and(&p).for_each(|label, best, &p| {
            if p > *best {
                *best = p;
                *label = class as u8;
            }
        });
    }
    Ok(labels)
}

/// Forwards rows to several sinks: probabilities as they are, and labels,
/// computed once, to every label sink. The sinks stay the caller's, to read
/// in-memory results (such as [`ClassCounts`]) afterwards.
#[derive(Default)]
pub struct Sinks<'a> {
    probabilities: Vec<&'a mut dyn ProbabilitySink>,
    labels: Vec<&'a mut dyn LabelSink>,
    classified: Vec<&'a mut dyn ClassifiedSink>,
    /// Rows of the region the run is restricted to, with one row of room.
    region: Option<(RegionRows<'a>, Vec<bool>)>,
}

impl<'a> Sinks<'a> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn probabilities(mut self, sink: &'a mut dyn ProbabilitySink) -> Self {
        self.probabilities.push(sink);
        self
    }

    pub fn labels(mut self, sink: &'a mut dyn LabelSink) -> Self {
        self.labels.push(sink);
        self
    }

    pub fn classified(mut self, sink: &'a mut dyn ClassifiedSink) -> Self {
        self.classified.push(sink);
        self
    }

    /// Restricts every output to the pixels of `rows`: outside them,
    /// probabilities are 0 and labels [`OUTSIDE`].
    pub fn within(mut self, rows: RegionRows<'a>, width: usize) -> Self {
        self.region = Some((rows, vec![false; width]));
        self
    }

    /// `[K, rows, W]` with the pixels outside the region zeroed, and a
    /// `[rows, W]` mask of those inside.
    fn restrict(&mut self, probs: ArrayView3<f32>) -> Option<(Array3<f32>, Array2<bool>)> {
        let (rows, inside) = self.region.as_mut()?;
        let (_, n, width) = probs.dim();
        let mut mask = Array2::from_elem((n, width), false);
        for mut row in mask.outer_iter_mut() {
            if rows.next_row(inside) {
                row.assign(&ArrayView1::from(&inside[..]));
            }
        }
        let mut probs = probs.to_owned();
        for mut plane in probs.outer_iter_mut() {
            Zip::from(&mut plane).and(&mask).for_each(|p, &m| if !m { *p = 0.0 });
        }
        Some((probs, mask))
    }
}

impl ProbabilitySink for Sinks<'_> {
    fn write_rows(&mut self, y: usize, probs: ArrayView3<f32>) -> Result<()> {
        let restricted = self.restrict(probs);
        let probs = restricted.as_ref().map_or(probs, |(p, _)| p.view());
        for sink in &mut self.probabilities {
            sink.write_rows(y, probs)?;
        }
        if !self.labels.is_empty() || !self.classified.is_empty() {
            let mut labels = argmax(probs)?;
            if let Some((_, inside)) = &restricted {
                Zip::from(&mut labels).and(inside).for_each(|l, &m| if !m { *l = OUTSIDE });
            }
            for sink in &mut self.labels {
                sink.write_labels(y, labels.view())?;
            }
            for sink in &mut self.classified {
                sink.write_classified(y, probs, labels.view())?;
            }
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        for sink in &mut self.probabilities {
            sink.finish()?;
        }
        for sink in &mut self.labels {
            sink.finish()?;
        }
        for sink in &mut self.classified {
            sink.finish()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tiling::ProbabilityMap;
    use ndarray::{array, Array3};

    #[test]
    fn argmax_picks_the_first_most_probable_class() {
        let probs = array![[[0.2, 0.5, 0.1]], [[0.7, 0.5, 0.2]], [[0.1, 0.0, 0.7]]];
        assert_eq!(argmax(probs.view()).unwrap(), array![[1u8, 0, 2]]);
        let e = argmax(Array3::<f32>::zeros((257, 1, 1)).view()).unwrap_err().to_string();
        assert!(e.contains("1 to 256 classes"), "{e}");
    }

    #[test]
    fn sinks_fan_out_probabilities_and_labels() {
        let probs = array![[[0.9, 0.3], [0.4, 0.5]], [[0.1, 0.7], [0.6, 0.5]]];
        let mut map = ProbabilityMap::new(2, 3, 2);
        let mut counts = ClassCounts::new(2);
        let mut sinks = Sinks::new().probabilities(&mut map).labels(&mut counts);
        sinks.write_rows(0, probs.view()).unwrap();
        sinks.write_rows(2, probs.slice(ndarray::s![.., ..1, ..])).unwrap();
        ProbabilitySink::finish(&mut sinks).unwrap();
        assert_eq!(map.0.slice(ndarray::s![.., ..2, ..]), probs);
        assert_eq!(counts.counts(), [3, 3]);
    }
}
