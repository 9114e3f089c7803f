#!/usr/bin/env bash
# Idempotent installer for native and test dependencies, cached outside the clone.
# Usage: scripts/deps.sh [libtorch|python|system|all]
# Prints nothing but progress; re-running is cheap once the cache is filled.
set -euo pipefail

CACHE="${DLC_CACHE:-$HOME/.cache/dlclassifier}"
TORCH_VERSION=2.11.0
CUDART_VERSION=13.0.96
CUPTI_VERSION=13.0.85
LIBTORCH="$CACHE/libtorch-$TORCH_VERSION"
VENV="$CACHE/venv-torch-$TORCH_VERSION"
WHEELS="$CACHE/wheels"

log() { echo "[deps] $*" >&2; }

wheel() { # wheel NAME==VERSION -> path of the downloaded wheel
  local spec=$1 name=${1%%==*}
  local glob="${name//-/_}-${spec##*==}-*.whl"
  local found
  found=$(ls "$WHEELS"/$glob 2>/dev/null | head -n1 || true)
  if [ -z "$found" ]; then
    mkdir -p "$WHEELS"
    log "downloading $spec"
    python3 -m pip download -q --no-deps --only-binary=:all: -d "$WHEELS" "$spec" >&2
    found=$(ls "$WHEELS"/$glob | head -n1)
  fi
  echo "$found"
}

# Debian packages the scripts themselves need.
install_system() {
  command -v unzip >/dev/null && return 0
  log "installing unzip (Debian)"
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq unzip >&2
  else sudo apt-get update -qq && sudo apt-get install -y -qq unzip >&2; fi
}

install_libtorch() {
  [ -f "$LIBTORCH/.complete" ] && return 0
  install_system
  log "installing trimmed libtorch $TORCH_VERSION into $LIBTORCH"
  local tmp="$LIBTORCH.tmp.$$"
  rm -rf "$tmp"; mkdir -p "$tmp/unpack" "$tmp/lib"
  local torch_whl cudart_whl cupti_whl
  torch_whl=$(wheel "torch==$TORCH_VERSION")
  cudart_whl=$(wheel "nvidia-cuda-runtime==$CUDART_VERSION")
  cupti_whl=$(wheel "nvidia-cuda-cupti==$CUPTI_VERSION")
  # Only the CPU runtime and headers: libtorch_cuda and its CUDA libraries are
  # picked up from a full install at run time when a GPU is used.
  unzip -q "$torch_whl" 'torch/include/*' 'torch/lib/libtorch_cpu.so' 'torch/lib/libc10.so' \
    'torch/lib/libtorch.so' 'torch/lib/libgomp*' -d "$tmp/unpack"
  mv "$tmp/unpack/torch/include" "$tmp/include"
  mv "$tmp/unpack/torch/lib/"* "$tmp/lib/"
  unzip -q -j "$cudart_whl" '*/libcudart.so.13' -d "$tmp/lib"
  unzip -q -j "$cupti_whl" '*/libcupti.so.13' -d "$tmp/lib"
  echo "$TORCH_VERSION" > "$tmp/build-version"
  rm -rf "$tmp/unpack" "$LIBTORCH"
  touch "$tmp/.complete"
  mv "$tmp" "$LIBTORCH"
}

# Python torch + segmentation_models_pytorch: used only by tests and benchmarks
# that compare our engine with the Python stack it replaces.
install_python() {
  [ -f "$VENV/.complete" ] && return 0
  log "creating Python test environment in $VENV (torch $TORCH_VERSION, smp)"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check \
    "$(wheel "torch==$TORCH_VERSION")" \
    "torchvision==0.26.0" "segmentation-models-pytorch==0.5.0" \
    numpy safetensors pillow tifffile >&2
  touch "$VENV/.complete"
}

case "${1:-all}" in
  libtorch) install_libtorch; echo "$LIBTORCH" ;;
  python) install_python; echo "$VENV" ;;
  all) install_libtorch; install_python ;;
  system) install_system ;;
  *) echo "usage: $0 [libtorch|python|all]" >&2; exit 2 ;;
esac
