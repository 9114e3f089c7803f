//! ONNX Runtime backend: the library is loaded at run time from a documented
//! search path, and each model keeps a small pool of sessions because a
//! session may only run one batch at a time.

use super::backend::{Backend, InferenceOptions};
use crate::device::DeviceChoice;
use crate::{Error, Result};
use ndarray::{ArrayView4, Ix4};
use once_cell::sync::OnceCell;
use ort::environment::Environment;
use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;
use ort::value::TensorRef;
use parking_lot::{Condvar, Mutex};
use std::path::{Path, PathBuf};

/// The ONNX Runtime release whose library `scripts/deps.sh` installs.
pub const ONNXRUNTIME_VERSION: &str = "1.31.0";
const LIBRARY: &str = "libonnxruntime.so";

/// Where the shared library is looked for, in order: `DLC_ONNXRUNTIME` (a file
/// or folder), `ORT_DYLIB_PATH`, next to the running executable, next to the
/// shared library holding this code (the JNI/C library inside a JVM or a C
/// program), then the dependency cache (`DLC_CACHE`, else `~/.cache/dlclassifier`).
pub fn library_candidates() -> Vec<PathBuf> {
    let mut found = Vec::new();
    for var in ["DLC_ONNXRUNTIME", "ORT_DYLIB_PATH"] {
        if let Some(p) = std::env::var_os(var).map(PathBuf::from) {
            found.push(if p.is_dir() { p.join(LIBRARY) } else { p });
        }
    }
    if let Some(dir) = std::env::current_exe().ok().and_then(|e| e.parent().map(Path::to_path_buf)) {
        found.push(dir.join(LIBRARY));
    }
    if let Some(dir) = this_library_dir() {
        let candidate = dir.join(LIBRARY);
        if !found.contains(&candidate) {
            found.push(candidate);
        }
    }
    if let Some(cache) = crate::cache_dir::cache_root() {
        found.push(cache.join(format!("onnxruntime-{ONNXRUNTIME_VERSION}/lib")).join(LIBRARY));
    }
    found
}

/// The folder of the loaded object (executable or shared library) that
/// contains this function.
fn this_library_dir() -> Option<PathBuf> {
    let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
    // SAFETY: dladdr only reads the address and fills `info` with pointers
    // into the loader's own tables, valid while the object stays loaded.
    let found = unsafe { libc::dladdr(this_library_dir as *const libc::c_void, &mut info) };
    if found == 0 || info.dli_fname.is_null() {
        return None;
    }
    let name = unsafe { std::ffi::CStr::from_ptr(info.dli_fname) };
    let path = PathBuf::from(<std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(name.to_bytes()));
    std::fs::canonicalize(path).ok()?.parent().map(Path::to_path_buf)
}

/// The process-wide environment, created on first use. A failure is
/// remembered, so every later call reports the same clear error.
fn environment() -> Result<&'static Environment> {
    static ENV: OnceCell<std::result::Result<Environment, String>> = OnceCell::new();
    ENV.get_or_init(|| {
        let candidates = library_candidates();
        let library = candidates.iter().find(|p| p.is_file()).ok_or_else(|| {
            let tried: Vec<_> = candidates.iter().map(|p| p.display().to_string()).collect();
            format!(
                "ONNX Runtime library not found (tried {}); run `scripts/deps.sh onnxruntime` or set DLC_ONNXRUNTIME",
                tried.join(", ")
            )
        })?;
        let builder = ort::init_from(library).map_err(|e| format!("cannot load {}: {e}", library.display()))?;
        builder.with_name("dlclassifier").build().map_err(|e| format!("cannot start ONNX Runtime: {e}"))
    })
    .as_ref()
    .map_err(|e| Error::Model(e.clone()))
}

fn ort_error(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::data(path, format!("ONNX Runtime: {e}"))
}

/// A model loaded into ONNX Runtime.
pub struct OnnxBackend {
    path: PathBuf,
    options: InferenceOptions,
    pool: Mutex<Pool>,
    returned: Condvar,
}

struct Pool {
    idle: Vec<Session>,
    live: usize,
}

impl OnnxBackend {
    /// Opens `path` with one session; more are created as concurrent callers need them.
    pub fn open(path: &Path, options: &InferenceOptions) -> Result<OnnxBackend> {
        options.validate()?;
        if options.fp16 {
            return Err(Error::config("fp16 needs the TorchScript backend on a GPU; ONNX models run in float32"));
        }
        match options.device {
            DeviceChoice::Auto | DeviceChoice::Cpu => {}
            other => {
                return Err(Error::config(format!(
                    "the bundled ONNX Runtime runs on the CPU only; use the torch backend for {other}"
                )))
            }
        }
        if !path.is_file() {
            return Err(Error::data(path, "ONNX model file is missing"));
        }
        let backend = OnnxBackend { path: path.to_path_buf(), options: options.clone(), pool: Mutex::new(Pool { idle: Vec::new(), live: 0 }), returned: Condvar::new() };
        let first = backend.new_session()?;
        let mut pool = backend.pool.lock();
        pool.idle.push(first);
        pool.live = 1;
        drop(pool);
        Ok(backend)
    }

    fn new_session(&self) -> Result<Session> {
        let env = environment()?;
        let err = |e: ort::Error<_>| ort_error(&self.path, e);
        let mut builder = Session::builder(env).map_err(|e| ort_error(&self.path, e))?;
        builder = builder.with_optimization_level(GraphOptimizationLevel::All).map_err(err)?;
        if let Some(threads) = self.options.threads {
            builder = builder.with_intra_threads(threads).map_err(err)?;
        }
        builder.commit_from_file(&self.path).map_err(|e| ort_error(&self.path, e))
    }

    /// Runs `f` with a session of its own, waiting if all are busy.
    fn with_session<T>(&self, f: impl FnOnce(&mut Session) -> Result<T>) -> Result<T> {
        let mut session = {
            let mut pool = self.pool.lock();
            loop {
                if let Some(s) = pool.idle.pop() {
                    break s;
                }
                if pool.live < self.options.concurrent_runs {
                    pool.live += 1;
                    drop(pool);
                    match self.new_session() {
                        Ok(s) => break s,
                        Err(e) => {
                            self.pool.lock().live -= 1;
                            return Err(e);
                        }
                    }
                }
                self.returned.wait(&mut pool);
            }
        };
        let result = f(&mut session);
        self.pool.lock().idle.push(session);
        self.returned.notify_one();
        result
    }

    /// Input and output shapes as the graph declares them (`-1` where dynamic).
    pub fn signature(&self) -> Result<(Vec<i64>, Vec<i64>)> {
        self.with_session(|s| {
            let shape = |outlets: &[ort::value::Outlet], what: &str| -> Result<Vec<i64>> {
                let outlet = outlets.first().ok_or_else(|| Error::data(&self.path, format!("the graph has no {what}")))?;
                match outlet.dtype() {
                    ort::value::ValueType::Tensor { ty: ort::value::TensorElementType::Float32, shape, .. } => Ok(shape.to_vec()),
                    other => Err(Error::data(&self.path, format!("{what} '{}' must be a float32 tensor, is {other}", outlet.name()))),
                }
            };
            if s.inputs().len() != 1 {
                return Err(Error::data(&self.path, format!("expected one graph input, found {}", s.inputs().len())));
            }
            Ok((shape(s.inputs(), "input")?, shape(s.outputs(), "output")?))
        })
    }
}

impl Backend for OnnxBackend {
    fn run(&self, input: ArrayView4<f32>, consume: &mut dyn FnMut(ArrayView4<f32>) -> Result<()>) -> Result<()> {
        let input = input.as_standard_layout();
        self.with_session(|session| {
            // A failed run is the engine's failure, not a bad file: the model loaded and was probed.
            let failed = |e: ort::Error| Error::backend(&self.path, format!("ONNX Runtime run failed: {e}"));
            let tensor = TensorRef::from_array_view(&input).map_err(failed)?;
            let outputs = session.run(ort::inputs![tensor]).map_err(failed)?;
            let logits = outputs[0].try_extract_array::<f32>().map_err(failed)?;
            let logits = logits
                .into_dimensionality::<Ix4>()
                .map_err(|_| Error::backend(&self.path, "the model's output is not a [N, K, H, W] tensor"))?;
            consume(logits)
        })
    }

    fn describe(&self) -> String {
        match self.options.threads {
            Some(t) => format!("onnxruntime {ONNXRUNTIME_VERSION} cpu ({t} threads)"),
            None => format!("onnxruntime {ONNXRUNTIME_VERSION} cpu"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_search_includes_the_folder_of_the_object_holding_this_code() {
        // In a test binary that object is the executable itself.
        let exe_dir = std::fs::canonicalize(std::env::current_exe().unwrap()).unwrap().parent().unwrap().to_path_buf();
        assert_eq!(this_library_dir(), Some(exe_dir.clone()));
        assert!(library_candidates().contains(&exe_dir.join(LIBRARY)));
    }
}
