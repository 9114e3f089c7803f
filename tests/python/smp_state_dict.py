#!/usr/bin/env python3
"""Export a randomly initialised smp model for import tests.

Usage: python smp_state_dict.py ENCODER IN_CH CLASSES OUT_DIR [ARCH [SIZE]]

Builds smp.ARCH(ENCODER, encoder_weights=None, in_channels=IN_CH,
classes=CLASSES) after torch.manual_seed(0) (ARCH an smp class name,
default Unet; SIZE the input side, default 64), runs a few train-mode forward
passes on random data so BatchNorm running stats are non-trivial, switches to
eval and writes into OUT_DIR:
  state_dict.safetensors  the state_dict; floating tensors as float32,
                          num_batches_tracked kept as int64
  model.pth               torch.save(state_dict)
  io.safetensors          input (1, IN_CH, SIZE, SIZE) seeded randn, expected
                          (eval logits), both float32
"""
import os
import sys

import torch
import segmentation_models_pytorch as smp
from safetensors.torch import save_file


def main() -> int:
    if len(sys.argv) not in (5, 6, 7):
        print(__doc__, file=sys.stderr)
        return 2
    encoder, in_ch, classes, out_dir = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    arch = sys.argv[5] if len(sys.argv) > 5 else "Unet"
    size = int(sys.argv[6]) if len(sys.argv) > 6 else 64
    torch.set_num_threads(1)
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
