#!/usr/bin/env python3
"""Export randomly initialised smp models for import tests.

Usage: python smp_state_dict.py OUT_DIR CASE [CASE ...]

Each CASE is ARCH:ENCODER:IN_CH:CLASSES[:SIZE] (ARCH an smp class name such
as Unet or DeepLabV3Plus; SIZE the input side, default 64). Case i builds
smp.ARCH(ENCODER, encoder_weights=None, in_channels=IN_CH, classes=CLASSES)
after torch.manual_seed(0), runs a few train-mode forward passes on random
data so BatchNorm running stats are non-trivial, switches to eval and writes
into OUT_DIR/i:
  state_dict.safetensors  the state_dict; floating tensors as float32,
                          num_batches_tracked kept as int64
  model.pth               torch.save(state_dict)
  io.safetensors          input (1, IN_CH, SIZE, SIZE) seeded randn, expected
                          (eval logits), both float32
One process serves all cases: starting Python and importing torch costs more
than most models.
"""
import os
import sys

import torch
import segmentation_models_pytorch as smp
from safetensors.torch import save_file


def export(arch: str, encoder: str, in_ch: int, classes: int, size: int, out_dir: str) -> None:
    torch.manual_seed(0)
    model = getattr(smp, arch)(encoder, encoder_weights=None, in_channels=in_ch, classes=classes)

    g = torch.Generator().manual_seed(1)
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(2, in_ch, size, size, generator=g) * 1.5 + 0.2)
    model.eval()

    x = torch.randn(1, in_ch, size, size, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        y = model(x).float()

    sd = {
        k: (v.float() if v.is_floating_point() else v).contiguous()
        for k, v in model.state_dict().items()
    }
    os.makedirs(out_dir, exist_ok=True)
    save_file(sd, os.path.join(out_dir, "state_dict.safetensors"))
    torch.save(model.state_dict(), os.path.join(out_dir, "model.pth"))
    save_file({"input": x.contiguous(), "expected": y.contiguous()},
              os.path.join(out_dir, "io.safetensors"))
    print(f"{arch} {encoder} c{in_ch} k{classes}: {len(sd)} tensors, logits {tuple(y.shape)} "
          f"max|logits|={y.abs().max().item():.6g} -> {out_dir}")


def main() -> int:
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    out_dir = sys.argv[1]
    for i, case in enumerate(sys.argv[2:]):
        parts = case.split(":")
        if len(parts) not in (4, 5):
            print(f"bad case '{case}'\n{__doc__}", file=sys.stderr)
            return 2
        size = int(parts[4]) if len(parts) == 5 else 64
        export(parts[0], parts[1], int(parts[2]), int(parts[3]), size, os.path.join(out_dir, str(i)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
