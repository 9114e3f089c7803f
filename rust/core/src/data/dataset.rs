//! A whole QuPath training-data export loaded and validated: `config.json`
//! plus `{train,validation}/{images,masks}`, image `patch_0000.tiff` (or
//! `.raw`, ...) paired with mask `patch_0000.png`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ndarray::{Array2, Array3};

use super::config::DataConfig;
use super::image_io::{is_image_file, load_image, read_mask};
use crate::non_finite;
use crate::{Error, Result};

/// One image tile and its class-index mask.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// File stem shared by image and mask.
    pub name: String,
    /// CHW raw intensities.
    pub image: Array3<f32>,
    /// HW class indices, `unlabeled_index` where unlabeled.
    pub mask: Array2<u8>,
}

/// A validated training export, samples sorted by name.
#[derive(Clone, Debug)]
pub struct TrainingData {
    pub root: PathBuf,
    pub config: DataConfig,
    pub train: Vec<Sample>,
    pub validation: Vec<Sample>,
    bit_depth: Option<u32>,
}

impl TrainingData {
    /// Loads `dir`, failing with the offending file named on anything that
    /// would make training silently wrong.
    pub fn load(dir: impl AsRef<Path>) -> Result<Self> {
        let root = dir.as_ref().to_path_buf();
        let config = DataConfig::load(root.join("config.json"))?;
        let mut check = Checker { config: &config, channels: None, bit_depths: Vec::new() };
        let train = check.split(&root, "train")?;
        let validation = check.split(&root, "validation")?;
        let config_depth = config.channels.as_ref().and_then(|c| c.bit_depth);
        let file_depth = || check.bit_depths.iter().copied().collect::<Option<Vec<_>>>()?.into_iter().max();
        let bit_depth = config_depth.or_else(file_depth);
        Ok(TrainingData { root, config, train, validation, bit_depth })
    }

    /// Channels of every image (all are checked to agree).
    pub fn num_channels(&self) -> usize {
        self.train[0].image.dim().0
    }

    /// Bit depth from `config.json`, else the deepest image file, unless
    /// one was `.raw` and so of unknown depth.
    pub fn bit_depth(&self) -> Option<u32> {
        self.bit_depth
    }
}

/// Carries what must agree across all samples of both splits.
struct Checker<'a> {
    config: &'a DataConfig,
    /// Channel count and the file that set it.
    channels: Option<(usize, PathBuf)>,
    bit_depths: Vec<Option<u32>>,
}

impl Checker<'_> {
    fn split(&mut self, root: &Path, split: &str) -> Result<Vec<Sample>> {
        let images_dir = root.join(split).join("images");
        let masks_dir = root.join(split).join("masks");
        for dir in [&images_dir, &masks_dir] {
            if !dir.is_dir() {
                return Err(Error::data(dir, "directory missing"));
            }
        }
        let mut images = BTreeMap::new();
        for path in list_files(&images_dir)? {
            if !is_image_file(&path) {
                tracing::debug!("ignoring {}", path.display());
                continue;
            }
            let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
            if let Some(other) = images.insert(name.clone(), path.clone()) {
                return Err(Error::data(&path, format!("two images named {name}: also {}", other.display())));
            }
        }
        if images.is_empty() {
            return Err(Error::data(&images_dir, format!("{split} split is empty")));
        }
        for mask in list_files(&masks_dir)? {
            let stem = mask.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
            if !images.contains_key(stem) {
                tracing::warn!("{}: mask without an image, ignored", mask.display());
            }
        }

        let mut samples = Vec::with_capacity(images.len());
        let mut labeled_total = 0usize;
        for (name, image_path) in images {
            let mask_path = masks_dir.join(format!("{name}.png"));
            if !mask_path.is_file() {
                return Err(Error::data(&image_path, format!("no mask {}", mask_path.display())));
            }
            let sample = self.sample(name, &image_path, &mask_path)?;
            let labeled = sample.mask.iter().filter(|&&v| v != self.config.unlabeled_index).count();
            if labeled == 0 {
                tracing::warn!("{}: no labeled pixel", mask_path.display());
            }
            labeled_total += labeled;
            samples.push(sample);
        }
        if labeled_total == 0 {
            return Err(Error::data(&masks_dir, format!("{split} split has no labeled pixel in any mask")));
        }
        Ok(samples)
    }

    fn sample(&mut self, name: String, image_path: &Path, mask_path: &Path) -> Result<Sample> {
        let loaded = load_image(image_path)?;
        let mask = read_mask(mask_path)?;
        let (c, h, w) = loaded.data.dim();
        if mask.dim() != (h, w) {
            return Err(Error::data(
                mask_path,
                format!(
                    "mask is {}x{} (width x height) but image {} is {w}x{h}",
                    mask.dim().1,
                    mask.dim().0,
                    image_path.display()
                ),
            ));
        }
        self.check_channels(c, image_path)?;
        if let Some((count, first)) = non_finite::find(loaded.data.iter().copied()) {
            let (ch, y, x) = (first / (h * w), first / w % h, first % w);
            let message = format!("holds {count} non-finite values (NaN or infinity), the first at x={x}, y={y}, channel {ch}; training needs finite pixels");
            return Err(Error::data(image_path, message));
        }
        self.check_mask_values(&mask, mask_path)?;
        self.bit_depths.push(loaded.bit_depth);
        Ok(Sample { name, image: loaded.data, mask })
    }

    fn check_channels(&mut self, c: usize, path: &Path) -> Result<()> {
        if let Some(expected) = self.config.channels.as_ref().map(|ch| ch.num_channels) {
            if c != expected {
                return Err(Error::data(path, format!("image has {c} channels but config.json says {expected}")));
            }
        }
        match &self.channels {
            Some((first, first_path)) if *first != c => {
                Err(Error::data(path, format!("image has {c} channels but {} has {first}", first_path.display())))
            }
            Some(_) => Ok(()),
            None => {
                self.channels = Some((c, path.to_path_buf()));
                Ok(())
            }
        }
    }

    fn check_mask_values(&self, mask: &Array2<u8>, path: &Path) -> Result<()> {
        let mut counts = [0usize; 256];
        for &v in mask {
            counts[usize::from(v)] += 1;
        }
        let n = self.config.num_classes();
        let unlabeled = usize::from(self.config.unlabeled_index);
        if let Some((value, &count)) = counts.iter().enumerate().skip(n).find(|&(v, &k)| k > 0 && v != unlabeled) {
            return Err(Error::data(
                path,
                format!("{count} pixels have value {value}, but classes are 0..{} and unlabeled is {unlabeled}", n - 1),
            ));
        }
        Ok(())
    }
}

fn list_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| Error::io(dir, e))?.path();
        if path.is_file() {
            files.push(path);
        }
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::raw::write_raw;
    use ndarray::Axis;

    fn real(name: &str) -> TrainingData {
        TrainingData::load(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data").join(name)).unwrap()
    }

    fn class_counts(samples: &[Sample]) -> [usize; 256] {
        let mut counts = [0; 256];
        for v in samples.iter().flat_map(|s| s.mask.iter()) {
            counts[usize::from(*v)] += 1;
        }
        counts
    }

    /// Training-mask class counts must match the exporter's `pixel_count`s.
    fn assert_counts_match_config(data: &TrainingData) {
        let counts = class_counts(&data.train);
        for class in &data.config.classes {
            assert_eq!(Some(counts[class.index] as u64), class.pixel_count, "class {}", class.name);
        }
    }

    fn total(image: &Array3<f32>) -> f64 {
        image.iter().map(|&v| f64::from(v)).sum()
    }

    fn names(samples: &[Sample]) -> Vec<&str> {
        samples.iter().map(|s| s.name.as_str()).collect()
    }

    // Expected pixel values below were read independently with Pillow/numpy.

    #[test]
    fn nuclei_16_bit_single_channel() {
        let d = real("nuclei-dsb2018");
        assert_eq!(names(&d.train), ["patch_0000", "patch_0001", "patch_0002"]);
        assert_eq!(names(&d.validation), ["patch_0003"]);
        let s = &d.train[0];
        assert_eq!(s.image.dim(), (1, 256, 256));
        assert_eq!((s.image[[0, 10, 20]], s.image[[0, 255, 255]]), (14.0, 98.0));
        assert_eq!(total(&s.image), 2025641.0);
        assert_eq!((d.num_channels(), d.bit_depth()), (1, Some(16)));
        assert_counts_match_config(&d);
        let v = class_counts(&d.validation);
        assert_eq!((v[0], v[1], v[255]), (53939, 11597, 0));
    }

    #[test]
    fn bbbc007_short_config_odd_sizes_and_sparse_labels() {
        let d = real("bbbc007-scribbles");
        assert_eq!(d.train[0].image.dim(), (1, 104, 102));
        assert_eq!(d.train[0].mask.dim(), (104, 102));
        assert_eq!(d.train[2].image.dim(), (1, 124, 121));
        assert_eq!(d.validation[0].image.dim(), (1, 75, 83));
        assert_eq!(total(&d.train[0].image), 81089.0);
        // No channel_config: the depth comes from the 8-bit TIFFs.
        assert_eq!((d.num_channels(), d.bit_depth()), (1, Some(8)));
        let t = class_counts(&d.train);
        assert_eq!((t[0], t[1], t[255]), (1416, 1057, 34267));
        assert_eq!(d.validation[0].mask[[5, 7]], 255);
    }

    #[test]
    fn membranes_three_classes_sparse() {
        let d = real("membranes-sparse");
        let s = &d.train[0];
        assert_eq!(s.image.dim(), (1, 128, 128));
        assert_eq!((s.image[[0, 10, 20]], s.image[[0, 127, 127]]), (1583.0, 3122.0));
        assert_eq!(total(&s.image), 50908091.0);
        assert_counts_match_config(&d);
        assert_eq!(class_counts(&d.train)[255], 38223);
        let v = class_counts(&d.validation);
        assert_eq!((v[0], v[1], v[2], v[255]), (0, 207, 204, 15973));
    }

    #[test]
    fn ihc_rgb() {
        let d = real("ihc-dab");
        let s = &d.train[0];
        assert_eq!(s.image.dim(), (3, 256, 256));
        let px: Vec<f32> = s.image.index_axis(Axis(2), 20).index_axis(Axis(1), 10).to_vec();
        assert_eq!(px, [96.0, 58.0, 35.0]);
        assert_eq!(total(&s.image), 23329321.0);
        assert_eq!((d.num_channels(), d.bit_depth()), (3, Some(8)));
        assert_counts_match_config(&d);
        let v = class_counts(&d.validation);
        assert_eq!((v[0], v[1], v[2], v[255]), (48325, 10088, 3583, 3540));
    }

    /// A valid two-class export in a temp dir: 1-channel `.raw` images 4x3.
    struct Fixture {
        dir: tempfile::TempDir,
    }

    impl Fixture {
        fn new() -> Self {
            let f = Fixture { dir: tempfile::tempdir().unwrap() };
            f.write("config.json", br#"{"classes": ["bg", "fg"], "unlabeled_index": 255}"#);
            for split in ["train", "validation"] {
                for sub in ["images", "masks"] {
                    std::fs::create_dir_all(f.path(&format!("{split}/{sub}"))).unwrap();
                }
                f.sample(split, "patch_0000", 1, 3, 4, &[0, 1, 255, 1]);
            }
            f
        }

        fn path(&self, rel: &str) -> PathBuf {
            self.dir.path().join(rel)
        }

        fn write(&self, rel: &str, bytes: &[u8]) {
            std::fs::write(self.path(rel), bytes).unwrap();
        }

        /// An image with `channels` and a mask of `h`x`w` cycling through `labels`.
        fn sample(&self, split: &str, name: &str, channels: usize, h: u32, w: u32, labels: &[u8]) {
            write_raw(
                self.path(&format!("{split}/images/{name}.raw")),
                &Array3::zeros((channels, h as usize, w as usize)),
            )
            .unwrap();
            self.mask(split, name, h, w, labels);
        }

        fn mask(&self, split: &str, name: &str, h: u32, w: u32, labels: &[u8]) {
            let pixels = (0..(h * w) as usize).map(|i| labels[i % labels.len()]).collect();
            image::GrayImage::from_raw(w, h, pixels)
                .unwrap()
                .save(self.path(&format!("{split}/masks/{name}.png")))
                .unwrap();
        }

        fn load_error(&self) -> String {
            TrainingData::load(self.dir.path()).unwrap_err().to_string()
        }
    }

    fn assert_contains(error: String, parts: &[&str]) {
        for part in parts {
            assert!(error.contains(part), "'{part}' not in: {error}");
        }
    }

    #[test]
    fn images_with_non_finite_values_are_refused_with_the_first_place() {
        let f = Fixture::new();
        let mut image = Array3::<f32>::zeros((1, 3, 4));
        image[[0, 2, 3]] = f32::NAN;
        image[[0, 2, 2]] = f32::INFINITY;
        write_raw(f.path("train/images/patch_0001.raw"), &image).unwrap();
        f.mask("train", "patch_0001", 3, 4, &[1]);
        assert_contains(f.load_error(), &["patch_0001.raw", "holds 2 non-finite values", "the first at x=2, y=2, channel 0"]);
    }

    #[test]
    fn fixture_loads_with_unknown_depth() {
        let f = Fixture::new();
        f.sample("train", "patch_0001", 1, 3, 4, &[1]);
        let d = TrainingData::load(f.dir.path()).unwrap();
        assert_eq!(names(&d.train), ["patch_0000", "patch_0001"]);
        assert_eq!((d.num_channels(), d.bit_depth()), (1, None));
        assert_eq!(d.train[0].mask.row(0).to_vec(), [0, 1, 255, 1]);
    }

    #[test]
    fn missing_config_and_directories() {
        let f = Fixture::new();
        std::fs::remove_file(f.path("config.json")).unwrap();
        assert!(matches!(TrainingData::load(f.dir.path()), Err(Error::Io { .. })));

        let f = Fixture::new();
        std::fs::remove_dir_all(f.path("validation/masks")).unwrap();
        assert_contains(f.load_error(), &["validation/masks", "directory missing"]);
    }

    #[test]
    fn empty_split() {
        let f = Fixture::new();
        std::fs::remove_file(f.path("train/images/patch_0000.raw")).unwrap();
        f.write("train/images/notes.txt", b"not an image");
        assert_contains(f.load_error(), &["train/images", "train split is empty"]);
    }

    #[test]
    fn image_without_mask() {
        let f = Fixture::new();
        write_raw(f.path("train/images/patch_0007.raw"), &Array3::zeros((1, 3, 4))).unwrap();
        assert_contains(f.load_error(), &["patch_0007.raw", "no mask", "patch_0007.png"]);
    }

    #[test]
    fn duplicate_stems() {
        let f = Fixture::new();
        image::GrayImage::new(4, 3).save(f.path("train/images/patch_0000.png")).unwrap();
        assert_contains(f.load_error(), &["two images named patch_0000"]);
    }

    #[test]
    fn size_mismatch_gives_both_sizes() {
        let f = Fixture::new();
        f.mask("validation", "patch_0000", 3, 5, &[0]);
        assert_contains(f.load_error(), &["validation/masks/patch_0000.png", "mask is 5x3", "is 4x3"]);
    }

    #[test]
    fn mask_value_out_of_range_gives_value_and_count() {
        let f = Fixture::new();
        f.mask("train", "patch_0000", 3, 4, &[0, 2, 1, 1]);
        assert_contains(
            f.load_error(),
            &["patch_0000.png", "3 pixels have value 2", "classes are 0..1", "unlabeled is 255"],
        );
    }

    #[test]
    fn channels_disagreeing_with_each_other_or_config() {
        let f = Fixture::new();
        f.sample("train", "patch_0001", 2, 3, 4, &[0]);
        assert_contains(f.load_error(), &["patch_0001.raw", "has 2 channels but", "patch_0000.raw has 1"]);

        let f = Fixture::new();
        f.write("config.json", br#"{"classes": ["bg", "fg"], "channel_config": {"num_channels": 3}}"#);
        assert_contains(f.load_error(), &["patch_0000.raw", "1 channels but config.json says 3"]);
    }

    #[test]
    fn corrupt_image_and_mask() {
        let f = Fixture::new();
        f.write("train/images/patch_0000.raw", &[1, 2, 3]);
        assert_contains(f.load_error(), &["train/images/patch_0000.raw", "shorter than its 12-byte header"]);

        let f = Fixture::new();
        f.write("train/masks/patch_0000.png", b"not a png");
        assert_contains(f.load_error(), &["train/masks/patch_0000.png", "cannot decode"]);
    }

    #[test]
    fn unlabeled_masks_warn_per_sample_but_fail_a_whole_split() {
        let f = Fixture::new();
        f.sample("train", "patch_0001", 1, 3, 4, &[255]);
        assert!(TrainingData::load(f.dir.path()).is_ok());

        f.mask("validation", "patch_0000", 3, 4, &[255]);
        assert_contains(f.load_error(), &["validation/masks", "validation split has no labeled pixel"]);
    }
}
