#!/usr/bin/env bash
# Idempotent installer for native and test dependencies, cached outside the clone.
# Usage: scripts/deps.sh [libtorch|onnxruntime|python|system|all]
# Prints nothing but progress; re-running is cheap once the cache is filled.
set -euo pipefail

CACHE="${DLC_CACHE:-$HOME/.cache/dlclassifier}"
TORCH_VERSION=2.11.0
CUDART_VERSION=13.0.96
CUPTI_VERSION=13.0.85
ORT_VERSION=1.31.0
ONNX_VERSION=1.23.2
LIBTORCH="$CACHE/libtorch-$TORCH_VERSION"
ONNXRUNTIME="$CACHE/onnxruntime-$ORT_VERSION"
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

# Debian packages the scripts and the Java build (gradle -p java) need.
install_system() {
  local missing=()
  command -v unzip >/dev/null || missing+=(unzip)
  command -v javac >/dev/null || missing+=(default-jdk-headless)
  command -v gradle >/dev/null || missing+=(gradle)
  command -v groovy >/dev/null || missing+=(groovy)
  [ -d /usr/share/maven-repo/junit/junit ] || missing+=(junit4)
  [ ${#missing[@]} = 0 ] && return 0
  log "installing ${missing[*]} (Debian)"
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq "${missing[@]}" >&2
  else sudo apt-get update -qq && sudo apt-get install -y -qq "${missing[@]}" >&2; fi
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

# libonnxruntime.so for ort's load-dynamic, taken from the PyPI wheel.
install_onnxruntime() {
  [ -f "$ONNXRUNTIME/.complete" ] && return 0
  install_system
  log "installing libonnxruntime $ORT_VERSION into $ONNXRUNTIME"
  local tmp="$ONNXRUNTIME.tmp.$$"
  rm -rf "$tmp"; mkdir -p "$tmp/lib"
  unzip -q -j "$(wheel "onnxruntime==$ORT_VERSION")" "onnxruntime/capi/libonnxruntime.so.$ORT_VERSION" \
    'onnxruntime/capi/libonnxruntime_providers_shared.so' -d "$tmp/lib"
  ln -s "libonnxruntime.so.$ORT_VERSION" "$tmp/lib/libonnxruntime.so"
  rm -rf "$ONNXRUNTIME"
  touch "$tmp/.complete"
  mv "$tmp" "$ONNXRUNTIME"
}

# Python torch + segmentation_models_pytorch and the geometry references: used only by tests and benchmarks
# that compare our engine with the Python stack it replaces.
# The stamp holds the package list, so adding a package upgrades an existing venv.
install_python() {
  local packages="torch==$TORCH_VERSION torchvision==0.26.0 segmentation-models-pytorch==0.5.0"
  packages+=" onnx==$ONNX_VERSION onnxruntime==$ORT_VERSION numpy safetensors pillow tifffile"
  # Objects are checked against shapely and scikit-image, and benchmarked against OpenCV.
  packages+=" shapely==2.2.0 scikit-image==0.26.0 opencv-python-headless==5.1.0.95"
  [ -f "$VENV/.complete" ] && [ "$(cat "$VENV/.complete")" = "$packages" ] && return 0
  log "preparing Python test environment in $VENV ($packages)"
  [ -x "$VENV/bin/pip" ] || python3 -m venv "$VENV"
  local torch_whl ort_whl
  torch_whl=$(wheel "torch==$TORCH_VERSION")
  ort_whl=$(wheel "onnxruntime==$ORT_VERSION")
  # shellcheck disable=SC2086
  "$VENV/bin/pip" install -q --disable-pip-version-check "$torch_whl" "$ort_whl" $packages >&2
  echo "$packages" > "$VENV/.complete"
}

case "${1:-all}" in
  libtorch) install_libtorch; echo "$LIBTORCH" ;;
  onnxruntime) install_onnxruntime; echo "$ONNXRUNTIME" ;;
  python) install_python; echo "$VENV" ;;
  all) install_system; install_libtorch; install_onnxruntime; install_python ;;
  system) install_system ;;
  *) echo "usage: $0 [libtorch|onnxruntime|python|system|all]" >&2; exit 2 ;;
esac
