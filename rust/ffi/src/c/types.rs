//! The C types of `include/dlclassifier.h` that are not plain ints and
//! strings: status codes, opaque handles, buffers, the tile layout and the
//! epoch listener. The enums name for C the codes that the engine's error
//! classes and `api::kinds` use, so Rust constructs few of their variants.

use std::ffi::{c_char, c_int, c_void};

/// The status every fallible function returns (as `int`): the error class
/// codes of the engine, which the CLI exits with too.
/// cbindgen:rename-all=ScreamingSnakeCase
// cbindgen can only re-case variant names, so the prefix gives `DLC_OK`, not `DLC_STATUS_OK`.
#[allow(clippy::enum_variant_names, dead_code)]
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DlcStatus {
    /// Success.
    DlcOk = 0,
    /// A null pointer, a string that is not UTF-8, bad JSON or an option out of range.
    DlcInvalidArgument = 1,
    /// A closed or freed handle, or a call at the wrong time.
    DlcInvalidState = 2,
    /// A file or folder that cannot be read, written or understood.
    DlcIo = 3,
    /// A failure inside the engine (libtorch, ONNX Runtime, the model).
    DlcEngine = 4,
    /// The job was cancelled before it produced a result.
    DlcCancelled = 5,
    /// A bug in dlclassifier, caught before it reached the caller; please report it.
    DlcPanic = 6,
    /// A wait (for a device-memory reservation) ran out of time.
    DlcTimeout = 7,
    /// Memory ran out; a smaller batch size or tile size may fit.
    DlcOutOfMemory = 8,
}

/// A loaded model. Thread-safe: any number of threads may predict with one
/// predictor at once; freeing it while others predict lets their calls
/// finish, and later calls return `DLC_INVALID_STATE`. Opaque: handles are
/// numbers, never dereferenced, so a freed handle is an error, not a crash.
pub struct DlcPredictor {
    _opaque: [u8; 0],
}

/// Steers a long call (`dlc_train`, `dlc_predictor_apply`) from other
/// threads: cancel, pause, resume. Opaque, as `DlcPredictor`.
pub struct DlcJob {
    _opaque: [u8; 0],
}

/// A booking of device memory, released by `dlc_reservation_free` (or when
/// the process exits, even if killed). Opaque, as `DlcPredictor`.
pub struct DlcReservation {
    _opaque: [u8; 0],
}

/// Memory the engine reads: `len` bytes at `data`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct DlcConstBuffer {
    pub data: *const c_void,
    pub len: usize,
}

/// Memory the engine writes: `len` bytes at `data`; `data` NULL for none.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct DlcBuffer {
    pub data: *mut c_void,
    pub len: usize,
}

/// Memory order of one tile (values of `DlcTileLayout.order`).
#[allow(dead_code)] // See the module doc.
#[repr(C)]
pub enum DlcOrder {
    /// Channels last, as images are stored: `[height][width][channels]`.
    Hwc = 0,
    /// Channels first: `[channels][height][width]`.
    Chw = 1,
}

/// Element type of the tile buffer (values of `DlcTileLayout.dtype`), native-endian.
#[allow(dead_code)] // See the module doc.
#[repr(C)]
pub enum DlcDtype {
    /// `uint8_t`
    U8 = 0,
    /// `uint16_t`
    U16 = 1,
    /// `float`
    F32 = 2,
}

/// Encoding of predicted probabilities (the `probability_format` argument).
#[allow(dead_code)] // See the module doc.
#[repr(C)]
pub enum DlcProbabilityFormat {
    /// `float` in 0..1.
    Float32 = 0,
    /// `uint8_t`, round(255 x probability).
    Uint8 = 1,
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

/// Called after every epoch with that epoch's record as JSON (valid only
/// during the call): `epoch` (1-based), `total_epochs`, `train_loss`,
/// `val_loss`, `pixel_accuracy`, `mean_iou`, `per_class_iou`,
/// `learning_rate`, `elapsed_s`, `best_epoch`, `best_score`,
/// `epochs_without_improvement`, `is_best`. Runs on the training thread; it
/// may call `dlc_job_cancel` but must not unwind or longjmp.
pub type DlcEpochCallback = Option<unsafe extern "C" fn(epoch_json: *const c_char, user_data: *mut c_void)>;

/// A listener for `dlc_train`: `on_epoch` is called with `user_data`.
#[repr(C)]
pub struct DlcEpochListener {
    pub on_epoch: DlcEpochCallback,
    pub user_data: *mut c_void,
}
