//! The transport-neutral argument types that are not core types: caller
//! memory, images and listeners, each built by a C or a JNI conversion.

use dlclassifier::tiling::RegionReader;
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

    fn range(&self) -> (usize, usize) {
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

    fn range(&self) -> (usize, usize) {
        (self.ptr as usize, self.len)
    }
}

/// Whether any two of the non-empty `(start, len)` ranges share a byte.
pub fn any_overlap(input: &Bytes, outputs: &[&BytesMut]) -> bool {
    let mut ranges: Vec<(usize, usize)> = outputs.iter().map(|o| o.range()).collect();
    ranges.push(input.range());
    ranges.retain(|&(_, len)| len > 0);
    ranges.iter().enumerate().any(|(i, &(a, la))| ranges[i + 1..].iter().any(|&(b, lb)| a < b + lb && b < a + la))
}

/// The image of a whole-image call: a file, read when the call gets to it
/// (after its settings are checked), or a caller's region reader; and a
/// progress callback that returns false when the caller failed.
pub struct ImageSource {
    pub image: Image,
    pub progress: Box<dyn FnMut(usize, usize) -> bool>,
}

pub enum Image {
    File(PathBuf),
    Reader(Box<dyn RegionReader>),
}

impl ImageSource {
    pub fn file(path: PathBuf) -> ImageSource {
        ImageSource { image: Image::File(path), progress: Box::new(|_, _| true) }
    }
}

/// Where each finished epoch's record goes, as JSON; returns false when the
/// listener failed, which stops training. `None`: nobody listens.
pub struct EpochSink(pub Option<Box<dyn FnMut(&str) -> bool>>);
