//! Intensity normalization: statistics measured once on the training images,
//! stored with the model, and replayed unchanged at inference.
//!
//! Formulas follow the Python service this engine replaces
//! (`dlclassifier_server/utils/normalization.py`), per statistic group `g`
//! (the whole image when joint, one channel when `per_channel`):
//!
//! | strategy        | output                                              | clipped to [0, 1] |
//! |-----------------|-----------------------------------------------------|-------------------|
//! | `min_max`       | `(x - min) / (max - min)`                           | no                |
//! | `percentile_99` | `(x - p_low) / (p_high - p_low)`                    | yes               |
//! | `fixed_range`   | `(x - fixed_min) / (fixed_max - fixed_min)`         | yes               |
//! | `z_score`       | `(clamp((x - mean) / std, -5, 5) + 5) / 10`          | yes (same thing)  |
//!
//! `p_low`/`p_high` are the `100 - clip_percentile` and `clip_percentile`
//! percentiles with numpy's linear interpolation. Every strategy is an affine
//! map plus an optional clip, which [`NormalizationStats::affine`] exposes so
//! the same transform can run in libtorch or on raw buffers.
//!
//! Unlike the Python service, joint statistics are measured over the pooled
//! pixels of all channels rather than pooled from per-channel statistics, and
//! a statistic with no range maps its group to a constant instead of falling
//! back to per-tile normalization: a channel constant in training carried no
//! information the model could have learnt from.

use ndarray::{Array3, Axis, Slice};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// How intensities are mapped to the model's input range.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    MinMax,
    #[serde(rename = "percentile_99")]
    Percentile99,
    ZScore,
    FixedRange,
}

/// The `normalization` block of a training export's `config.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NormalizationConfig {
    #[serde(default = "default_strategy")]
    pub strategy: Strategy,
    #[serde(default)]
    pub per_channel: bool,
    #[serde(default = "default_clip_percentile")]
    pub clip_percentile: f64,
    /// Lower bound for `fixed_range`; the Python service reads it as `min`.
    #[serde(default, alias = "min", skip_serializing_if = "Option::is_none")]
    pub fixed_min: Option<f64>,
    /// Upper bound for `fixed_range`; the Python service reads it as `max`.
    #[serde(default, alias = "max", skip_serializing_if = "Option::is_none")]
    pub fixed_max: Option<f64>,
}

fn default_strategy() -> Strategy {
    Strategy::Percentile99
}

fn default_clip_percentile() -> f64 {
    99.0
}

/// QuPath never writes `min`/`max` for `fixed_range`; the Python service then
/// assumes the 8-bit range, and so do we.
const DEFAULT_FIXED_RANGE: (f64, f64) = (0.0, 255.0);

/// z-scores beyond this many standard deviations are clipped (Python parity).
const Z_CLIP: f64 = 5.0;

/// Percentiles are taken from at most this many evenly strided samples per
/// statistic group, bounding memory (16 MiB) on large training sets.
const MAX_PERCENTILE_SAMPLES: usize = 1 << 22;

impl Default for NormalizationConfig {
    fn default() -> Self {
        NormalizationConfig {
            strategy: default_strategy(),
            per_channel: false,
            clip_percentile: default_clip_percentile(),
            fixed_min: None,
            fixed_max: None,
        }
    }
}

impl NormalizationConfig {
    /// Checks the parameters that could otherwise produce an empty or inverted range.
    pub fn validate(&self) -> Result<()> {
        if !(self.clip_percentile > 50.0 && self.clip_percentile <= 100.0) {
            return Err(Error::config(format!("clip_percentile must be in (50, 100], got {}", self.clip_percentile)));
        }
        if self.strategy == Strategy::FixedRange {
            let (lo, hi) = self.fixed_range();
            if !(lo.is_finite() && hi.is_finite() && hi > lo) {
                return Err(Error::config(format!("fixed_range needs finite min < max, got min {lo}, max {hi}")));
            }
        }
        Ok(())
    }

    fn fixed_range(&self) -> (f64, f64) {
        (self.fixed_min.unwrap_or(DEFAULT_FIXED_RANGE.0), self.fixed_max.unwrap_or(DEFAULT_FIXED_RANGE.1))
    }
}

/// Statistics of the training images, one entry per channel when
/// `per_channel`, a single entry otherwise. Saved in model metadata.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NormalizationStats {
    #[serde(flatten)]
    pub config: NormalizationConfig,
    /// Channels of the images the statistics were measured on.
    pub num_channels: usize,
    pub min: Vec<f64>,
    pub max: Vec<f64>,
    pub mean: Vec<f64>,
    /// Population standard deviation (numpy's default `ddof=0`).
    pub std: Vec<f64>,
    /// The `100 - clip_percentile` percentile.
    pub p_low: Vec<f64>,
    /// The `clip_percentile` percentile.
    pub p_high: Vec<f64>,
}

impl NormalizationStats {
    /// What is wrong with statistics read from a file: vectors of the wrong
    /// length (one per channel, or one for all) or values that are not finite.
    pub fn inconsistency(&self) -> Option<String> {
        let groups = if self.config.per_channel { self.num_channels } else { 1 };
        let fields = [("min", &self.min), ("max", &self.max), ("mean", &self.mean), ("std", &self.std), ("p_low", &self.p_low), ("p_high", &self.p_high)];
        fields.into_iter().find_map(|(name, values)| {
            if values.len() != groups {
                Some(format!("normalization.{name} has {} values, needs {groups}", values.len()))
            } else {
                values.iter().any(|v| !v.is_finite()).then(|| format!("normalization.{name} holds a value that is not finite"))
            }
        })
    }

    /// Measures statistics over CHW `images`, which must share a channel count.
    pub fn compute(config: &NormalizationConfig, images: &[&Array3<f32>]) -> Result<Self> {
        config.validate()?;
        let first =
            images.first().ok_or_else(|| Error::config("cannot compute normalization statistics of no images"))?;
        let num_channels = first.dim().0;
        if let Some((i, bad)) = images.iter().enumerate().find(|(_, im)| im.dim().0 != num_channels) {
            return Err(Error::config(format!(
                "normalization: image {i} has {} channels, image 0 has {num_channels}",
                bad.dim().0
            )));
        }
        let groups: Vec<Option<usize>> =
            if config.per_channel { (0..num_channels).map(Some).collect() } else { vec![None] };
        let mut stats = NormalizationStats {
            config: config.clone(),
            num_channels,
            min: Vec::new(),
            max: Vec::new(),
            mean: Vec::new(),
            std: Vec::new(),
            p_low: Vec::new(),
            p_high: Vec::new(),
        };
        for channel in groups {
            let g = GroupStats::measure(images, channel, config.clip_percentile)?;
            stats.min.push(g.min);
            stats.max.push(g.max);
            stats.mean.push(g.mean);
            stats.std.push(g.std);
            stats.p_low.push(g.p_low);
            stats.p_high.push(g.p_high);
        }
        for (g, &(scale, _)) in stats.group_affine().iter().enumerate() {
            if scale == 0.0 {
                tracing::warn!(
                    "normalization {:?}: statistic group {g} has no range (constant values); it will map to a constant",
                    config.strategy
                );
            }
        }
        Ok(stats)
    }

    /// Per-channel `(scale, offset)`: the output is `x * scale + offset`,
    /// then clipped to [`Self::clip_range`] when that is `Some`.
    pub fn affine(&self) -> Vec<(f32, f32)> {
        let groups = self.group_affine();
        (0..self.num_channels).map(|c| groups[if self.config.per_channel { c } else { 0 }]).collect()
    }

    /// The range the affine output is clipped to; `None` for `min_max`, which
    /// the Python service leaves unclipped so brighter inference images extrapolate.
    pub fn clip_range(&self) -> Option<(f32, f32)> {
        match self.config.strategy {
            Strategy::MinMax => None,
            _ => Some((0.0, 1.0)),
        }
    }

    /// Normalizes a CHW image in place.
    pub fn apply(&self, image: &mut Array3<f32>) -> Result<()> {
        if image.dim().0 != self.num_channels {
            return Err(Error::config(format!(
                "normalization statistics are for {} channels, image has {}",
                self.num_channels,
                image.dim().0
            )));
        }
        let norm = Normalizer::from_stats(self);
        for (c, mut plane) in image.axis_iter_mut(Axis(0)).enumerate() {
            let (scale, offset) = norm.affine(c);
            plane.mapv_inplace(|x| norm.clip(x * scale + offset));
        }
        Ok(())
    }

    /// One `(scale, offset)` per statistic group; a group without range gets
    /// scale 0 and the offset its constant value would have had (0, or 0.5 for z-score).
    fn group_affine(&self) -> Vec<(f32, f32)> {
        (0..self.min.len())
            .map(|g| {
                let (lo, hi) = match self.config.strategy {
                    Strategy::MinMax => (self.min[g], self.max[g]),
                    Strategy::Percentile99 => (self.p_low[g], self.p_high[g]),
                    Strategy::FixedRange => self.config.fixed_range(),
                    // The mean sits at 0.5 and ±Z_CLIP std at 0 and 1.
                    Strategy::ZScore => (self.mean[g] - Z_CLIP * self.std[g], self.mean[g] + Z_CLIP * self.std[g]),
                };
                if hi > lo {
                    let scale = 1.0 / (hi - lo);
                    (scale as f32, (-lo * scale) as f32)
                } else if self.config.strategy == Strategy::ZScore {
                    (0.0, 0.5)
                } else {
                    (0.0, 0.0)
                }
            })
            .collect()
    }
}

/// Per-channel `x * scale + offset`, optionally clipped.
#[derive(Debug, Clone, PartialEq)]
pub struct Normalizer {
    affine: Vec<(f32, f32)>,
    clip: Option<(f32, f32)>,
}

impl Normalizer {
    /// Replays the statistics stored with a trained model.
    pub fn from_stats(stats: &NormalizationStats) -> Normalizer {
        Normalizer { affine: stats.affine(), clip: stats.clip_range() }
    }

    /// Passes values through unchanged: for imported models whose metadata
    /// names no normalization (the graph is assumed to normalize itself).
    pub fn identity(channels: usize) -> Normalizer {
        Normalizer { affine: vec![(1.0, 0.0); channels], clip: None }
    }

    pub fn channels(&self) -> usize {
        self.affine.len()
    }

    pub fn affine(&self, channel: usize) -> (f32, f32) {
        self.affine[channel]
    }

    pub fn clip_range(&self) -> Option<(f32, f32)> {
        self.clip
    }

    #[inline]
    pub fn clip(&self, v: f32) -> f32 {
        match self.clip {
            Some((lo, hi)) => v.clamp(lo, hi),
            None => v,
        }
    }
}

/// Statistics of one group: a single channel, or every channel when `channel` is `None`.
struct GroupStats {
    min: f64,
    max: f64,
    mean: f64,
    std: f64,
    p_low: f64,
    p_high: f64,
}

impl GroupStats {
    fn measure(images: &[&Array3<f32>], channel: Option<usize>, clip_percentile: f64) -> Result<Self> {
        let values = || {
            images.iter().flat_map(move |im| match channel {
                Some(c) => im.slice_axis(Axis(0), Slice::from(c..c + 1)),
                None => im.view(),
            })
        };
        let (mut n, mut sum, mut min, mut max) = (0usize, 0.0f64, f64::INFINITY, f64::NEG_INFINITY);
        for &v in values() {
            let v = v as f64;
            if !v.is_finite() {
                return Err(Error::config(format!("normalization: image contains a non-finite value ({v})")));
            }
            n += 1;
            sum += v;
            min = min.min(v);
            max = max.max(v);
        }
        if n == 0 {
            return Err(Error::config("normalization: images have no pixels"));
        }
        let mean = sum / n as f64;
        // Second pass: sum of squares about the mean avoids cancellation.
        let var = values().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n as f64;

        let stride = n.div_ceil(MAX_PERCENTILE_SAMPLES);
        let mut samples: Vec<f32> = values().step_by(stride).copied().collect();
        let p_low = percentile(&mut samples, 100.0 - clip_percentile);
        let p_high = percentile(&mut samples, clip_percentile);
        Ok(GroupStats { min, max, mean, std: var.sqrt(), p_low, p_high })
    }
}

/// numpy's default (linear) percentile, by selection rather than a full sort.
fn percentile(values: &mut [f32], q: f64) -> f64 {
    let rank = q / 100.0 * (values.len() - 1) as f64;
    let lo = rank.floor() as usize;
    let frac = rank - lo as f64;
    let (_, &mut below, above) = values.select_nth_unstable_by(lo, f32::total_cmp);
    let below = below as f64;
    match above.iter().copied().min_by(f32::total_cmp) {
        Some(next) if frac > 0.0 => below + frac * (next as f64 - below),
        _ => below,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    fn config(strategy: Strategy, per_channel: bool) -> NormalizationConfig {
        NormalizationConfig { strategy, per_channel, ..Default::default() }
    }

    /// Two channels: 0..=9 and 100, 110, ..., 190 (2x5 pixels each).
    fn two_channels() -> Array3<f32> {
        let mut im = Array3::zeros((2, 2, 5));
        for (i, v) in im.index_axis_mut(Axis(0), 0).iter_mut().enumerate() {
            *v = i as f32;
        }
        for (i, v) in im.index_axis_mut(Axis(0), 1).iter_mut().enumerate() {
            *v = 100.0 + 10.0 * i as f32;
        }
        im
    }

    fn assert_close(actual: f64, expected: f64) {
        assert!((actual - expected).abs() < 1e-4, "expected {expected}, got {actual}");
    }

    #[test]
    fn percentile_matches_numpy_linear_interpolation() {
        // np.percentile(np.arange(10), [1, 99, 50, 25]) = [0.09, 8.91, 4.5, 2.25]
        let mut v: Vec<f32> = (0..10).rev().map(|i| i as f32).collect();
        assert_close(percentile(&mut v, 1.0), 0.09);
        assert_close(percentile(&mut v, 99.0), 8.91);
        assert_close(percentile(&mut v, 50.0), 4.5);
        assert_close(percentile(&mut v, 25.0), 2.25);
        assert_close(percentile(&mut v, 100.0), 9.0);
        assert_close(percentile(&mut [7.0], 1.0), 7.0);
    }

    #[test]
    fn min_max_per_channel() {
        let mut im = two_channels();
        let s = NormalizationStats::compute(&config(Strategy::MinMax, true), &[&im]).unwrap();
        assert_eq!((s.min.clone(), s.max.clone()), (vec![0.0, 100.0], vec![9.0, 190.0]));
        s.apply(&mut im).unwrap();
        assert_close(im[[0, 0, 1]] as f64, 1.0 / 9.0);
        assert_close(im[[0, 1, 4]] as f64, 1.0);
        assert_close(im[[1, 0, 0]] as f64, 0.0);
        assert_close(im[[1, 1, 0]] as f64, 50.0 / 90.0);
        assert_eq!(s.clip_range(), None);
    }

    #[test]
    fn min_max_joint_is_unclipped_outside_training_range() {
        let im = two_channels();
        let s = NormalizationStats::compute(&config(Strategy::MinMax, false), &[&im]).unwrap();
        assert_eq!((s.min.clone(), s.max.clone()), (vec![0.0], vec![190.0]));
        let mut other = Array3::from_elem((2, 1, 1), 380.0f32);
        other[[0, 0, 0]] = 19.0;
        s.apply(&mut other).unwrap();
        assert_close(other[[0, 0, 0]] as f64, 0.1);
        assert_close(other[[1, 0, 0]] as f64, 2.0);
    }

    #[test]
    fn percentile_joint_pools_all_channels_and_clips() {
        let mut im = two_channels();
        let s = NormalizationStats::compute(&config(Strategy::Percentile99, false), &[&im]).unwrap();
        // Pooled sorted values: 0..=9 then 100..=190 step 10; rank 0.19 and 18.81.
        assert_close(s.p_low[0], 0.19);
        assert_close(s.p_high[0], 180.0 + 0.81 * 10.0);
        s.apply(&mut im).unwrap();
        assert_eq!(im[[0, 0, 0]], 0.0);
        assert_eq!(im[[1, 1, 4]], 1.0);
        assert_close(im[[0, 0, 1]] as f64, (1.0 - 0.19) / (188.1 - 0.19));
    }

    #[test]
    fn percentile_per_channel_with_custom_clip() {
        let mut im = two_channels();
        let cfg = NormalizationConfig { clip_percentile: 90.0, ..config(Strategy::Percentile99, true) };
        let s = NormalizationStats::compute(&cfg, &[&im]).unwrap();
        // np.percentile(range(10), [10, 90]) = [0.9, 8.1]
        assert_close(s.p_low[0], 0.9);
        assert_close(s.p_high[0], 8.1);
        assert_close(s.p_low[1], 109.0);
        assert_close(s.p_high[1], 181.0);
        s.apply(&mut im).unwrap();
        assert_close(im[[0, 0, 2]] as f64, (2.0 - 0.9) / 7.2);
        assert_close(im[[1, 0, 1]] as f64, 1.0 / 72.0);
        assert_eq!(im[[1, 0, 0]], 0.0);
        assert_eq!(im[[0, 1, 4]], 1.0);
    }

    #[test]
    fn percentiles_span_several_images() {
        let a = Array3::from_shape_vec((1, 1, 3), vec![0.0, 1.0, 2.0]).unwrap();
        let b = Array3::from_shape_vec((1, 1, 2), vec![3.0, 4.0]).unwrap();
        let s = NormalizationStats::compute(&config(Strategy::Percentile99, false), &[&a, &b]).unwrap();
        // np.percentile([0, 1, 2, 3, 4], [1, 99]) = [0.04, 3.96]
        assert_close(s.p_low[0], 0.04);
        assert_close(s.p_high[0], 3.96);
        assert_close(s.mean[0], 2.0);
        assert_close(s.std[0], 2f64.sqrt());
    }

    #[test]
    fn z_score_per_channel_maps_five_std_to_unit_range() {
        // Channel 0: mean 4.5, population std sqrt(8.25).
        let mut im = two_channels();
        let s = NormalizationStats::compute(&config(Strategy::ZScore, true), &[&im]).unwrap();
        assert_close(s.mean[0], 4.5);
        assert_close(s.std[0], 8.25f64.sqrt());
        assert_close(s.mean[1], 145.0);
        assert_close(s.std[1], 10.0 * 8.25f64.sqrt());
        s.apply(&mut im).unwrap();
        let z = |x: f64, m: f64, sd: f64| ((x - m) / sd).clamp(-5.0, 5.0) / 10.0 + 0.5;
        assert_close(im[[0, 0, 0]] as f64, z(0.0, 4.5, 8.25f64.sqrt()));
        assert_close(im[[1, 1, 4]] as f64, z(190.0, 145.0, 10.0 * 8.25f64.sqrt()));
        let mut far = Array3::from_elem((2, 1, 1), 1e6f32);
        s.apply(&mut far).unwrap();
        assert_eq!(far[[0, 0, 0]], 1.0);
    }

    #[test]
    fn z_score_joint() {
        let im = Array3::from_shape_vec((2, 1, 2), vec![1.0, 3.0, 5.0, 7.0]).unwrap();
        let s = NormalizationStats::compute(&config(Strategy::ZScore, false), &[&im]).unwrap();
        assert_close(s.mean[0], 4.0);
        assert_close(s.std[0], 5f64.sqrt());
        let (scale, offset) = s.affine()[1];
        assert_close((7.0 * scale + offset) as f64, 0.5 + 3.0 / 5f64.sqrt() / 10.0);
    }

    #[test]
    fn fixed_range_uses_given_bounds_or_8_bit_default() {
        let mut im = array![[[0.0f32, 1000.0, 5000.0]]];
        let cfg = NormalizationConfig {
            fixed_min: Some(1000.0),
            fixed_max: Some(3000.0),
            ..config(Strategy::FixedRange, false)
        };
        let s = NormalizationStats::compute(&cfg, &[&im]).unwrap();
        s.apply(&mut im).unwrap();
        assert_eq!(im, array![[[0.0f32, 0.0, 1.0]]]);

        let mut im = array![[[51.0f32, 300.0]]];
        let s = NormalizationStats::compute(&config(Strategy::FixedRange, false), &[&im]).unwrap();
        s.apply(&mut im).unwrap();
        assert_close(im[[0, 0, 0]] as f64, 0.2);
        assert_eq!(im[[0, 0, 1]], 1.0);
    }

    #[test]
    fn joint_affine_is_shared_and_per_channel_is_not() {
        let im = two_channels();
        let joint = NormalizationStats::compute(&config(Strategy::MinMax, false), &[&im]).unwrap();
        let a = joint.affine();
        assert_eq!(a.len(), 2);
        assert_eq!(a[0], a[1]);
        let per = NormalizationStats::compute(&config(Strategy::MinMax, true), &[&im]).unwrap();
        let (scale, offset) = per.affine()[0];
        assert_close(scale as f64, 1.0 / 9.0);
        assert_close(offset as f64, 0.0);
        assert_close(per.affine()[1].1 as f64, -100.0 / 90.0);
    }

    #[test]
    fn constant_images_map_to_a_constant_without_nan() {
        let flat = Array3::from_elem((1, 3, 3), 42.0f32);
        for (strategy, expected) in [(Strategy::MinMax, 0.0), (Strategy::Percentile99, 0.0), (Strategy::ZScore, 0.5)] {
            let s = NormalizationStats::compute(&config(strategy, false), &[&flat]).unwrap();
            let mut im = flat.clone();
            s.apply(&mut im).unwrap();
            assert!(im.iter().all(|&v| v == expected), "{strategy:?}: {im:?}");
            let mut brighter = Array3::from_elem((1, 1, 1), 1e4f32);
            s.apply(&mut brighter).unwrap();
            assert_eq!(brighter[[0, 0, 0]], expected);
        }
    }

    #[test]
    fn invalid_configs_and_inputs_are_rejected() {
        let im = two_channels();
        let bad_clip = NormalizationConfig { clip_percentile: 40.0, ..Default::default() };
        assert!(NormalizationStats::compute(&bad_clip, &[&im]).unwrap_err().to_string().contains("clip_percentile"));
        let inverted =
            NormalizationConfig { fixed_min: Some(5.0), fixed_max: Some(5.0), ..config(Strategy::FixedRange, false) };
        assert!(NormalizationStats::compute(&inverted, &[&im]).is_err());
        assert!(NormalizationStats::compute(&Default::default(), &[]).is_err());
        let one = Array3::<f32>::zeros((1, 2, 2));
        let err = NormalizationStats::compute(&Default::default(), &[&im, &one]).unwrap_err();
        assert!(err.to_string().contains("image 1 has 1 channels"), "{err}");
        let nan = Array3::from_elem((1, 1, 1), f32::NAN);
        assert!(NormalizationStats::compute(&Default::default(), &[&nan]).is_err());

        let s = NormalizationStats::compute(&Default::default(), &[&im]).unwrap();
        let mut wrong = Array3::<f32>::zeros((3, 1, 1));
        assert!(s.apply(&mut wrong).is_err());
    }

    #[test]
    fn config_parses_export_json_and_defaults() {
        let c: NormalizationConfig =
            serde_json::from_str(r#"{"strategy": "percentile_99", "per_channel": false, "clip_percentile": 99.0}"#)
                .unwrap();
        assert_eq!(c, NormalizationConfig::default());
        let c: NormalizationConfig =
            serde_json::from_str(r#"{"strategy": "fixed_range", "min": 10, "max": 4095}"#).unwrap();
        assert_eq!((c.strategy, c.fixed_min, c.fixed_max), (Strategy::FixedRange, Some(10.0), Some(4095.0)));
        for (name, s) in
            [("min_max", Strategy::MinMax), ("z_score", Strategy::ZScore), ("percentile_99", Strategy::Percentile99)]
        {
            assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{name}\""));
        }
        assert!(serde_json::from_str::<NormalizationConfig>(r#"{"strategy": "percentile99"}"#).is_err());
    }

    #[test]
    fn stats_round_trip_through_json() {
        let im = two_channels();
        let s = NormalizationStats::compute(&config(Strategy::ZScore, true), &[&im]).unwrap();
        let json = serde_json::to_string(&s).unwrap();
        let back: NormalizationStats = serde_json::from_str(&json).unwrap();
        assert_eq!(back, s);
        assert_eq!(back.affine(), s.affine());
    }
}
