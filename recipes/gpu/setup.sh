# Sourced by the scripts beside it, with `set -euo pipefail` on: checks $OUT, sets $python,
# moves to the repository root, installs the carried wheels (.whl/, fetch-wheels.sh) where the
# machine lacks them, puts the checkout on PYTHONPATH and prints the GPU it trains on. Defines
# hms MINUTES (Lightning's HH:MM:SS) and copy_logs RUN DEST (a run's logs, without checkpoints).
: "${OUT:?set OUT to the folder that the device call brings back}"
python=${PYTHON:-python3}
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
if ! "$python" -c "import jsonargparse, soundfile" 2>/dev/null; then
  "$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl
  export PYTHONPATH="/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || echo "no nvidia-smi: training on $(nproc) CPU cores"
hms() { "$python" -c "import sys; s = round(float(sys.argv[1]) * 60); print(f'{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}')" "$1"; }
copy_logs() { mkdir -p "$2" && tar -C "$1" --exclude='*.ckpt' -cf - logs | tar -C "$2" -xf -; }
