//! Pretrained encoder weights from local files: the weight sets the engine
//! knows by name (ImageNet, histology), where their files are looked for,
//! and loading an encoder-only state dict (torchvision, timm, smp, or a
//! checkpoint wrapping one) into a model's encoder, with smp's adaptation of
//! the first convolution to other channel counts. Nothing is downloaded.

use super::weights::{self, LoadReport};
use super::EncoderKind;
use crate::{Error, Result};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use tch::nn::VarStore;
use tch::{Kind, Tensor};

/// File extensions tried, in order, for a named weight set.
pub const EXTENSIONS: [&str; 4] = ["safetensors", "pth", "pt", "bin"];

/// A weight set the engine knows by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WeightSet {
    /// What `encoder_weights` names it, e.g. `imagenet`, `lunit-swav`.
    pub name: &'static str,
    /// The file stem looked for in the weights folder (any of [`EXTENSIONS`]),
    /// e.g. `resnet50_lunit-swav` for `resnet50_lunit-swav.pth`.
    pub file_stem: String,
    /// What the weights were trained on and where to get them.
    pub source: &'static str,
    /// Terms of use as the publishers state them; users must check them
    /// before any commercial or clinical use.
    pub licence: &'static str,
}

/// The histology weight sets: ResNet-50s pretrained on pathology tiles.
const HISTOLOGY: [(&str, &str, &str); 4] = [
    (
        "lunit-swav",
        "SwAV self-supervised on 19M H&E tiles (Kang et al., CVPR 2023, github.com/lunit-io/benchmark-ssl-pathology); \
         timm names, e.g. the Hugging Face model 1aurent/resnet50.lunit_swav",
        "Lunit's non-commercial research licence (see the benchmark-ssl-pathology repository)",
    ),
    (
        "lunit-bt",
        "Barlow Twins self-supervised on 19M H&E tiles (Kang et al., CVPR 2023, github.com/lunit-io/benchmark-ssl-pathology); \
         timm names, e.g. the Hugging Face model 1aurent/resnet50.lunit_bt",
        "Lunit's non-commercial research licence (see the benchmark-ssl-pathology repository)",
    ),
    (
        "kather100k",
        "supervised on the 9 tissue classes of NCT-CRC-HE-100K (Kather et al. 2018), as published by TIAToolbox; \
         timm names, e.g. the Hugging Face model 1aurent/resnet50.tiatoolbox-kather100k",
        "training data CC BY 4.0 (Zenodo record 1214456); the weights follow TIAToolbox's model terms",
    ),
    (
        "tcga-brca",
        "SimCLR self-supervised on TCGA-BRCA H&E tiles; timm names, e.g. the Hugging Face model 1aurent/resnet50.tcga_brca_simclr",
        "TCGA data under the NIH Genomic Data Commons data use policies; the weights follow their publisher's terms",
    ),
];

/// Where the ImageNet weights smp uses for `encoder` come from.
fn imagenet_source(encoder: EncoderKind) -> (&'static str, &'static str) {
    match encoder {
        EncoderKind::EfficientNetB0
        | EncoderKind::EfficientNetB1
        | EncoderKind::EfficientNetB2
        | EncoderKind::EfficientNetB3
        | EncoderKind::EfficientNetB4 => (
            "ImageNet, lukemelas/EfficientNet-PyTorch (the names smp uses)",
            "Apache-2.0 (code and weights); ImageNet's terms apply to the training data",
        ),
        EncoderKind::SeResNet50 => (
            "ImageNet, Cadene/pretrained-models.pytorch (the names smp uses)",
            "BSD-3-Clause (code); ImageNet's terms apply to the training data",
        ),
        EncoderKind::MitB0 | EncoderKind::MitB2 => (
            "ImageNet-1k, NVlabs/SegFormer encoders as smp publishes them",
            "NVIDIA Source Code License for SegFormer: non-commercial use only",
        ),
        _ => (
            "ImageNet, torchvision (or timm: the same names)",
            "BSD-3-Clause (torchvision); ImageNet's terms (non-commercial research) apply to the training data",
        ),
    }
}

/// The named weight sets for `encoder`: ImageNet for every encoder, the
/// histology sets for resnet50.
pub fn weight_sets(encoder: EncoderKind) -> Vec<WeightSet> {
    let stem = |name: &str| format!("{}_{name}", encoder.name());
    let (source, licence) = imagenet_source(encoder);
    let mut sets = vec![WeightSet { name: "imagenet", file_stem: stem("imagenet"), source, licence }];
    if encoder == EncoderKind::ResNet50 {
        sets.extend(HISTOLOGY.iter().map(|&(name, source, licence)| WeightSet { name, file_stem: stem(name), source, licence }));
    }
    sets
}

/// The weights folder: `configured`, else `DLC_WEIGHTS_DIR`, else
/// `<cache>/weights` (see [`crate::cache_dir::cache_root`]).
pub fn weights_dir(configured: Option<&Path>) -> Option<PathBuf> {
    configured
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os("DLC_WEIGHTS_DIR").map(PathBuf::from))
        .or_else(|| crate::cache_dir::cache_root().map(|c| c.join("weights")))
}

/// The file of the weight set `set` in `dir`, if present.
pub fn find_file(set: &WeightSet, dir: &Path) -> Option<PathBuf> {
    EXTENSIONS.iter().map(|ext| dir.join(format!("{}.{ext}", set.file_stem))).find(|p| p.is_file())
}

/// Resolves `encoder_weights`: the name of a weight set of `encoder` (its
/// file looked for in `dir`), or a path to a weight file.
pub fn resolve(encoder: EncoderKind, encoder_weights: &str, dir: Option<&Path>) -> Result<PathBuf> {
    let sets = weight_sets(encoder);
    let Some(set) = sets.iter().find(|s| s.name == encoder_weights) else {
        let path = PathBuf::from(encoder_weights);
        if path.is_file() {
            return Ok(path);
        }
        let names: Vec<_> = sets.iter().map(|s| s.name).collect();
        return Err(Error::config(format!(
            "encoder_weights '{encoder_weights}' is neither a weight set of {encoder} ({}) nor an existing file",
            names.join(", ")
        )));
    };
    let dir = dir.ok_or_else(|| Error::config("no weights folder: set weights_dir, DLC_WEIGHTS_DIR or HOME"))?;
    find_file(set, dir).ok_or_else(|| {
        Error::config(format!(
            "the {} weights of {encoder} are not in {}: put them there as {}.safetensors or .pth ({}); nothing is downloaded",
            set.name,
            dir.display(),
            set.file_stem,
            set.source
        ))
    })
}

/// The prefix (e.g. `""`, `"encoder."`, `"module.backbone."`) under which
/// the most of `file`'s names are names of `vars`.
fn common_prefix<'a>(file: impl Iterator<Item = &'a String>, vars: &BTreeMap<String, Tensor>) -> String {
    let mut votes: HashMap<&str, usize> = HashMap::new();
    for key in file {
        for i in std::iter::once(0).chain(key.match_indices('.').map(|(i, _)| i + 1)) {
            if vars.contains_key(&key[i..]) {
                *votes.entry(&key[..i]).or_default() += 1;
            }
        }
    }
    votes.into_iter().max_by_key(|&(prefix, n)| (n, std::cmp::Reverse(prefix.len()))).map(|(p, _)| p.to_string()).unwrap_or_default()
}

/// smp's `patch_first_conv` for pretrained weights: one channel takes the sum
/// of the RGB kernels; more channels cycle through them, scaled by 3/N so the
/// activations keep their size.
pub fn adapt_first_conv(weight: &Tensor, in_channels: i64) -> Tensor {
    let rgb = weight.size()[1];
    if in_channels == 1 {
        return weight.sum_dim_intlist([1].as_slice(), true, Kind::Float);
    }
    let index = Tensor::from_slice(&(0..in_channels).map(|i| i % rgb).collect::<Vec<_>>());
    weight.index_select(1, &index) * (rgb as f64 / in_channels as f64)
}

/// Loads encoder-only weights from `path` into the `encoder.*` variables of
/// `vs`. Names may carry a common prefix (found by matching); classifier
/// entries (`fc.*`, `classifier.*`...) are reported as unexpected. A first
/// convolution trained on 3 channels is adapted to the model's channel count.
/// Any encoder variable the file lacks, or whose shape differs otherwise,
/// refuses the file with every problem listed, leaving `vs` unchanged.
pub fn load_encoder_weights(vs: &VarStore, path: &Path) -> Result<LoadReport> {
    let (tensors, notes) = weights::read_named_tensors_with_notes(path)?;
    let vars: BTreeMap<String, Tensor> =
        vs.variables().into_iter().filter_map(|(n, t)| n.strip_prefix("encoder.").map(|s| (s.to_string(), t))).collect();
    let file: BTreeMap<String, Tensor> = tensors.into_iter().filter(|(n, _)| !n.ends_with("num_batches_tracked")).collect();
    let prefix = common_prefix(file.keys(), &vars);
    let mut report = LoadReport { notes, ..LoadReport::default() };
    if !prefix.is_empty() {
        report.notes.push(format!("read the encoder's names under the prefix '{prefix}'"));
    }
    let mut file: BTreeMap<String, Tensor> = file
        .into_iter()
        .filter_map(|(k, v)| match k.strip_prefix(prefix.as_str()) {
            Some(name) if vars.contains_key(name) => Some((name.to_string(), v)),
            _ => {
                report.unexpected.push(k);
                None
            }
        })
        .collect();
    let mut adapted = false;
    for (name, var) in &vars {
        let (want, have) = match file.get(name) {
            None => {
                report.missing.push(format!("encoder.{name}"));
                continue;
            }
            Some(src) => (var.size(), src.size()),
        };
        if want == have {
            continue;
        }
        let only_channels_differ = want.len() == 4 && have.len() == 4 && want[0] == have[0] && want[2..] == have[2..] && have[1] == 3;
        // Only the first convolution reads the image's channels.
        if only_channels_differ && !adapted {
            adapted = true;
            let weight = adapt_first_conv(&file[name], want[1]);
            report.notes.push(format!("adapted encoder.{name} from 3 to {} input channels as smp does", want[1]));
            file.insert(name.clone(), weight);
        } else {
            report.mismatched.push((format!("encoder.{name}"), want, have));
        }
    }
    if !report.missing.is_empty() || !report.mismatched.is_empty() {
        return Err(report.misfit(path));
    }
    weights::copy_into(vars.iter().map(|(name, var)| (var, &file[name])))?;
    report.loaded = vars.len();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::{Architecture, ModelSpec, SegmentationModel};
    use tch::Device;

    fn model(encoder: EncoderKind, in_channels: i64) -> VarStore {
        let vs = VarStore::new(Device::Cpu);
        SegmentationModel::new(&vs.root(), ModelSpec { architecture: Architecture::Unet, encoder, in_channels, num_classes: 2 }).unwrap();
        vs
    }

    /// A torchvision-style resnet18 file: encoder names under `prefix`, with a classifier.
    fn resnet18_file(dir: &Path, prefix: &str) -> (PathBuf, BTreeMap<String, Tensor>) {
        tch::manual_seed(3);
        let vs = VarStore::new(Device::Cpu);
        EncoderKind::ResNet18.build(&vs.root(), 3);
        let mut named: Vec<(String, Tensor)> = vs.variables().into_iter().map(|(n, t)| (format!("{prefix}{n}"), t.randn_like())).collect();
        named.push((format!("{prefix}fc.weight"), Tensor::zeros([1000, 512], (Kind::Float, Device::Cpu))));
        let path = dir.join("resnet18_imagenet.safetensors");
        let refs: Vec<(&str, &Tensor)> = named.iter().map(|(n, t)| (n.as_str(), t)).collect();
        Tensor::write_safetensors(&refs, &path).unwrap();
        let plain = named.into_iter().map(|(n, t)| (n[prefix.len()..].to_string(), t)).collect();
        (path, plain)
    }

    #[test]
    fn encoder_files_load_under_any_prefix_and_report_the_classifier() {
        let dir = tempfile::tempdir().unwrap();
        for prefix in ["", "module.backbone."] {
            let (path, reference) = resnet18_file(dir.path(), prefix);
            let vs = model(EncoderKind::ResNet18, 3);
            let report = load_encoder_weights(&vs, &path).unwrap();
            assert_eq!(report.unexpected, [format!("{prefix}fc.weight")]);
            let vars = vs.variables();
            let diff = (&vars["encoder.layer3.1.conv2.weight"] - &reference["layer3.1.conv2.weight"]).abs().max().double_value(&[]);
            assert_eq!(diff, 0.0, "prefix '{prefix}'");
            assert_eq!(report.loaded, vars.keys().filter(|k| k.starts_with("encoder.")).count());
        }
    }

    #[test]
    fn first_conv_is_adapted_as_smp_adapts_it() {
        let rgb = Tensor::from_slice(&[1f32, 2., 4.]).view([1, 3, 1, 1]);
        assert_eq!(Vec::<f32>::try_from(adapt_first_conv(&rgb, 1).reshape([-1])).unwrap(), [7.0]);
        let four = Vec::<f32>::try_from(adapt_first_conv(&rgb, 4).reshape([-1])).unwrap();
        assert_eq!(four, [0.75, 1.5, 3.0, 0.75]);

        let dir = tempfile::tempdir().unwrap();
        let (path, reference) = resnet18_file(dir.path(), "");
        let vs = model(EncoderKind::ResNet18, 2);
        let report = load_encoder_weights(&vs, &path).unwrap();
        assert!(report.notes.iter().any(|n| n.contains("adapted encoder.conv1.weight from 3 to 2")), "{:?}", report.notes);
        let expected = adapt_first_conv(&reference["conv1.weight"], 2);
        let diff = (&vs.variables()["encoder.conv1.weight"] - expected).abs().max().double_value(&[]);
        assert!(diff < 1e-6);
    }

    #[test]
    fn a_file_of_another_encoder_is_refused_and_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (path, _) = resnet18_file(dir.path(), "");
        let vs = model(EncoderKind::ResNet34, 3);
        let before = vs.variables()["encoder.conv1.weight"].copy();
        let err = load_encoder_weights(&vs, &path).unwrap_err().to_string();
        assert!(err.contains("missing: encoder.layer1.2.conv1.weight"), "{err}");
        assert_eq!(vs.variables()["encoder.conv1.weight"], before);
    }

    #[test]
    fn named_sets_resolve_in_the_weights_folder_with_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let names: Vec<_> = weight_sets(EncoderKind::ResNet50).iter().map(|s| s.name).collect();
        assert_eq!(names, ["imagenet", "lunit-swav", "lunit-bt", "kather100k", "tcga-brca"]);
        assert_eq!(weight_sets(EncoderKind::MobileNetV2).len(), 1);
        let err = resolve(EncoderKind::ResNet50, "lunit-swav", Some(dir.path())).unwrap_err().to_string();
        assert!(err.contains("resnet50_lunit-swav.safetensors") && err.contains("nothing is downloaded"), "{err}");
        let file = dir.path().join("resnet50_lunit-swav.pth");
        std::fs::write(&file, b"x").unwrap();
        assert_eq!(resolve(EncoderKind::ResNet50, "lunit-swav", Some(dir.path())).unwrap(), file);
        assert_eq!(resolve(EncoderKind::ResNet18, file.to_str().unwrap(), None).unwrap(), file);
        let err = resolve(EncoderKind::ResNet18, "lunit-swav", Some(dir.path())).unwrap_err().to_string();
        assert!(err.contains("neither a weight set of resnet18 (imagenet)"), "{err}");
    }
}
