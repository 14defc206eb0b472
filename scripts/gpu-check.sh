#!/bin/bash
# The GPU check of issue 11, in stages (../shared/docs/device.md explains the machine and its calls).
#
# Here, once:        bash scripts/gpu-check.sh prepare
#   bundles dist/gpu (the CLI, the tests, two helpers) and runs gpu-bundle.sh (.gpu/base, .gpu/cuda1…4).
# On the GPU machine, one `run` call per line, back to back (the machine keeps /opt/g while warm):
#   1  carry [".gpu/base", "dist/gpu"] bash scripts/gpu-check.sh setup
#   2  carry [".gpu/cuda1"]          bash scripts/gpu-check.sh part 1      (then parts 2, 3, 4)
#   3  bash scripts/gpu-check.sh cuda      pack install with our CLI, devices, goldens on CUDA in fp32
#                                          (TF32 off), half-precision numerics, node placement, train
#                                          and generate a bf16 checkpoint with --dtype auto  ~3 min
#   4  bash scripts/gpu-check.sh bench-1b  TinyLlama-1.1B shape, bf16: train / prefill / decode   ~4 min
#   5  bash scripts/gpu-check.sh bench-8b  Llama-3-8B shape, bf16: train (kept, replayed) / prefill / decode  ~9 min
#   6  bash scripts/gpu-check.sh webgpu    WebGPU provider on the same GPU: goldens, 1.1B fp16   ~5 min
#   (bench-1b-fp32: the 1.1B shape in fp32 with TF32 on and off, for the record)
# Each stage writes its results into $OUT (JSON from the CLI, test reports, steps.tsv with every
# command's exit code and seconds); a failing command is recorded and the stage goes on.
# Estimates are guesses until measured: size the calls to the device time you have (15 min in all).

set -uo pipefail
cd "$(dirname "$0")/.."
G=${GPU_CHECK_ROOT:-/opt/g} # (another folder only to rehearse the stages off the machine)
DATA=$G/data
MODELS=$G/models
OUT=${OUT:-$PWD/.gpu-out}
mkdir -p "$OUT"
CLI=(node dist/gpu/cli.mjs)

# step NAME OUTFILE CMD…: runs CMD with stdout to $OUT/OUTFILE (or nowhere: '-'), logs rc and time.
step() {
  local name=$1 file=$2
  shift 2
  local t0=$SECONDS rc
  echo "== $name: $*" >&2
  if [ "$file" = - ]; then "$@"; else "$@" > "$OUT/$file"; fi
  rc=$?
  printf '%s\t%s\t%ss\t%s\n' "$name" "$rc" "$((SECONDS - t0))" "$*" >> "$OUT/steps.tsv"
  [ "$rc" = 0 ] || echo "!! $name failed (exit $rc)" >&2
  return 0
}

device_env() {
  # Node, the carried node_modules (the bundles import onnxruntime-node and better-sqlite3 from
  # there), the machine's CUDA 13 libraries, the fixtures where the bundled tests look for them.
  source $G/setup.sh env
  ln -sfn $G/node_modules node_modules
  ln -sfn ../../tests/fixtures dist/gpu/fixtures
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader > "$OUT/gpu.txt" 2>&1
}

bench() { # bench NAME ARGS… → $OUT/NAME.json
  local name=$1
  shift
  step "$name" "$name.json" "${CLI[@]}" bench "$@" --data-dir "$DATA" --json
}

case "${1:-}" in
  prepare)
    node scripts/build-gpu-check.js || exit 1
    SHARED=../shared
    [ -d "$SHARED/tools" ] || SHARED=../../shared
    # gpu-bundle.sh writes .git/info/exclude, which is not a folder in a git worktree: point it at
    # the repository's real exclude file.
    EXCLUDE=$(git rev-parse --git-path info/exclude)
    mkdir -p "$(dirname "$EXCLUDE")"
    sed "s#\.git/info/exclude#$EXCLUDE#g" "$SHARED/tools/gpu-bundle.sh" > .tmp-gpu-bundle.sh
    bash .tmp-gpu-bundle.sh onnxruntime-node onnxruntime-common better-sqlite3 bindings file-uri-to-path || exit 1
    rm -f .tmp-gpu-bundle.sh
    du -sh .gpu/* dist/gpu
    echo "next: the device calls listed at the top of scripts/gpu-check.sh"
    ;;
  setup)
    bash .gpu/base/setup.sh base
    ;;
  part)
    bash $G/setup.sh part "$2"
    ;;
  cuda)
    device_env
    # The providers from the carried parts, installed by our own installer (not setup.sh cuda).
    mkdir -p $G/cuda-ep && tar xJf $G/cuda.tar.xz -C $G/cuda-ep
    step runtime-install runtime-install.json "${CLI[@]}" runtime install cuda --from $G/cuda-ep --data-dir "$DATA" --json
    step runtime-list runtime-list.json "${CLI[@]}" runtime list --data-dir "$DATA" --json
    # Our own search for CUDA/cuDNN (pip's nvidia packages) without setup.sh's LD_LIBRARY_PATH:
    step devices-own-search devices-own-search.json env -u LD_LIBRARY_PATH "${CLI[@]}" devices --data-dir "$DATA" --json
    step devices devices.json "${CLI[@]}" devices --data-dir "$DATA" --json
    # Processes other than the CLI get the pack's environment the way the studio's launcher does.
    eval "$("${CLI[@]}" runtime env --data-dir "$DATA")"
    T=(node --test --test-concurrency=1 --test-reporter=spec)
    step goldens-cuda-fp32 goldens-cuda-fp32.txt env NVIDIA_TF32_OVERRIDE=0 REFT_STUDIO_DEVICE=cuda \
      REFT_STUDIO_REQUIRE_DEVICE=1 "${T[@]}" dist/gpu/tests/forward.test.mjs dist/gpu/tests/reft-parity.test.mjs \
      dist/gpu/tests/chunked-decoding.test.mjs
    step half-cuda half-cuda.txt env NVIDIA_TF32_OVERRIDE=0 REFT_STUDIO_DEVICE=cuda REFT_STUDIO_REQUIRE_DEVICE=1 \
      "${T[@]}" dist/gpu/tests/half-precision.test.mjs
    for dt in fp32 bf16; do
      step "placement-cuda-$dt" "placement-cuda-$dt.json" node dist/gpu/placement.mjs tests/fixtures/golden/models/llama cuda $dt
    done
    # The user's path with a bf16 checkpoint: --dtype auto must compute in bfloat16 on CUDA (the JSON
    # stream logs "computing in bfloat16"), train, and generate.
    printf '{"prompt":"Q: %s","completion":" yes"}\n' a b c d e f g h > $G/tiny.jsonl
    B16=tests/fixtures/golden/models/llama-bf16
    step train-bf16-auto-cuda train-bf16-auto-cuda.json "${CLI[@]}" train --model $B16 --data $G/tiny.jsonl \
      --layers 1 --positions l1 --rank 2 --max-steps 6 --batch-size 4 --device cuda --data-dir "$DATA" --json
    step generate-bf16-auto-cuda generate-bf16-auto-cuda.json "${CLI[@]}" generate --model $B16 --prompt hi \
      --greedy --max-new-tokens 8 --device cuda --data-dir "$DATA" --json
    ;;
  bench-1b)
    device_env
    M=$MODELS/tinyllama-bf16
    step build-1b-bf16 build-1b-bf16.txt node dist/gpu/build-model.mjs tinyllama-1.1b bf16 $M
    S=(--model $M --dtype bf16 --device cuda)
    # anchors.md row 1: all 22 layers, f5+l5 untied, rank 8, batch 8 × 512 (prompt 256)
    bench train-1b-bf16-cuda train "${S[@]}" --layers all --positions f5+l5 --rank 8 --batch 8 --seq 512 --prompt 256 --steps 5
    # row 2: layer 15 only, l1, rank 4
    bench train-1b-l15-bf16-cuda train "${S[@]}" --layers 15 --positions l1 --rank 4 --batch 8 --seq 512 --prompt 256 --steps 5
    bench prefill-1b-bf16-cuda prefill "${S[@]}" --batch 8 --seq 512 --steps 5
    for c in 1 8 32; do
      bench "decode-1b-bf16-cuda-c$c" decode "${S[@]}" --prompt 32 --new-tokens 256 --chunk $c
    done
    step placement-cuda-bf16-1b placement-cuda-bf16-1b.json node dist/gpu/placement.mjs $M cuda bf16
    ;;
  bench-1b-fp32)
    device_env
    M=$MODELS/tinyllama-fp32
    step build-1b-fp32 build-1b-fp32.txt node dist/gpu/build-model.mjs tinyllama-1.1b fp32 $M
    S=(--model $M --device cuda --layers all --positions f5+l5 --rank 8 --batch 8 --seq 512 --prompt 256 --steps 5)
    bench train-1b-fp32-tf32-cuda train "${S[@]}"
    NVIDIA_TF32_OVERRIDE=0 bench train-1b-fp32-notf32-cuda train "${S[@]}"
    ;;
  bench-8b)
    device_env
    M=$MODELS/llama3-8b-bf16
    step build-8b-bf16 build-8b-bf16.txt node dist/gpu/build-model.mjs llama3-8b bf16 $M
    S=(--model $M --dtype bf16 --device cuda)
    # anchors.md row 3: all 32 layers, f7+l7 untied, rank 8, batch 4 × 512; peak GPU memory ≤ 32.5 GiB
    bench train-8b-bf16-cuda train "${S[@]}" --layers all --positions f7+l7 --rank 8 --batch 4 --seq 512 --prompt 256 --steps 3
    # The same with every layer replayed in the backward (training/recompute.ts decides by the GPU's
    # memory and the run's batch: ~6.2 GB of bf16 activations beside 16 GB of weights fit 80/141 GB, so
    # off above): the memory side of the trade, ~+50% time on CPU.
    REFT_STUDIO_RECOMPUTE=1 bench train-8b-bf16-cuda-replay train "${S[@]}" --layers all --positions f7+l7 --rank 8 --batch 4 --seq 512 --prompt 256 --steps 3
    bench prefill-8b-bf16-cuda prefill "${S[@]}" --batch 4 --seq 512 --steps 3
    bench decode-8b-bf16-cuda-c8 decode "${S[@]}" --prompt 32 --new-tokens 128 --chunk 8
    ;;
  webgpu)
    device_env
    bash $G/setup.sh webgpu
    step devices-webgpu devices-webgpu.json "${CLI[@]}" devices --data-dir "$DATA" --json
    T=(node --test --test-concurrency=1 --test-reporter=spec)
    step goldens-webgpu-fp32 goldens-webgpu-fp32.txt env REFT_STUDIO_DEVICE=webgpu REFT_STUDIO_REQUIRE_DEVICE=1 \
      "${T[@]}" dist/gpu/tests/forward.test.mjs dist/gpu/tests/reft-parity.test.mjs dist/gpu/tests/webgpu.test.mjs
    step half-webgpu half-webgpu.txt env REFT_STUDIO_DEVICE=webgpu "${T[@]}" dist/gpu/tests/half-precision.test.mjs
    M=$MODELS/tinyllama-fp16
    step build-1b-fp16 build-1b-fp16.txt node dist/gpu/build-model.mjs tinyllama-1.1b fp16 $M
    S=(--model $M --dtype fp16 --device webgpu)
    bench train-1b-fp16-webgpu train "${S[@]}" --layers all --positions f5+l5 --rank 8 --batch 8 --seq 512 --prompt 256 --steps 3
    bench prefill-1b-fp16-webgpu prefill "${S[@]}" --batch 8 --seq 512 --steps 3
    bench decode-1b-fp16-webgpu decode "${S[@]}" --prompt 32 --new-tokens 128
    step placement-webgpu-fp16-1b placement-webgpu-fp16-1b.json node dist/gpu/placement.mjs $M webgpu fp16
    ;;
  all)
    for s in cuda bench-1b bench-8b webgpu; do bash "$0" "$s"; done
    ;;
  *)
    sed -n '2,20p' "$0"
    exit 2
    ;;
esac
