# Sourced by the scripts beside it, with `set -euo pipefail` on: checks $OUT, sets $python,
# moves to the repository root, installs the carried wheels (.whl/, fetch-wheels.sh) where the
# machine lacks them, puts the checkout on PYTHONPATH and prints the GPU it trains on.
: "${OUT:?set OUT to the folder that the device call brings back}"
python=${PYTHON:-python3}
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
if ! "$python" -c "import jsonargparse, soundfile" 2>/dev/null; then
  "$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl
  export PYTHONPATH="/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || echo "no nvidia-smi: training on $(nproc) CPU cores"
