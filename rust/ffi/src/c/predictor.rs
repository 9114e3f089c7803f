//! Predictors: opening models and predicting tiles from caller buffers.

use super::{arg, guard, guard_void, json_arg, json_string, opt_str_arg, out_arg, str_arg};
use crate::error::{FfiError, FfiResult};
use dlclassifier::inference::InferenceOptions;
use dlclassifier::tasks::pixel::{Dtype, Order, Outputs, Predictor, ProbabilityFormat, TileLayout};
use std::ffi::{c_char, c_int, c_void};
use std::path::Path;

/// A loaded model. Thread-safe: any number of threads may predict with one
/// predictor at once, as long as none frees it meanwhile.
pub struct DlcPredictor(pub(super) Predictor);

/// Memory order of one tile (values of `DlcTileLayout.order`).
#[repr(C)]
pub enum DlcOrder {
    /// Channels last, as images are stored: `[height][width][channels]`.
    Hwc = 0,
    /// Channels first: `[channels][height][width]`.
    Chw = 1,
}

/// Element type of the tile buffer (values of `DlcTileLayout.dtype`), native-endian.
#[repr(C)]
pub enum DlcDtype {
    /// `uint8_t`
    U8 = 0,
    /// `uint16_t`
    U16 = 1,
    /// `float`
    F32 = 2,
}

/// Shape and encoding of a batch of tiles in one contiguous buffer.
#[repr(C)]
pub struct DlcTileLayout {
    /// Tiles in the batch.
    pub count: usize,
    /// Channels per pixel; must equal the model's input channels.
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    /// A `DlcOrder` value.
    pub order: c_int,
    /// A `DlcDtype` value.
    pub dtype: c_int,
}

impl DlcTileLayout {
    /// Fields are plain ints so that an unknown value from C is an error, not undefined behaviour.
    fn to_core(&self) -> FfiResult<TileLayout> {
        let order = match self.order {
            o if o == DlcOrder::Hwc as c_int => Order::Hwc,
            o if o == DlcOrder::Chw as c_int => Order::Chw,
            o => return Err(FfiError::invalid_argument(format!("layout->order {o} is not a DlcOrder"))),
        };
        let dtype = match self.dtype {
            d if d == DlcDtype::U8 as c_int => Dtype::U8,
            d if d == DlcDtype::U16 as c_int => Dtype::U16,
            d if d == DlcDtype::F32 as c_int => Dtype::F32,
            d => return Err(FfiError::invalid_argument(format!("layout->dtype {d} is not a DlcDtype"))),
        };
        Ok(TileLayout { count: self.count, channels: self.channels, height: self.height, width: self.width, order, dtype })
    }
}

/// Opens a model folder written by training.
///
/// `options_json` may be NULL for defaults, else a JSON object with any of
/// `"backend"` (`"auto"`, `"onnx"`, `"torch"`), `"device"` (`"auto"`, `"cpu"`,
/// `"cuda"`, `"cuda:N"`, `"mps"`), `"fp16"`, `"threads"`, `"concurrent_runs"`,
/// `"gpu_reservation"` (`{"bytes": N, "timeout_ms": N}`, see `dlc_reserve`).
/// On success `*out` is a predictor to free with `dlc_predictor_free`; on
/// failure it is NULL.
///
/// # Safety
/// Strings are NULL or NUL-terminated; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dlc_predictor_open(
    model_dir: *const c_char,
    options_json: *const c_char,
    out: *mut *mut DlcPredictor,
) -> c_int {
    guard(|| {
        let out = unsafe { out_arg(out, "out") }?;
        let dir = unsafe { str_arg(model_dir, "model_dir") }?;
        let options: InferenceOptions = unsafe { json_arg(options_json, "options_json") }?;
        *out = Box::into_raw(Box::new(DlcPredictor(Predictor::open(Path::new(dir), &options)?)));
        Ok(())
    })
}

/// Opens an external ONNX model. Channels, classes and any fixed input size
/// come from the graph; `metadata_path` (may be NULL) names a `metadata.json`
/// adding class names, colours and normalization. Options as for
/// `dlc_predictor_open` (the backend must be `"auto"` or `"onnx"`).
///
/// # Safety
/// As `dlc_predictor_open`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dlc_predictor_open_onnx(
    onnx_path: *const c_char,
    metadata_path: *const c_char,
    options_json: *const c_char,
    out: *mut *mut DlcPredictor,
) -> c_int {
    guard(|| {
        let out = unsafe { out_arg(out, "out") }?;
        let path = unsafe { str_arg(onnx_path, "onnx_path") }?;
        let metadata = unsafe { opt_str_arg(metadata_path, "metadata_path") }?;
        let options: InferenceOptions = unsafe { json_arg(options_json, "options_json") }?;
        let predictor = Predictor::open_onnx(Path::new(path), metadata.map(Path::new), &options)?;
        *out = Box::into_raw(Box::new(DlcPredictor(predictor)));
        Ok(())
    })
}

/// What the model takes and gives, as JSON: `name`, `source`, `in_channels`,
/// `num_classes`, `classes` (`index`, `name`, `color`), `tile_size`,
/// `fixed_size` (`[height, width]` or null), `min_size` (the smallest side
/// the model runs on; smaller tiles are padded up to it) and `backend`. Free `*out_json`
/// with `dlc_string_free`.
///
/// # Safety
/// `predictor` is NULL or live; `out_json` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dlc_predictor_info_json(predictor: *const DlcPredictor, out_json: *mut *mut c_char) -> c_int {
    guard(|| {
        let out = unsafe { out_arg(out_json, "out_json") }?;
        let predictor = unsafe { arg(predictor, "predictor") }?;
        *out = json_string(predictor.0.info())?;
        Ok(())
    })
}

/// Predicts a batch of tiles. The model's training normalization is applied
/// inside; tiles of any size work.
///
/// `tiles` holds `tiles_len` bytes laid out as `layout` says. Give
/// `probabilities` (`probabilities_len` floats, at least
/// count x classes x height x width, in the input's order: `[N][H][W][K]` for
/// HWC, `[N][K][H][W]` for CHW), `class_map` (`class_map_len` bytes, at least
/// count x height x width, the most likely class per pixel), or both; the
/// other may be NULL. Buffers must not overlap. Nothing is written unless
/// the call succeeds.
///
/// # Safety
/// Each pointer is NULL or valid for its stated length; `predictor` is live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dlc_predictor_predict(
    predictor: *const DlcPredictor,
    tiles: *const c_void,
    tiles_len: usize,
    layout: *const DlcTileLayout,
    probabilities: *mut f32,
    probabilities_len: usize,
    class_map: *mut u8,
    class_map_len: usize,
) -> c_int {
    guard(|| {
        let predictor = unsafe { arg(predictor, "predictor") }?;
        if tiles.is_null() {
            return Err(FfiError::invalid_argument("tiles is NULL"));
        }
        let tiles = unsafe { std::slice::from_raw_parts(tiles.cast::<u8>(), byte_len(tiles_len, 1, "tiles")?) };
        let layout = unsafe { arg(layout, "layout") }?.to_core()?;
        let probabilities = unsafe { out_buffer(probabilities.cast(), probabilities_len, size_of::<f32>(), "probabilities") }?;
        let class_map = unsafe { out_buffer(class_map, class_map_len, 1, "class_map") }?;
        let outputs = Outputs { probabilities: probabilities.map(|p| (p, ProbabilityFormat::F32)), class_map };
        Ok(predictor.0.predict(tiles, &layout, outputs)?)
    })
}

/// Bytes in `len` elements of `size` bytes, if a slice can be that long.
fn byte_len(len: usize, size: usize, name: &str) -> FfiResult<usize> {
    len.checked_mul(size)
        .filter(|&b| b <= isize::MAX as usize)
        .ok_or_else(|| FfiError::invalid_argument(format!("{name}: length {len} is too large")))
}

/// A caller's output buffer of `len` elements of `size` bytes, as bytes; None when NULL.
///
/// # Safety
/// `ptr` is NULL or valid for writes of `len * size` bytes, unaliased for `'a`.
unsafe fn out_buffer<'a>(ptr: *mut u8, len: usize, size: usize, name: &str) -> FfiResult<Option<&'a mut [u8]>> {
    if ptr.is_null() {
        return Ok(None);
    }
    Ok(Some(unsafe { std::slice::from_raw_parts_mut(ptr, byte_len(len, size, name)?) }))
}

/// Frees a predictor. NULL is ignored.
///
/// # Safety
/// `predictor` is NULL or from `dlc_predictor_open*`, not yet freed, and no
/// other thread is using it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dlc_predictor_free(predictor: *mut DlcPredictor) {
    if !predictor.is_null() {
        guard_void(|| drop(unsafe { Box::from_raw(predictor) }));
    }
}
