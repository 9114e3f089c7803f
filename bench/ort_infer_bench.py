"""The Python path dlclassifier replaces, for `make bench`: uint8 HWC tiles
are normalized with numpy, run through Python onnxruntime and reduced to a
class map with argmax. Same model, tiles (written by `dlclassifier bench-infer
--save`), batch and threads as the Rust side; prints one JSON line."""
import argparse, json, time
import numpy as np
import onnxruntime as ort

p = argparse.ArgumentParser()
p.add_argument("--model", required=True, help="model.onnx")
p.add_argument("--saved", required=True, help="folder with tiles.u8 and normalization.json")
p.add_argument("--tile", type=int, default=256)
p.add_argument("--batch", type=int, default=4)
p.add_argument("--channels", type=int, required=True)
p.add_argument("--threads", type=int, default=2)
p.add_argument("--warmup", type=int, default=2)
p.add_argument("--steps", type=int, default=10)
a = p.parse_args()

tiles = np.fromfile(f"{a.saved}/tiles.u8", dtype=np.uint8).reshape(a.batch, a.tile, a.tile, a.channels)
norm = json.load(open(f"{a.saved}/normalization.json"))
scale = np.array([s for s, _ in norm["affine"]], dtype=np.float32)
offset = np.array([o for _, o in norm["affine"]], dtype=np.float32)
options = ort.SessionOptions()
options.intra_op_num_threads = a.threads
session = ort.InferenceSession(a.model, options, providers=["CPUExecutionProvider"])
name = session.get_inputs()[0].name


def predict(batch):
    x = batch.astype(np.float32) * scale + offset
    if norm["clip"] is not None:
        np.clip(x, norm["clip"][0], norm["clip"][1], out=x)
    x = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
    logits = session.run(None, {name: x})[0]
    return logits.argmax(axis=1).astype(np.uint8)


for _ in range(a.warmup):
    predict(tiles)
start = time.perf_counter()
for _ in range(a.steps):
    predict(tiles)
seconds = time.perf_counter() - start
print(json.dumps({"tiles_per_s": a.steps * a.batch / seconds, "onnxruntime": ort.__version__}))
