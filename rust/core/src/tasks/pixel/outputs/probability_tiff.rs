//! Class probabilities as a multi-channel TIFF: one sample per class and
//! pixel, written strip by strip.

use super::staged::Staged;
use crate::tiling::ProbabilitySink;
use crate::{Error, Result};
use ndarray::{ArrayView3, Axis};
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::thread::JoinHandle;
use tiff::encoder::colortype::{ColorType, Gray32Float, Gray8};
use tiff::encoder::{TiffEncoder, TiffKind, TiffKindBig, TiffKindStandard, TiffValue};
use tiff::tags::ExtraSamples;
use tiff::TiffResult;

/// Bytes per strip, roughly (whole rows).
const STRIP_BYTES: usize = 1 << 20;

/// How probabilities are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SampleType {
    /// 32-bit floats, exactly as predicted.
    #[default]
    Float32,
    /// Probability × 255, rounded: a quarter of the size.
    Uint8,
}

/// Streams `[K, rows, W]` probabilities into a TIFF with K samples per pixel
/// (gray plus K - 1 unspecified extra samples, chunky, uncompressed: the tiff
/// crate compresses only whole images, not single strips). Files over 4 GB
/// are BigTIFF. Encoding runs on its own thread, overlapping prediction;
/// at most a few strips are in memory.
pub struct ProbabilityTiff {
    staged: Staged,
    /// `None` once joined.
    encoder: Option<Encoder>,
    strip: Vec<f32>,
    strip_samples: usize,
    classes: usize,
    width: usize,
}

/// Where strips go, and the thread writing them.
type Encoder = (SyncSender<Vec<f32>>, JoinHandle<TiffResult<()>>);

/// What the encoding thread needs to know of the image.
#[derive(Clone, Copy)]
struct Layout {
    width: u32,
    height: u32,
    classes: usize,
    rows_per_strip: u32,
}

impl ProbabilityTiff {
    pub fn create(path: &Path, classes: usize, width: usize, height: usize, sample_type: SampleType) -> Result<ProbabilityTiff> {
        let size = |v: usize| u32::try_from(v).ok().filter(|&v| v > 0);
        let (Some(w), Some(h), 1..=65535) = (size(width), size(height), classes) else {
            return Err(Error::config(format!("cannot write a {width}x{height} TIFF of {classes} classes")));
        };
        let sample_bytes = match sample_type {
            SampleType::Float32 => 4,
            SampleType::Uint8 => 1,
        };
        let row_bytes = width * classes * sample_bytes;
        let rows_per_strip = (STRIP_BYTES / row_bytes).clamp(1, height);
        let layout = Layout { width: w, height: h, classes, rows_per_strip: rows_per_strip as u32 };
        let big = (row_bytes * height) as u64 + (1 << 24) > u64::from(u32::MAX);
        let (staged, file) = Staged::create(path, height)?;
        let (sender, strips) = sync_channel(1);
        let thread = std::thread::Builder::new()
            .name("probability-tiff".into())
            .spawn(move || match (sample_type, big) {
                (SampleType::Float32, false) => encode::<Gray32Float, TiffKindStandard>(file, layout, strips, |s| s),
                (SampleType::Float32, true) => encode::<Gray32Float, TiffKindBig>(file, layout, strips, |s| s),
                (SampleType::Uint8, false) => encode::<Gray8, TiffKindStandard>(file, layout, strips, to_u8),
                (SampleType::Uint8, true) => encode::<Gray8, TiffKindBig>(file, layout, strips, to_u8),
            })
            .map_err(|e| Error::io(path, e))?;
        let strip_samples = rows_per_strip * width * classes;
        Ok(ProbabilityTiff {
            staged,
            encoder: Some((sender, thread)),
            strip: Vec::with_capacity(strip_samples),
            strip_samples,
            classes,
            width,
        })
    }

    /// Hands the filled strip to the encoder.
    fn send_strip(&mut self) -> Result<()> {
        let strip = std::mem::replace(&mut self.strip, Vec::with_capacity(self.strip_samples));
        match &self.encoder {
            Some((strips, _)) if strips.send(strip).is_ok() => Ok(()),
            // The encoder stopped early: its error says why.
            _ => self.join_encoder(),
        }
    }

    /// Ends the strips and waits for the encoder to write the directory.
    fn join_encoder(&mut self) -> Result<()> {
        let target = self.staged.target();
        let (strips, thread) = self.encoder.take().ok_or_else(|| Error::data(target, "the TIFF encoder has stopped"))?;
        drop(strips);
        match thread.join() {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(Error::data(target, format!("cannot write TIFF: {e}"))),
            Err(_) => Err(Error::data(target, "the TIFF encoder panicked")),
        }
    }
}

impl ProbabilitySink for ProbabilityTiff {
    fn write_rows(&mut self, y: usize, probs: ArrayView3<f32>) -> Result<()> {
        let (classes, rows, width) = probs.dim();
        if (classes, width) != (self.classes, self.width) {
            return Err(Error::data(
                self.staged.target(),
                format!("rows of {classes} classes x {width} pixels for a TIFF of {} x {}", self.classes, self.width),
            ));
        }
        self.staged.advance(y, rows)?;
        for row in probs.axis_iter(Axis(1)) {
            self.strip.extend(row.t().iter());
            if self.strip.len() == self.strip_samples {
                self.send_strip()?;
            }
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        self.staged.check_complete()?;
        if !self.strip.is_empty() {
            self.send_strip()?;
        }
        self.join_encoder()?;
        self.staged.commit()
    }
}

impl Drop for ProbabilityTiff {
    /// Stops the encoder before the temporary file is removed.
    fn drop(&mut self) {
        if let Some((strips, thread)) = self.encoder.take() {
            drop(strips);
            let _ = thread.join();
        }
    }
}

fn to_u8(strip: Vec<f32>) -> Vec<u8> {
    strip.into_iter().map(|p| (p * 255.0).round().clamp(0.0, 255.0) as u8).collect()
}

/// Writes the strips received from `strips` as one image.
fn encode<C, K>(file: File, layout: Layout, strips: Receiver<Vec<f32>>, convert: fn(Vec<f32>) -> Vec<C::Inner>) -> TiffResult<()>
where
    C: ColorType,
    K: TiffKind,
    [C::Inner]: TiffValue,
{
    let mut out = BufWriter::new(file);
    {
        let mut tiff = TiffEncoder::<_, K>::new_generic(&mut out)?;
        let mut image = tiff.new_image::<C>(layout.width, layout.height)?;
        if layout.classes > 1 {
            image.extra_samples(&vec![ExtraSamples::Unspecified; layout.classes - 1])?;
        }
        image.rows_per_strip(layout.rows_per_strip)?;
        for strip in strips {
            image.write_strip(&convert(strip))?;
        }
        image.finish()?;
    }
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{s, Array, Array3};
    use tiff::decoder::{Decoder, DecodingResult};

    fn probabilities(classes: usize, height: usize, width: usize) -> Array3<f32> {
        Array::from_shape_fn((classes, height, width), |(k, y, x)| ((k * 31 + y * 7 + x * 3) % 100) as f32 / 99.0)
    }

    fn write(path: &Path, probs: &Array3<f32>, sample_type: SampleType, chunk: usize) {
        let (classes, height, width) = probs.dim();
        let mut tiff = ProbabilityTiff::create(path, classes, width, height, sample_type).unwrap();
        for y in (0..height).step_by(chunk) {
            tiff.write_rows(y, probs.slice(s![.., y..(y + chunk).min(height), ..])).unwrap();
        }
        tiff.finish().unwrap();
    }

    /// The decoded `[K, H, W]` image and its colour type.
    fn read(path: &Path) -> (DecodingResult, tiff::ColorType, (u32, u32)) {
        let mut decoder = Decoder::new(File::open(path).unwrap()).unwrap();
        (decoder.read_image().unwrap(), decoder.colortype().unwrap(), decoder.dimensions().unwrap())
    }

    fn chunky(samples: &[f32], probs: &Array3<f32>) -> Array3<f32> {
        let (k, h, w) = probs.dim();
        Array::from_shape_vec((h, w, k), samples.to_vec()).unwrap().permuted_axes([2, 0, 1]).to_owned()
    }

    #[test]
    fn float_probabilities_read_back_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.tif");
        // 3 classes x 700 px x 4 bytes: 124 rows per strip, so 300 rows make 3 strips, the last one short.
        let probs = probabilities(3, 300, 700);
        write(&path, &probs, SampleType::Float32, 37);
        let (data, color, dims) = read(&path);
        assert_eq!(dims, (700, 300));
        assert_eq!(color, tiff::ColorType::Multiband { bit_depth: 32, num_samples: 3 });
        let DecodingResult::F32(samples) = data else { panic!("not f32") };
        assert_eq!(chunky(&samples, &probs), probs);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn bytes_are_scaled_to_255() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.tif");
        let probs = probabilities(2, 5, 4);
        write(&path, &probs, SampleType::Uint8, 2);
        let (data, _, _) = read(&path);
        let DecodingResult::U8(samples) = data else { panic!("not u8") };
        let samples: Vec<f32> = samples.into_iter().map(f32::from).collect();
        let expected = probs.mapv(|p| (p * 255.0).round());
        assert_eq!(chunky(&samples, &probs), expected);
    }

    #[test]
    fn unfinished_files_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.tif");
        let probs = probabilities(2, 6, 3);
        let mut tiff = ProbabilityTiff::create(&path, 2, 3, 6, SampleType::Float32).unwrap();
        tiff.write_rows(0, probs.slice(s![.., ..2, ..])).unwrap();
        let e = tiff.finish().unwrap_err().to_string();
        assert!(e.contains("only 2 of 6 rows were written"), "{e}");
        let e = tiff.write_rows(2, probs.slice(s![..1, 2..4, ..])).unwrap_err().to_string();
        assert!(e.contains("rows of 1 classes x 3 pixels for a TIFF of 2 x 3"), "{e}");
        drop(tiff);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
