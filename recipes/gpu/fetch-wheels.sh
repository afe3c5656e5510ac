#!/usr/bin/env bash
# Download, here, the wheels that the lent GPU machine lacks for vocoder training (its image has
# torch, torchaudio, lightning, numpy, safetensors and pyyaml, but not these), for its Python 3.12
# on x86-64, into .whl/ (git-ignored; carried by the device call). About 3 MB.
set -euo pipefail
cd "$(dirname "$0")/../.."
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  --platform any -d .whl \
  soundfile==0.14.0 cffi==2.1.1 pycparser==3.12 \
  jsonargparse==4.53.0 docstring-parser==0.18.0 typeshed-client==2.15.0
ls -l .whl
