#!/usr/bin/env bash
# A fine-tune of the bundled vocoder (vocoder-finetune.yaml beside this file, over recipes/vocoder.yaml
# and recipes/vocoder-finetune.yaml) on a lent GPU machine; see README.md beside this file. Writes
# the EMA vocoder (float32) to $OUT/vocoder, the Lightning logs (without checkpoints) to $OUT/logs
# and the console output to $OUT/train.log. Extra arguments go to the training CLI.
set -euo pipefail
# shellcheck source=recipes/gpu/setup.sh
source "$(dirname "$0")/setup.sh"
run=runs/vocoder-gpu
# the last callback of recipes/vocoder.yaml is its Export: float32 weights, written to $OUT/vocoder
"$python" -m audiodiff.cli train-vocoder --config recipes/vocoder.yaml --config recipes/vocoder-finetune.yaml \
  --config recipes/gpu/vocoder-finetune.yaml --trainer.default_root_dir "$run" \
  --trainer.callbacks.init_args.dtype float32 --trainer.callbacks.init_args.out "$OUT/vocoder" \
  "$@" 2>&1 | tee "$OUT/train.log"
mkdir -p "$OUT/logs"
tar -C "$run" --exclude='*.ckpt' -cf - lightning_logs | tar -C "$OUT/logs" -xf -
