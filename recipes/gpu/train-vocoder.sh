#!/usr/bin/env bash
# A fine-tune of the bundled vocoder (vocoder-finetune.yaml beside this file, over recipes/vocoder.yaml
# and recipes/vocoder-finetune.yaml) on a lent GPU machine; see README.md beside this file. Writes
# the EMA vocoder (float32) to $OUT/vocoder, the Lightning logs (without checkpoints) to $OUT/logs
# and the console output to $OUT/train.log. Extra arguments go to the training CLI.
set -euo pipefail
: "${OUT:?set OUT to the folder that the device call brings back}"
python=${PYTHON:-python3}
cd "$(dirname "$0")/../.."
if ! "$python" -c "import jsonargparse, soundfile" 2>/dev/null; then
  "$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl
  export PYTHONPATH="/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || echo "no nvidia-smi: training on $(nproc) CPU cores"
run=runs/vocoder-gpu
# the last callback of recipes/vocoder.yaml is its Export: float32 weights, written to $OUT/vocoder
"$python" -m audiodiff.cli train-vocoder --config recipes/vocoder.yaml --config recipes/vocoder-finetune.yaml \
  --config recipes/gpu/vocoder-finetune.yaml --trainer.default_root_dir "$run" \
  --trainer.callbacks.init_args.dtype float32 --trainer.callbacks.init_args.out "$OUT/vocoder" \
  "$@" 2>&1 | tee "$OUT/train.log"
mkdir -p "$OUT/logs"
tar -C "$run" --exclude='*.ckpt' -cf - lightning_logs | tar -C "$OUT/logs" -xf -
