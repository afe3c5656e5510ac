#!/usr/bin/env bash
# Guidance distillation of the bundled model and then progressive distillation 25 -> 13 -> 7 -> 4
# steps, in one call on a lent GPU machine (see README.md beside this file). Each stage's teacher is
# the previous stage's export. Writes each stage's exported model (float16) to $OUT/<stage>, its
# Lightning logs (without checkpoints) to $OUT/logs/<stage> and the console output to $OUT/train.log.
# Settings (environment): STAGE_MINUTES (wall-clock minutes per stage, default "2.5 2 2 2"), ROUNDS
# (the progressive students' steps, default "13 7 4"), BATCH (default 128), CACHE (default
# cache/distill-pack, made by pack_distill_cache.py). Extra arguments go to every stage's CLI.
set -euo pipefail
# shellcheck source=recipes/gpu/setup.sh
source "$(dirname "$0")/setup.sh"
read -r -a minutes <<< "${STAGE_MINUTES:-2.5 2 2 2}"
read -r -a rounds <<< "${ROUNDS:-13 7 4}"
cache=${CACHE:-cache/distill-pack}
root=runs/gpu-distill
stage() {  # stage NAME COMMAND RECIPE MINUTES ARGS...: one run, exported to $OUT/NAME
  local name=$1 command=$2 recipe=$3 limit=$4
  shift 4
  echo "== $name: $command $recipe, $limit min" | tee -a "$OUT/train.log"
  "$python" -m audiodiff.cli "$command" fit --config "$recipe" --data.cache "$cache" \
    --data.batch_size "${BATCH:-128}" --data.val_batches 1 --trainer.max_steps 100000 \
    --trainer.max_time "00:$(hms "$limit")" --trainer.val_check_interval 1000000 \
    --trainer.default_root_dir "$root/$name" --trainer.callbacks.init_args.dtype float16 \
    --trainer.callbacks.init_args.out "$OUT/$name" "$@" 2>&1 | tee -a "$OUT/train.log"
  copy_logs "$root/$name" "$OUT/logs/$name"
}
stage guidance distill recipes/distill-guidance.yaml "${minutes[0]}" "$@"
teacher="$OUT/guidance"
for i in "${!rounds[@]}"; do
  steps=${rounds[$i]}
  stage "steps-$steps" distill-steps recipes/distill-steps.yaml "${minutes[$((i + 1))]:-2}" \
    --model.teacher "$teacher" --model.steps "$steps" "$@"
  teacher="$OUT/steps-$steps"
done
