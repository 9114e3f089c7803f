//! The transport-neutral argument types that are not core types: caller
//! memory, images and listeners, each built by a C or a JNI conversion.

use crate::error::{FfiError, FfiResult};
use dlclassifier::geometry::Polygon;
use dlclassifier::objects::{Measurement, ObjectPixels};
use dlclassifier::tiling::RegionReader;
use std::sync::Arc;
use ndarray::Array3;
use std::path::PathBuf;

/// Caller memory the engine reads, valid for the duration of one call.
pub struct Bytes {
    ptr: *const u8,
    len: usize,
}

impl Bytes {
    /// # Safety
    /// `ptr` is valid for reads of `len` bytes until the call returns.
    pub unsafe fn new(ptr: *const u8, len: usize) -> Bytes {
        Bytes { ptr, len }
    }

    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: valid for the call, as `new` requires.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }

    pub fn range(&self) -> (usize, usize) {
        (self.ptr as usize, self.len)
    }
}

/// Caller memory the engine writes, valid for the duration of one call.
pub struct BytesMut {
    ptr: *mut u8,
    len: usize,
}

impl BytesMut {
    /// # Safety
    /// `ptr` is valid for writes of `len` bytes until the call returns, and
    /// nothing else reads or writes that memory meanwhile.
    pub unsafe fn new(ptr: *mut u8, len: usize) -> BytesMut {
        BytesMut { ptr, len }
    }

    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: valid and unaliased for the call, as `new` requires.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }

    pub fn range(&self) -> (usize, usize) {
        (self.ptr as usize, self.len)
    }
}

/// Whether any two of the given non-empty `(start, len)` ranges share a byte.
pub fn any_overlap(ranges: &[Option<(usize, usize)>]) -> bool {
    let overlap = |(a, la): (usize, usize), (b, lb): (usize, usize)| la > 0 && lb > 0 && a < b + lb && b < a + la;
    ranges.iter().enumerate().any(|(i, &r)| ranges[i + 1..].iter().any(|&q| r.zip(q).is_some_and(|(r, q)| overlap(r, q))))
}

/// The image of a whole-image call: a file, read when the call gets to it
/// (after its settings are checked), or a caller's region reader; and a
/// progress callback that returns false when the caller failed.
pub struct ImageSource {
    pub image: Image,
    pub progress: Box<dyn FnMut(usize, usize) -> bool>,
    /// The caller's own per-object measurements (Java's `ObjectMeasurement`s).
    pub measurements: Vec<Arc<dyn Measurement>>,
}

pub enum Image {
    File(PathBuf),
    Reader(Box<dyn RegionReader>),
}

impl ImageSource {
    pub fn file(path: PathBuf) -> ImageSource {
        ImageSource { image: Image::File(path), progress: Box::new(|_, _| true), measurements: Vec::new() }
    }
}

/// Where each finished epoch's record goes, as JSON; returns false when the
/// listener failed, which stops training. `None`: nobody listens.
pub struct EpochSink(pub Option<Box<dyn FnMut(&str) -> bool>>);

/// A caller's region reader, called back with the region `[x, y, w, h]` and
/// the CHW values to fill.
pub struct CallbackReader {
    size: [usize; 3],
    read: ReadRegion,
    names: Option<Vec<String>>,
    /// µm per pixel, when the caller knows it.
    pixel_size: Option<f64>,
}

pub type ReadRegion = Box<dyn Fn([usize; 4], &mut [f32]) -> FfiResult<()> + Send + Sync>;

impl CallbackReader {
    /// `[width, height, channels]` as the caller reported them.
    pub fn new(size: [i64; 3], read: ReadRegion, name: &str) -> FfiResult<CallbackReader> {
        let size = size.map(usize::try_from);
        let [Ok(width), Ok(height), Ok(channels)] = size else {
            return Err(FfiError::invalid_argument(format!("{name}: the reader's sizes must not be negative")));
        };
        Ok(CallbackReader { size: [width, height, channels], read, names: None, pixel_size: None })
    }

    /// The reader with the names the caller gave its channels, one per channel.
    pub fn with_names(self, names: Option<Vec<String>>, name: &str) -> FfiResult<CallbackReader> {
        if let Some(n) = names.as_ref().filter(|n| n.len() != self.size[2]) {
            return Err(FfiError::invalid_argument(format!("{name}: {} channel names for {} channels", n.len(), self.size[2])));
        }
        Ok(CallbackReader { names, ..self })
    }

    /// The reader with its image's pixel size in µm; `None` or NaN: unknown.
    pub fn with_pixel_size(self, pixel_size: Option<f64>) -> CallbackReader {
        CallbackReader { pixel_size: pixel_size.filter(|p| !p.is_nan()), ..self }
    }
}

impl RegionReader for CallbackReader {
    fn width(&self) -> usize {
        self.size[0]
    }

    fn height(&self) -> usize {
        self.size[1]
    }

    fn channels(&self) -> usize {
        self.size[2]
    }

    fn pixel_size(&self) -> Option<f64> {
        self.pixel_size
    }

    fn read(&self, x: usize, y: usize, w: usize, h: usize) -> dlclassifier::Result<Array3<f32>> {
        let mut region = Array3::zeros((self.channels(), h, w));
        let values = region.as_slice_mut().expect("a new array is contiguous");
        (self.read)([x, y, w, h], values).map_err(|e| dlclassifier::Error::data("RegionReader", e.message))?;
        Ok(region)
    }

    fn channel_names(&self) -> Option<Vec<String>> {
        self.names.clone()
    }
}

/// A caller's per-object measurement, called back with each object.
pub struct CallbackMeasurement {
    pub names: Vec<String>,
    pub measure: MeasureObject,
}

pub type MeasureObject = Box<dyn Fn(&Polygon, &str, &ObjectPixels) -> FfiResult<Vec<f64>> + Send + Sync>;

impl Measurement for CallbackMeasurement {
    fn names(&self) -> Vec<String> {
        self.names.clone()
    }

    fn measure(&self, polygon: &Polygon, class: &str, pixels: &ObjectPixels) -> dlclassifier::Result<Vec<f64>> {
        (self.measure)(polygon, class, pixels).map_err(|e| dlclassifier::Error::data("ObjectMeasurement", e.message))
    }
}

/// Native-order `f32`s from `bytes` into all of `dest`.
pub fn copy_floats(bytes: &[u8], dest: &mut [f32]) -> FfiResult<()> {
    if bytes.len() < 4 * dest.len() {
        return Err(FfiError::invalid_argument("the region buffer is smaller than the region"));
    }
    for (value, b) in dest.iter_mut().zip(bytes.chunks_exact(4)) {
        *value = f32::from_ne_bytes([b[0], b[1], b[2], b[3]]);
    }
    Ok(())
}
