#!/usr/bin/env bash
# Few-step distillation of the bundled model (recipes/distill-fast.yaml) in one call on a lent GPU
# machine (see README.md beside this file): the teacher's trajectories are made on the GPU from the
# packed cache, then the adapters train until MINUTES of wall-clock training. Writes the adapter
# folder (float16) to $OUT/fast with its base set to ../default (copy it to audiodiff/pretrained/fast
# to bundle it), the Lightning logs (without checkpoints) to $OUT/logs and the console to
# $OUT/train.log. Settings (environment): TRAJECTORIES (training trajectories to make, default
# 20000), MINUTES (training, default 5), BATCH (default 96), CACHE (default cache/distill-pack, made
# by pack_distill_cache.py). Extra arguments go to the training CLI.
set -euo pipefail
# shellcheck source=recipes/gpu/setup.sh
source "$(dirname "$0")/setup.sh"
root=runs/gpu-fast
"$python" -m audiodiff.cli distill-fast fit --config recipes/distill-fast.yaml --data.cache "${CACHE:-cache/distill-pack}" \
  --data.trajectories "$root/trajectories" --data.train_trajectories "${TRAJECTORIES:-20000}" \
  --data.batch_size "${BATCH:-96}" --trainer.max_steps 100000 --trainer.max_time "00:$(hms "${MINUTES:-5}")" \
  --trainer.val_check_interval 500 --trainer.default_root_dir "$root" \
  --trainer.callbacks.init_args.dtype float16 --trainer.callbacks.init_args.out "$OUT/fast" "$@" 2>&1 | tee -a "$OUT/train.log"
"$python" - "$OUT/fast/config.json" <<'PY'
import json, sys
config = json.load(open(sys.argv[1]))
config["base"] = "../default"  # where it goes: audiodiff/pretrained/fast
json.dump(config, open(sys.argv[1], "w"), indent=2)
PY
copy_logs "$root" "$OUT/logs"
