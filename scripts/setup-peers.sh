#!/usr/bin/env bash
# Installs the peers slimgo's tests compare against, if missing:
#   - Debian: python3-torch, python3-torchvision, python3-onnx (fixtures made by
#     PyTorch), python3-sklearn (clustering benchmark), dataset-fashion-mnist
#     (full data set for the accuracy checks);
#   - npm: onnxruntime-node in tools/ort (installed with --ignore-scripts; its
#     CPU library ships inside the package).
# Idempotent and quiet; set SLIMGO_NO_INSTALL=1 to skip (tests that need a
# missing peer then say so and skip).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "${SLIMGO_NO_INSTALL:-}" = 1 ] && exit 0

pkgs=()
/usr/bin/python3 -I -c 'import torch, torchvision' 2>/dev/null || pkgs+=(python3-torch python3-torchvision)
/usr/bin/python3 -I -c 'import onnx' 2>/dev/null || pkgs+=(python3-onnx)
/usr/bin/python3 -I -c 'import sklearn' 2>/dev/null || pkgs+=(python3-sklearn)
[ -d /usr/share/datasets/fashion-mnist ] || pkgs+=(dataset-fashion-mnist)
if [ ${#pkgs[@]} -gt 0 ] && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  echo "setup: installing Debian packages: ${pkgs[*]}" >&2
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}" >/dev/null
fi

if command -v npm >/dev/null && [ -f tools/ort/package.json ] && [ ! -d tools/ort/node_modules/onnxruntime-node ]; then
  echo "setup: installing onnxruntime-node in tools/ort" >&2
  (cd tools/ort && npm install --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
fi
