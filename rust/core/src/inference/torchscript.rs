//! TorchScript backend: `model.pt` in libtorch, on the CPU or a GPU, in
//! float32 or (GPU only) float16. A loaded module may run from many threads at once.

use super::backend::{Backend, InferenceOptions};
use crate::device::describe;
use crate::{Error, Result};
use ndarray::ArrayView4;
use std::path::{Path, PathBuf};
use tch::{CModule, Device, Kind, Tensor};

pub struct TorchScriptBackend {
    path: PathBuf,
    module: CModule,
    device: Device,
    kind: Kind,
}

impl TorchScriptBackend {
    pub fn open(path: &Path, options: &InferenceOptions) -> Result<TorchScriptBackend> {
        options.validate()?;
        let device = options.device.resolve()?;
        if options.fp16 && !device.is_cuda() {
            return Err(Error::config(format!("fp16 inference needs a CUDA device; {} runs float32 only", describe(device))));
        }
        if !path.is_file() {
            return Err(Error::data(path, "TorchScript model file is missing"));
        }
        if let Some(threads) = options.threads {
            tch::set_num_threads(threads as i32);
        }
        let mut module = CModule::load_on_device(path, device).map_err(|e| Error::data(path, format!("cannot load TorchScript model: {e}")))?;
        module.set_eval();
        let kind = if options.fp16 { Kind::Half } else { Kind::Float };
        if options.fp16 {
            module.to(device, kind, false);
        }
        Ok(TorchScriptBackend { path: path.to_path_buf(), module, device, kind })
    }
}

impl Backend for TorchScriptBackend {
    fn run(&self, input: ArrayView4<f32>, consume: &mut dyn FnMut(ArrayView4<f32>) -> Result<()>) -> Result<()> {
        let input = input.as_standard_layout();
        let shape: Vec<i64> = input.shape().iter().map(|&d| d as i64).collect();
        let data = input.as_slice().expect("standard layout");
        let logits = tch::no_grad(|| -> Result<Tensor> {
            let xs = Tensor::from_slice(data).view(shape.as_slice()).to_device(self.device).to_kind(self.kind);
            let ys = self.module.forward_ts(&[xs]).map_err(|e| Error::backend(&self.path, format!("TorchScript forward failed: {e}")))?;
            Ok(ys.to_kind(Kind::Float).to_device(Device::Cpu).contiguous())
        })?;
        let dims: Vec<usize> = logits.size().iter().map(|&d| d as usize).collect();
        let dims = <[usize; 4]>::try_from(dims.as_slice()).map_err(|_| Error::backend(&self.path, "the model's output is not a [N, K, H, W] tensor"))?;
        let values = Vec::<f32>::try_from(&logits.flatten(0, -1))?;
        consume(ArrayView4::from_shape(dims, &values).expect("length matches the tensor's shape"))
    }

    fn describe(&self) -> String {
        let precision = if self.kind == Kind::Half { " fp16" } else { "" };
        format!("torchscript {}{precision}", describe(self.device))
    }
}
