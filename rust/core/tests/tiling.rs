//! Tiled whole-image inference with a real segmentation network, and the
//! memory bound on a very wide image.

mod common;

use dlclassifier::job::JobControl;
use dlclassifier::models::{Architecture, EncoderKind, ModelSpec, SegmentationModel};
use dlclassifier::tiling::{predict_image, BlendMode, InMemoryImage, ProbabilityMap, ProbabilitySink, RegionReader, TileGrid, TileModel, TilingOptions};
use dlclassifier::Result;
use ndarray::{Array, Array3, Array4, ArrayView3, ArrayView4, Axis};
use parking_lot::Mutex;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use tch::nn::{ModuleT, VarStore};
use tch::{Device, Kind, Tensor};

/// Counts live heap bytes and their peak, to check the memory bound.
struct PeakAlloc;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for PeakAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(live, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: PeakAlloc = PeakAlloc;

/// The tests run one at a time so that the peak measured is one test's own.
static SERIAL: Mutex<()> = Mutex::new(());

/// A random-init U-Net (ResNet18) whose BatchNorm layers have seen data.
struct Net {
    model: Mutex<SegmentationModel>,
    _vs: VarStore,
}

impl Net {
    fn new(calibration: &Tensor) -> Net {
        tch::manual_seed(11);
        let vs = VarStore::new(Device::Cpu);
        let spec = ModelSpec { architecture: Architecture::Unet, encoder: EncoderKind::ResNet18, in_channels: 3, num_classes: 2 };
        let model = SegmentationModel::new(&vs.root(), spec).unwrap();
        tch::no_grad(|| {
            for _ in 0..3 {
                let _ = model.forward_t(calibration, true);
            }
        });
        Net { model: Mutex::new(model), _vs: vs }
    }

    /// Class probabilities of a `[N, 3, H, W]` input, H and W multiples of 32.
    fn probabilities(&self, input: &Tensor) -> Tensor {
        tch::no_grad(|| self.model.lock().forward_t(input, false).softmax(1, Kind::Float))
    }
}

impl TileModel for Net {
    fn in_channels(&self) -> usize {
        3
    }

    fn num_classes(&self) -> usize {
        2
    }

    fn predict(&self, tiles: ArrayView4<f32>) -> Result<Array4<f32>> {
        let (n, c, h, w) = tiles.dim();
        let input = Tensor::from_slice(tiles.as_slice().expect("standard layout")).view([n as i64, c as i64, h as i64, w as i64]);
        let probs = Vec::<f32>::try_from(self.probabilities(&input).flatten(0, -1))?;
        Ok(Array4::from_shape_vec((n, 2, h, w), probs).expect("shape"))
    }
}

fn to_array3(t: &Tensor) -> Array3<f32> {
    let shape: Vec<usize> = t.size().iter().map(|&d| d as usize).collect();
    Array::from_shape_vec((shape[0], shape[1], shape[2]), Vec::<f32>::try_from(t.flatten(0, -1)).unwrap()).unwrap()
}

/// A smooth random RGB image: bilinearly upsampled noise.
fn smooth_image(height: i64, width: i64) -> Tensor {
    tch::manual_seed(3);
    Tensor::randn([1, 3, height / 24, width / 24], (Kind::Float, Device::Cpu)).upsample_bilinear2d([height, width], false, None, None)
}

fn tiled(net: &Net, image: &Tensor, options: &TilingOptions) -> Array3<f32> {
    let image = InMemoryImage(to_array3(&image.squeeze_dim(0)));
    let mut map = ProbabilityMap::new(2, image.height(), image.width());
    predict_image(&image, net, options, &mut map, &JobControl::new(), &mut |_| {}).unwrap();
    map.0
}

fn options(tile_size: usize, overlap: usize, blend: BlendMode) -> TilingOptions {
    TilingOptions { tile_size, overlap, blend, batch_size: 4, tta: false }
}

#[test]
fn center_crop_tiles_reproduce_the_whole_image_pass() {
    let _serial = SERIAL.lock();
    tch::set_num_threads(2);
    let (h, w) = (470, 410);
    let image = smooth_image(h, w);
    // The whole image in one pass, reflection-padded as the tiles see it: by
    // 256 all round, and at the bottom and right up to multiples of 32.
    let pad = 256;
    let far_side = |n: i64| (n + 2 * pad + 31) / 32 * 32 - n - pad;
    let padded = image.reflection_pad2d([pad, far_side(w), pad, far_side(h)]);
    let net = Net::new(&padded);
    let whole = to_array3(&net.probabilities(&padded).squeeze_dim(0).narrow(1, pad, h).narrow(2, pad, w));
    // Each tile's own 256 x 256 centre has 256 px of context on every side,
    // which this network needs for the effect of zero padding at tile edges
    // to fall below 1e-3 (192 px leave 5e-3, 64 px 0.3).
    let diff = (&tiled(&net, &image, &options(768, 512, BlendMode::CenterCrop)) - &whole).mapv(f32::abs);
    let (max, mean) = (diff.fold(0f32, |a, &d| a.max(d)), diff.mean().unwrap());
    println!("center_crop 768/512: max |tiled - whole| {max:.2e}, mean {mean:.2e}");
    assert!(max < 1e-3, "max difference {max}");
}

/// Mean absolute change of the probabilities between neighbouring columns
/// (`axis` 2) or rows (`axis` 1), split into the steps across `seams` and all others.
fn jumps(p: &Array3<f32>, axis: usize, seams: &[usize]) -> (f32, f32) {
    let len = p.len_of(Axis(axis));
    let (mut at_seams, mut elsewhere) = (Vec::new(), Vec::new());
    for i in 0..len - 1 {
        let step = (&p.index_axis(Axis(axis), i + 1) - &p.index_axis(Axis(axis), i)).mapv(f32::abs).mean().unwrap();
        if seams.contains(&(i + 1)) { at_seams.push(step) } else { elsewhere.push(step) }
    }
    let mean = |v: &[f32]| v.iter().sum::<f32>() / v.len() as f32;
    (mean(&at_seams), mean(&elsewhere))
}

/// How much larger steps across tile edges are than steps elsewhere, over both axes.
fn seam_ratio(net: &Net, image: &Tensor, options: &TilingOptions) -> f32 {
    let p = tiled(net, image, options);
    let (_, h, w) = p.dim();
    let grid = TileGrid::new(h, w, options.tile_size, options.overlap).unwrap();
    // Every position where a tile starts or ends inside the image.
    let edges = |len: usize, count: usize| -> Vec<usize> {
        (0..count)
            .flat_map(|k| [grid.origin(k), grid.origin(k) + grid.tile as isize])
            .filter(|&e| e > 0 && e < len as isize)
            .map(|e| e as usize)
            .collect()
    };
    let (rows_seam, rows_else) = jumps(&p, 1, &edges(h, grid.rows));
    let (cols_seam, cols_else) = jumps(&p, 2, &edges(w, grid.cols));
    (rows_seam + cols_seam) / (rows_else + cols_else)
}

#[test]
fn blending_leaves_no_seams_where_plain_tiles_do() {
    let _serial = SERIAL.lock();
    tch::set_num_threads(2);
    let image = smooth_image(256, 256);
    let net = Net::new(&image);
    let ratio = |overlap, blend| {
        let r = seam_ratio(&net, &image, &options(128, overlap, blend));
        println!("{blend} 128/{overlap}: seam jump / other jump = {r:.2}");
        r
    };
    // The control: abutting tiles, and overlapping tiles averaged without weights, both show their edges.
    assert!(ratio(0, BlendMode::None) > 3.0);
    assert!(ratio(64, BlendMode::None) > 3.0);
    assert!(ratio(64, BlendMode::Linear) < 1.5);
    assert!(ratio(64, BlendMode::Gaussian) < 1.5);
}

/// Class 1 wherever the first channel is above one half, smoothly.
struct Threshold;

impl TileModel for Threshold {
    fn in_channels(&self) -> usize {
        3
    }

    fn num_classes(&self) -> usize {
        2
    }

    fn predict(&self, tiles: ArrayView4<f32>) -> Result<Array4<f32>> {
        let fg = tiles.index_axis(Axis(1), 0).mapv(|v| 1.0 / (1.0 + (-(v - 0.5) * 10.0).exp()));
        let bg = fg.mapv(|p| 1.0 - p);
        Ok(ndarray::stack(Axis(1), &[bg.view(), fg.view()]).unwrap())
    }
}

/// Checks the rows as they arrive and keeps nothing.
#[derive(Default)]
struct RowCheck {
    next: usize,
    finished: bool,
}

impl ProbabilitySink for RowCheck {
    fn write_rows(&mut self, y: usize, probs: ArrayView3<f32>) -> Result<()> {
        assert_eq!(y, self.next);
        let sum = probs.sum_axis(Axis(0));
        assert!(sum.iter().all(|&s| (s - 1.0).abs() < 1e-5), "probabilities sum to one");
        self.next += probs.dim().1;
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        self.finished = true;
        Ok(())
    }
}

/// Peak heap growth while predicting a `width` x `height` image with default options.
fn peak_bytes(width: usize, height: usize) -> usize {
    let mut sink = RowCheck::default();
    let image = common::Synthetic { width, height };
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    predict_image(&image, &Threshold, &TilingOptions::default(), &mut sink, &JobControl::new(), &mut |_| {}).unwrap();
    assert!(sink.finished && sink.next == height);
    PEAK.load(Ordering::Relaxed) - before
}

#[test]
fn memory_is_bounded_by_one_band_of_tile_rows() {
    let _serial = SERIAL.lock();
    let width = 16384;
    // Band (2 classes + weights) x 512 rows x 16384 columns x 4 bytes = 96 MiB.
    let band = 3 * 512 * width * 4;
    let short = peak_bytes(width, 500);
    let tall = peak_bytes(width, 1400);
    println!("peak heap for {width} wide: {} MiB at 500 rows, {} MiB at 1400 rows", short >> 20, tall >> 20);
    assert!(tall < band + (64 << 20), "peak {} MiB", tall >> 20);
    assert!(tall < short + (8 << 20), "the peak does not grow with the height");
}
