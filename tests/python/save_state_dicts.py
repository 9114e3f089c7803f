#!/usr/bin/env python3
"""Write torch.save files (pickled state dicts and checkpoints) for the
weight-import tests, with reference outputs.

Usage: python save_state_dicts.py OUT_DIR

Writes into OUT_DIR:
  resnet18.pth            torchvision resnet18(weights=None) state dict, seed 0,
                          BatchNorm statistics made non-trivial
  resnet18_nested.pth     {"state_dict": {"module." + name: ...}, "epoch": 3},
                          taken from the channels_last model (non-contiguous
                          4-D weights)
  resnet18_half.pt        the same state dict with floating tensors as float16
  resnet18_ref.safetensors input (2, 3, 64, 64); f1..f5: the encoder features
                          (relu(bn1(conv1)), layer1..layer4) in eval mode;
                          h1..h5: the same for the float16-rounded weights
  unet_checkpoint.pt      a checkpoint as the Python extension writes it:
                          {"best_model_state": smp.Unet("resnet18",
                          in_channels=1, classes=2) state dict,
                          "model_state_dict": the last epoch's (other
                          values), "optimizer_state_dict": Adam's,
                          "training_config", "training_history"}
  unet_ref.safetensors    input (1, 1, 64, 64) and its eval logits
  tensors.pt              {"f32", "f16", "bf16", "f64", "i64", "transposed",
                          "offset_view", "shared_a", "shared_b", "scalar"}:
                          dtypes and strided views of shared storages
  tensors_ref.safetensors the same tensors, contiguous, f64 (i64 for i64)
  resnet34.pth            torchvision resnet34 state dict (wrong encoder)
  mobilenet_v2.pth        torchvision mobilenet_v2 state dict (wrong encoder)
  module.pt               torch.save of an nn.Module object (forbidden globals)
  evil.pt                 a pickle that would call os.system (must never run)
  script.pt               a TorchScript archive
"""
import os
import sys
from collections import OrderedDict

import torch
import torchvision
import segmentation_models_pytorch as smp
from safetensors.torch import save_file


def settle_bn(model, in_ch, seed):
    g = torch.Generator().manual_seed(seed)
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(2, in_ch, 64, 64, generator=g) * 1.5 + 0.2)
    model.eval()


def resnet_features(m, x):
    x = m.relu(m.bn1(m.conv1(x)))
    out = [x]
    x = m.maxpool(x)
    for layer in (m.layer1, m.layer2, m.layer3, m.layer4):
        x = layer(x)
        out.append(x)
    return out


class Evil:
    def __reduce__(self):
        return (os.system, ("touch " + os.path.join(sys.argv[1], "EXECUTED"),))


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    p = lambda name: os.path.join(out, name)
    torch.set_num_threads(1)

    # torchvision resnet18, plain, nested with module. prefixes, float16.
    torch.manual_seed(0)
    r18 = torchvision.models.resnet18(weights=None)
    settle_bn(r18, 3, 1)
    sd = r18.state_dict()
    torch.save(sd, p("resnet18.pth"))
    cl = r18.to(memory_format=torch.channels_last).state_dict()
    assert not cl["conv1.weight"].is_contiguous()
    torch.save({"state_dict": OrderedDict(("module." + k, v) for k, v in cl.items()), "epoch": 3}, p("resnet18_nested.pth"))
    r18 = r18.to(memory_format=torch.contiguous_format)
    half = {k: (v.half() if v.is_floating_point() else v) for k, v in sd.items()}
    torch.save(half, p("resnet18_half.pt"))
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    ref = {"input": x}
    with torch.no_grad():
        for i, f in enumerate(resnet_features(r18, x), 1):
            ref[f"f{i}"] = f.contiguous()
        r18h = torchvision.models.resnet18(weights=None)
        r18h.load_state_dict({k: (v.float() if v.is_floating_point() else v) for k, v in half.items()})
        r18h.eval()
        for i, f in enumerate(resnet_features(r18h, x), 1):
            ref[f"h{i}"] = f.contiguous()
    save_file(ref, p("resnet18_ref.safetensors"))

    # smp UNet checkpoint with optimizer state, after one training step.
    torch.manual_seed(0)
    unet = smp.Unet("resnet18", encoder_weights=None, in_channels=1, classes=2)
    opt = torch.optim.Adam(unet.parameters(), lr=1e-3)
    unet.train()
    g = torch.Generator().manual_seed(3)
    loss = unet(torch.randn(2, 1, 64, 64, generator=g)).square().mean()
    loss.backward()
    opt.step()
    settle_bn(unet, 1, 4)
    last = {k: (v * 1.5 if v.is_floating_point() else v) for k, v in unet.state_dict().items()}
    torch.save({
        "model_state_dict": last,
        "best_model_state": unet.state_dict(),
        "optimizer_state_dict": opt.state_dict(),
        "training_config": {"model_type": "unet", "architecture": {"backbone": "resnet18"},
                            "input_config": {"num_channels": 1}, "classes": ["Background", "Foreground"],
                            "tile_size": 64, "lr": 1e-3, "ok": True, "none": None},
        "training_history": [{"epoch": 1, "mean_iou": 0.5, "val_loss": 0.7}],
    }, p("unet_checkpoint.pt"))
    xu = torch.randn(1, 1, 64, 64, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        save_file({"input": xu, "expected": unet(xu).contiguous()}, p("unet_ref.safetensors"))

    # Dtypes and strided views.
    g = torch.Generator().manual_seed(6)
    base = torch.randn(5, 7, generator=g)
    shared = torch.randn(20, generator=g)
    tensors = {
        "f32": torch.randn(3, 4, generator=g),
        "f16": torch.randn(3, 4, generator=g).half(),
        "bf16": torch.randn(3, 4, generator=g).bfloat16(),
        "f64": torch.randn(3, 4, generator=g).double(),
        "i64": torch.arange(-6, 6).reshape(3, 4) * 1_000_000_007,
        "transposed": base.t(),
        "offset_view": base[1:4, 2:6:2],
        "shared_a": shared[3:11].view(2, 4),
        "shared_b": shared.view(4, 5)[:, 1::2].t(),
        "scalar": torch.tensor(2.5),
    }
    assert not tensors["transposed"].is_contiguous() and tensors["offset_view"].storage_offset() > 0
    torch.save(tensors, p("tensors.pt"))
    save_file({k: (v.long() if v.dtype == torch.int64 else v.double()).contiguous() for k, v in tensors.items()}, p("tensors_ref.safetensors"))

    # Wrong encoders and forbidden content.
    torch.save(torchvision.models.resnet34(weights=None).state_dict(), p("resnet34.pth"))
    torch.save(torchvision.models.mobilenet_v2(weights=None).state_dict(), p("mobilenet_v2.pth"))
    torch.save(torch.nn.Conv2d(1, 1, 1), p("module.pt"))
    torch.save({"state_dict": {"w": torch.zeros(2)}, "payload": Evil()}, p("evil.pt"))
    torch.jit.script(torch.nn.Conv2d(1, 1, 1)).save(p("script.pt"))
    print(f"wrote {len(os.listdir(out))} files to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
