#!/usr/bin/env bash
# Everything a lent GPU machine should run, in one go (see ../shared/gpu/README.md for the wheels to carry):
#   WHEELS=dir-of-wheels RANDOM_MODEL=path/to/setup_random_model.py OUT=results-dir bash benchmarks/gpu_check.sh
# Installs the carried wheels into a local folder, gives the embedded spec random weights of its shape (the GGUF
# cannot travel), then runs the gpu-marked tests and the decoding benchmark, writing both reports to $OUT.
set -u
OUT=${OUT:-gpu-results}
mkdir -p "$OUT" .gpu-site
if [ -n "${WHEELS:-}" ]; then
  python -m pip install --no-index --no-deps --target .gpu-site "$WHEELS"/*.whl > "$OUT/install.log" 2>&1
fi
export PYTHONPATH="$PWD/.gpu-site:$PWD${PYTHONPATH:+:$PYTHONPATH}" HF_HUB_OFFLINE=1 LAB_HOME="$PWD/.gpu-home"
if [ -n "${RANDOM_MODEL:-}" ]; then
  python "$RANDOM_MODEL" --lab-home "$LAB_HOME" > "$OUT/random-model.log" 2>&1
fi
python -c "import torch; print(torch.__version__, torch.cuda.is_available(), torch.cuda.get_device_name(0) \
  if torch.cuda.is_available() else 'no GPU')" > "$OUT/device.txt" 2>&1
timeout 300 python -m pytest -q -m gpu -p no:cacheprovider > "$OUT/pytest-gpu.txt" 2>&1
timeout 400 python benchmarks/gpu_decode.py --out "$OUT/gpu_decode.json" > "$OUT/gpu_decode.txt" 2>&1
tail -n 3 "$OUT/pytest-gpu.txt" "$OUT/gpu_decode.txt"
