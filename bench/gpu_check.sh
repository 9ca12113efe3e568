#!/usr/bin/env bash
# GPU figures for the README's Performance section (issue 12), in one run on one H100/H200: about 6-9 minutes.
#
# The GPU machines have no network and lack six wheels (their image has torch 2.11, numpy, scipy, safetensors,
# requests, tqdm, pytest). Download them here first, into .whl/ (git-ignored, about 51 MB), with:
#
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
#     --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d .whl \
#     pytorch-pretrained-biggan==0.1.1 boto3==1.44.8 botocore==1.44.8 s3transfer==0.19.3 jmespath==1.1.0 av==18.1.0 \
#     soundfile==0.13.1 cffi==2.0.0 pycparser==2.23
#
# then run, from the repository root on the GPU machine with .whl/ beside it (with the device tool: carry [".whl"],
# command "bash bench/gpu_check.sh", timeout_s 600):
#
#   bash bench/gpu_check.sh
#
# It installs the wheels into /tmp/site, runs the generator and video tests that matter on a GPU (the CUDA ones:
# pinned-memory path, compiled generator, on-GPU uint8), then bench/bench_render.py on biggan-deep-512 bfloat16,
# most important first (if the run is cut short, what ran is in $OUT):
#   1. compiled (the default on CUDA), batch 32, with a check of the frames against the library model (float32,
#      TF32 off): generator, raw PyAV encoder, whole render, VideoWriter vs raw PyAV, and the 3-minute song
#      (render_song of a synthesised 180 s song at 30 fps, weights read from a file, as `audiowalk render` does)
#   2. eager (compile off), batch 32: the same five figures
#   3. generator only: compiled at batch 128; compiled "reduce-overhead" (CUDA graphs) at 32; eager without the
#      fused up-sampling at 32 (nearest + 3x3 conv instead of one transposed conv: against 2, which cuDNN prefers)
#   4. HTDemucs separation speed per minute of audio (bench/bench_separation.py --device cuda)
# and prints a summary table last. Logs and JSON go to $OUT (the device tool's) or /tmp/gpu-check-out.
# GPU_CHECK_SMOKE=1 runs the same steps on the CPU with biggan-deep-128 and a few frames (to check the script).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-/tmp/gpu-check-out}"
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1

if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    || { echo "installing the wheels failed"; exit 1; }
  export PYTHONPATH="/tmp/site:$PWD${PYTHONPATH:+:$PYTHONPATH}"
else
  echo "no .whl/ folder: assuming pytorch-pretrained-biggan, boto3 and av are installed"
  export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
fi
export AUDIOWALK_COMPILE_CACHE="${AUDIOWALK_COMPILE_CACHE:-/tmp/audiowalk-compile-cache}"
python3 - <<'EOF' || exit 1
import av, torch, pytorch_pretrained_biggan  # noqa: F401
gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, GPU {gpu}, av {av.__version__}")
EOF
nvidia-smi --query-gpu=name,memory.total,clocks.sm,clocks.max.sm --format=csv,noheader || true
nproc

echo "== tests (the CUDA ones run here)"
python3 -m pytest -q -p no:cacheprovider tests/test_biggan.py tests/test_video.py \
  -k "cuda or compile or fused or uint8 or bfloat16 or colour or graph" 2>&1 | tail -n 15 | tee "$OUT/tests.log"

BENCH=(python3 bench/bench_render.py --device cuda --model biggan-deep-512 --dtype bfloat16)
SCALE=1 SONG=180 BATCH=32 BIG=128
if [ "${GPU_CHECK_SMOKE:-0}" = 1 ]; then
  BENCH=(python3 bench/bench_render.py --device cpu --model biggan-deep-128 --dtype bfloat16 --video-size 128)
  SCALE=40 SONG=2 BATCH=4 BIG=8
fi
echo "== 1. compiled: generator, encoder, whole render, Save Video, 3-minute song"
"${BENCH[@]}" --batch-size $BATCH --frames $(( 960 / SCALE )) --rounds 3 --compile on --check \
  --video-frames $(( 512 / SCALE )) --song-seconds $SONG --json "$OUT/compiled.json" 2>&1 | tee "$OUT/bench.log"
echo "== 2. eager"
"${BENCH[@]}" --batch-size $BATCH --frames $(( 640 / SCALE )) --rounds 2 --compile off \
  --video-frames $(( 256 / SCALE )) --json "$OUT/eager.json" 2>&1 | tee -a "$OUT/bench.log"
echo "== 3. generator variants"
for variant in "$BIG default" "$BATCH reduce-overhead" "$BATCH unfused-eager"; do
  set -- $variant
  extra=(--compile on)
  [ "$2" = "reduce-overhead" ] && extra+=(--compile-mode reduce-overhead)
  [ "$2" = "unfused-eager" ] && extra=(--compile off --no-fused-upsampling)
  "${BENCH[@]}" --batch-size "$1" --frames $(( $1 * 16 / SCALE + $1 )) --rounds 3 --parts generator "${extra[@]}" \
    --json "$OUT/generator-$1-$2.json" 2>&1 | tee -a "$OUT/bench.log"
done

echo "== 4. HTDemucs stem separation (issue 20): seconds per minute of audio on the GPU, random weights of htdemucs"
if [ "${GPU_CHECK_SMOKE:-0}" = 1 ]; then
  python3 bench/bench_separation.py --smoke 2>&1 | tee "$OUT/separation.log"
else
  python3 bench/bench_separation.py --device cuda --speed-seconds 120 --rounds 2 --minutes 1 --memory-model tiny \
    2>&1 | tee "$OUT/separation.log"
fi
echo "== summary (README: Performance, GPU)"
python3 - "$OUT" <<'EOF'
import json, sys
from pathlib import Path
out = Path(sys.argv[1])
rows = []
for path in sorted(out.glob("*.json")):
    figures = json.loads(path.read_text())
    medians = figures.get("medians", {})
    rows.append((path.stem, figures))
    print(f"{path.stem:28s} {figures['gpu']} {figures['dtype']} batch {figures['batch_size']:>3} "
          f"compile {figures['compile']} ({figures['compile_mode'] or 'default'}) compile_s {figures['compile_s']}"
          f"{' ERROR ' + figures['compile_error'] if figures.get('compile_error') else ''}")
    print("    frames/s: " + ", ".join(f"{name} {value:.1f}" for name, value in medians.items())
          + (f"; generator = {figures['generator_fraction_of_matmul']:.1%} of the measured "
             f"{figures['matmul_rate'] / 1e12:.0f} TFLOP/s ({figures['flops_per_frame'] / 1e9:.1f} GFLOP/frame)"
             if "generator_fraction_of_matmul" in figures else ""))
    for key in ("whole_over_min", "writer_over_raw", "writer_uint8_over_raw", "library_relative_error"):
        if key in figures:
            print(f"    {key} = {figures[key]:.3g}")
    if "song" in figures:
        song = figures["song"]
        print(f"    song render: {song['song_seconds']:.0f} s of music, {song['frames']} frames of {figures['model']}: "
              f"{song['wall_s']:.1f} s wall (target for 180 s at 512 px: <= 30 s)")
EOF
