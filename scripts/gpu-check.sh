#!/bin/bash
# The GPU check of issue 11, in stages (../shared/docs/device.md explains the machine and its calls).
#
# Here, once:        bash scripts/gpu-check.sh prepare
#   bundles dist/gpu (the CLI, the tests, two helpers) and runs gpu-bundle.sh (.gpu/base, .gpu/cuda1…4).
# On the GPU machine, one `run` call per line, back to back (the machine keeps /opt/g while warm),
# in order of what issue 11 needs most; 15 minutes of device time in all, the machine's start included:
#   1  carry [".gpu/base", "dist/gpu"] bash scripts/gpu-check.sh setup
#   2  carry [".gpu/cuda1"]          bash scripts/gpu-check.sh part 1      (then parts 2, 3, 4)
#   3  bash scripts/gpu-check.sh core      pack install with our CLI, devices, goldens on CUDA in fp32
#                                          (TF32 off), the anchors' rows 1 and 3 (1.1B and 8B training in
#                                          bf16) and 1.1B greedy decoding (fused step and
#                                          general decoder)                                ~5 min?
#   4  bash scripts/gpu-check.sh cuda      half-precision numerics (the fused step's too), node placement,
#                                          train and generate a bf16 checkpoint with --dtype auto (and
#                                          with automatic 8-bit weights on a "small" GPU), GPU
#                                          choice                                          ~2 min?
#   5  bash scripts/gpu-check.sh bench-1b  the rest at the 1.1B shape: row 2, prefill, decode chunks 1/8/32,
#                                          q/k/v unstacked, an int8 base in bf16, fp16 decoding
#   6  bash scripts/gpu-check.sh bench-8b  the rest at the 8B shape: replayed layers, weights in ORT's
#                                          arena (its default), prefill, decode
#   7  bash scripts/gpu-check.sh webgpu    WebGPU provider on the same GPU: goldens, 1.1B fp16
#   (bench-1b-fp32: the 1.1B shape in fp32 with TF32 on and off, for the record)
# Before spending device time: `bash scripts/gpu-check.sh rehearse` runs setup, the parts and every
# CUDA stage (core, cuda, bench-1b, bench-8b) here, without a GPU (a stage that dies before its
# summary shows up there). The last part (≤ 25 MB) fits in
# the core call: `bash scripts/gpu-check.sh part 4 && timeout 500 bash scripts/gpu-check.sh core`.
# A stage installs the pack if an earlier call on the same warm machine has not.
# On any Linux machine with an NVIDIA GPU and this repository installed (`npm ci`), one command:
#   bash scripts/gpu-check.sh local
#   builds dist/gpu, installs the CUDA runtime pack with our CLI (online from NuGet, or CUDA_PACK=FILE|DIR
#   for a downloaded .nupkg/.tgz or a folder of providers), then runs every stage (`all`) in
#   .gpu-local/ (GPU_CHECK_ROOT puts the 2–16 GB models elsewhere); results in .gpu-out/.
#   CUDA and cuDNN come from the machine (toolkit, pip's nvidia-* wheels, ldconfig), WebGPU's Vulkan too.
# Each stage writes its results into $OUT/STAGE/ (JSON from the CLI, test reports, steps.tsv with
# every command's exit code and seconds) and prints a line per command (scripts/gpu/summary.mjs); a
# failing command is recorded and the stage goes on. On the GPU test machine, which returns at most 8
# files of $OUT, the folder comes back as $OUT/STAGE.tgz beside STAGE.summary.txt.
# Times are guesses until measured: size the calls to the device time `status` reports.

set -uo pipefail
cd "$(dirname "$0")/.."
# /opt/g on the GPU test machine (setup.sh's folder); another folder to run locally or rehearse.
if [ "${1:-}" = local ]; then G=${GPU_CHECK_ROOT:-$PWD/.gpu-local}; else G=${GPU_CHECK_ROOT:-/opt/g}; fi
DATA=$G/data
MODELS=$G/models
OUT=${OUT:-$PWD/.gpu-out}
R=$OUT/${1:-none} # this stage's results
CLI=(node dist/gpu/cli.mjs)

# step NAME OUTFILE CMD…: runs CMD with stdout to $R/OUTFILE (or nowhere: '-') and stderr to the
# console and $R/NAME.err, logs rc and time.
step() {
  local name=$1 file=$2
  shift 2
  local t0=$SECONDS rc
  echo "== $name: $*" >&2
  if [ "$file" = - ]; then "$@" 2> >(tee "$R/$name.err" >&2); else "$@" > "$R/$file" 2> >(tee "$R/$name.err" >&2); fi
  rc=$?
  printf '%s\t%s\t%ss\t%s\n' "$name" "$rc" "$((SECONDS - t0))" "$*" >> "$R/steps.tsv"
  [ "$rc" = 0 ] || echo "!! $name failed (exit $rc)" >&2
  return 0
}

# At a stage's end: a line per step on stdout (and in STAGE.summary.txt); on the GPU test machine the
# stage's folder packed into one file.
end_stage() {
  node scripts/gpu/summary.mjs "$R" > "$R.summary.txt"
  cat "$R.summary.txt"
  if [ -f $G/setup.sh ]; then tar czf "$R.tgz" -C "$OUT" "$(basename "$R")" && rm -rf "$R"; fi
}

device_env() {
  # On the GPU test machine: Node, the carried node_modules (the bundles import onnxruntime-node and
  # better-sqlite3 from there), the machine's CUDA 13 libraries. Locally: the repository's own.
  # Both: the fixtures where the bundled tests look for them.
  if [ -f $G/setup.sh ]; then
    source $G/setup.sh env
    set +e # setup.sh runs under set -e, which sourcing leaks into this shell: a failing step would end the stage
    ln -sfn $G/node_modules node_modules
  fi
  rm -rf "$R" && mkdir -p "$DATA" "$MODELS" "$R"
  ln -sfn ../../tests/fixtures dist/gpu/fixtures
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader > "$R/gpu.txt" 2>&1
  trap end_stage EXIT
}

bench() { # bench NAME ARGS… → $R/NAME.json
  local name=$1
  shift
  # A provider that does not start fails the bench instead of timing the CPU under a GPU's name.
  step "$name" "$name.json" env REFT_STUDIO_REQUIRE_DEVICE=1 "${CLI[@]}" bench "$@" --data-dir "$DATA" --json
}

T=(node --test --test-concurrency=1 --test-reporter=spec)

# The CUDA runtime pack, installed by our own installer (not setup.sh cuda) once per machine: from the
# carried parts on the GPU test machine, else CUDA_PACK, else online. Then the pack's environment for
# the processes that are not our CLI (the CLI restarts itself under it), as the studio's launcher does.
cuda_pack() {
  if ! "${CLI[@]}" runtime list --data-dir "$DATA" --json 2>/dev/null | grep -q '"name":"cuda"'; then
    if [ -f $G/cuda.tar.xz ]; then
      mkdir -p $G/cuda-ep && tar xJf $G/cuda.tar.xz -C $G/cuda-ep
      FROM=(--from $G/cuda-ep)
    elif [ -n "${CUDA_PACK:-}" ]; then FROM=(--from "$CUDA_PACK"); else FROM=(); fi
    step runtime-install runtime-install.json "${CLI[@]}" runtime install cuda "${FROM[@]}" --data-dir "$DATA" --json
    # Should our installer refuse, the providers beside libonnxruntime.so still let the figures come
    # (the engine finds them there); the install's error is in runtime-install.json.
    if [ -f $G/setup.sh ] && ! "${CLI[@]}" runtime list --data-dir "$DATA" --json | grep -q '"name":"cuda"'; then
      step provider-beside-ort - bash $G/setup.sh cuda
    fi
  fi
  eval "$("${CLI[@]}" runtime env --data-dir "$DATA")"
}

# A synthetic model of a published shape, written once per machine: model 1b|8b DTYPE sets M.
model() {
  local name
  name=$([ "$1" = 8b ] && echo llama3-8b || echo tinyllama-1.1b)
  M=$MODELS/$name-$2
  [ -d "$M" ] || step "build-$1-$2" "build-$1-$2.txt" node dist/gpu/build-model.mjs "$name" "$2" "$M"
}

# The anchors' workloads (../shared/docs/anchors.md).
ROW1=(--layers all --positions f5+l5 --rank 8 --batch 8 --seq 512 --prompt 256) # 1.1B, all 22 layers
ROW2=(--layers 15 --positions l1 --rank 4 --batch 8 --seq 512 --prompt 256)     # 1.1B, layer 15 only
ROW3=(--layers all --positions f7+l7 --rank 8 --batch 4 --seq 512 --prompt 256) # 8B: ≤ 32.5 GiB on the GPU

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
  core)
    device_env
    cuda_pack
    step runtime-list runtime-list.json "${CLI[@]}" runtime list --data-dir "$DATA" --json
    step devices devices.json "${CLI[@]}" devices --data-dir "$DATA" --json
    # The headline figures first (a call that runs out of time still brings them back), then fidelity.
    model 1b bf16
    bench train-1b-bf16-cuda train --model $M --dtype bf16 --device cuda "${ROW1[@]}" --steps 5
    bench decode-1b-bf16-cuda decode --model $M --dtype bf16 --device cuda --prompt 32 --new-tokens 256
    M1=$M
    model 8b bf16
    bench train-8b-bf16-cuda train --model $M --dtype bf16 --device cuda "${ROW3[@]}" --steps 3
    step goldens-cuda-fp32 goldens-cuda-fp32.txt env NVIDIA_TF32_OVERRIDE=0 REFT_STUDIO_DEVICE=cuda \
      REFT_STUDIO_REQUIRE_DEVICE=1 "${T[@]}" dist/gpu/tests/forward.test.mjs dist/gpu/tests/reft-parity.test.mjs \
      dist/gpu/tests/chunked-decoding.test.mjs
    # The same decoding with the general decoder instead of the fused step: what the fused step buys.
    REFT_STUDIO_FUSED_DECODE=0 bench decode-1b-bf16-cuda-general decode --model $M1 --dtype bf16 --device cuda \
      --prompt 32 --new-tokens 256
    ;;
  cuda)
    device_env
    cuda_pack
    # Our own search for CUDA/cuDNN (pip's nvidia packages) without setup.sh's LD_LIBRARY_PATH:
    step devices-own-search devices-own-search.json env -u LD_LIBRARY_PATH "${CLI[@]}" devices --data-dir "$DATA" --json
    step half-cuda half-cuda.txt env NVIDIA_TF32_OVERRIDE=0 REFT_STUDIO_DEVICE=cuda REFT_STUDIO_REQUIRE_DEVICE=1 \
      "${T[@]}" dist/gpu/tests/half-precision.test.mjs dist/gpu/tests/fused-decode.test.mjs
    for dt in fp32 bf16; do
      step "placement-cuda-$dt" "placement-cuda-$dt.json" node dist/gpu/placement.mjs tests/fixtures/golden/models/llama cuda $dt
    done
    # Over int8 and int4 codes in bf16 (what `auto` picks on small GPUs): MatMulNBits and the
    # backward (its float32 reading of the codes: no blocked DequantizeLinear) should land on CUDA.
    for q in int8 int4; do
      step "placement-cuda-bf16-$q" "placement-cuda-bf16-$q.json" node dist/gpu/placement.mjs \
        tests/fixtures/golden/models/llama cuda bf16 $q
    done
    # The user's path with a bf16 checkpoint: --dtype auto must compute in bfloat16 on CUDA (the JSON
    # stream logs "computing in bfloat16"), train, and generate.
    printf '{"prompt":"Q: %s","completion":" yes"}\n' a b c d e f g h > $G/tiny.jsonl
    B16=tests/fixtures/golden/models/llama-bf16
    step train-bf16-auto-cuda train-bf16-auto-cuda.json env REFT_STUDIO_REQUIRE_DEVICE=1 "${CLI[@]}" train --model $B16 \
      --data $G/tiny.jsonl --layers 1 --positions l1 --rank 2 --max-steps 6 --batch-size 4 --device cuda --data-dir "$DATA" --json
    step generate-bf16-auto-cuda generate-bf16-auto-cuda.json env REFT_STUDIO_REQUIRE_DEVICE=1 "${CLI[@]}" generate \
      --model $B16 --prompt hi --greedy --max-new-tokens 8 --device cuda --data-dir "$DATA" --json
    # Automatic base weights on a GPU too small for the bf16 weights (a stand-in nvidia-smi on PATH
    # reports half a MiB, the rest goes to the real one): 8-bit codes through MatMulNBits on CUDA in
    # bfloat16, to generate and to train (the backward reads the codes as floats: no Ŵᵀ on so small a
    # GPU, no blocked DequantizeLinear on CUDA). The .err files hold the "base weights: int8
    # (automatic)" line.
    SMALL=$G/smi-small
    mkdir -p $SMALL
    printf '#!/bin/sh\ncase "$1" in\n  --query-gpu=index,name,memory.total*) echo "0, stand-in, 0.5, 0";;\n  *) exec %s "$@";;\nesac\n' \
      "$(command -v nvidia-smi || echo false)" > $SMALL/nvidia-smi && chmod +x $SMALL/nvidia-smi
    step generate-bf16-auto-int8-cuda generate-bf16-auto-int8-cuda.json env PATH="$SMALL:$PATH" REFT_STUDIO_REQUIRE_DEVICE=1 \
      "${CLI[@]}" generate --model $B16 --prompt hi --greedy --max-new-tokens 8 --device cuda --data-dir "$DATA" --json
    step train-bf16-auto-int8-cuda train-bf16-auto-int8-cuda.json env PATH="$SMALL:$PATH" REFT_STUDIO_REQUIRE_DEVICE=1 \
      "${CLI[@]}" train --model $B16 --data $G/tiny.jsonl --layers 1 --positions l1 --rank 2 --max-steps 6 --batch-size 4 \
      --device cuda --data-dir "$DATA" --json
    # Settings → GPU: GPU 0 chosen by number runs; one past the last is refused in one line (rc 1 expected).
    for g in 0 $(nvidia-smi -L 2>/dev/null | wc -l); do
      step "generate-gpu$g-cuda" "generate-gpu$g-cuda.json" env REFT_STUDIO_GPU=$g REFT_STUDIO_REQUIRE_DEVICE=1 \
        "${CLI[@]}" generate --model $B16 --prompt hi --greedy --max-new-tokens 4 --device cuda --data-dir "$DATA" --json
    done
    ;;
  bench-1b)
    device_env
    cuda_pack
    model 1b bf16
    S=(--model $M --dtype bf16 --device cuda)
    bench train-1b-l15-bf16-cuda train "${S[@]}" "${ROW2[@]}" --steps 5
    bench prefill-1b-bf16-cuda prefill "${S[@]}" --batch 8 --seq 512 --steps 5
    for c in 1 8 32; do
      bench "decode-1b-bf16-cuda-c$c" decode "${S[@]}" --prompt 32 --new-tokens 256 --chunk $c
    done
    # The fused step with three q/k/v products instead of one over stacked weights (their copy).
    REFT_STUDIO_STACK_QKV=0 bench decode-1b-bf16-cuda-unstacked decode "${S[@]}" --prompt 32 --new-tokens 256
    step placement-cuda-bf16-1b placement-cuda-bf16-1b.json node dist/gpu/placement.mjs $M cuda bf16
    # A quantized base (what `auto` picks on GPUs too small for the checkpoint): 8-bit codes through
    # MatMulNBits computing in bf16, decoding in the loop with the fused step (and a token a run, to
    # see what the loop buys), and row 1's training.
    bench decode-1b-int8-cuda decode "${S[@]}" --quantize int8 --prompt 32 --new-tokens 256
    bench decode-1b-int8-cuda-c1 decode "${S[@]}" --quantize int8 --prompt 32 --new-tokens 64 --chunk 1
    bench train-1b-int8-cuda train "${S[@]}" --quantize int8 "${ROW1[@]}" --steps 3
    # fp16 (the other half dtype GroupQueryAttention has on CUDA), fused.
    model 1b fp16
    bench decode-1b-fp16-cuda decode --model $M --dtype fp16 --device cuda --prompt 32 --new-tokens 256
    ;;
  bench-1b-fp32)
    device_env
    cuda_pack
    model 1b fp32
    S=(--model $M --device cuda "${ROW1[@]}" --steps 5)
    bench train-1b-fp32-tf32-cuda train "${S[@]}"
    NVIDIA_TF32_OVERRIDE=0 bench train-1b-fp32-notf32-cuda train "${S[@]}"
    ;;
  bench-8b)
    device_env
    cuda_pack
    model 8b bf16
    S=(--model $M --dtype bf16 --device cuda)
    # Row 3 with every layer replayed in the backward (training/recompute.ts decides by the GPU's
    # memory and the run's batch: ~6.2 GB of bf16 activations beside 16 GB of weights fit 80/141 GB, so
    # off above): the memory side of the trade, ~+50% time on CPU.
    REFT_STUDIO_RECOMPUTE=1 bench train-8b-bf16-cuda-replay train "${S[@]}" "${ROW3[@]}" --steps 3
    # Row 3 with the weights in ORT's arena (its default; the engine allocates them outside): peak GPU
    # memory of the two side by side.
    REFT_STUDIO_INITIALIZERS_IN_ARENA=1 bench train-8b-bf16-cuda-arena train "${S[@]}" "${ROW3[@]}" --steps 3
    bench prefill-8b-bf16-cuda prefill "${S[@]}" --batch 4 --seq 512 --steps 3
    bench decode-8b-bf16-cuda decode "${S[@]}" --prompt 32 --new-tokens 128
    ;;
  webgpu)
    device_env
    [ ! -f $G/setup.sh ] || bash $G/setup.sh webgpu
    step devices-webgpu devices-webgpu.json "${CLI[@]}" devices --data-dir "$DATA" --json
    step goldens-webgpu-fp32 goldens-webgpu-fp32.txt env REFT_STUDIO_DEVICE=webgpu REFT_STUDIO_REQUIRE_DEVICE=1 \
      "${T[@]}" dist/gpu/tests/forward.test.mjs dist/gpu/tests/reft-parity.test.mjs dist/gpu/tests/webgpu.test.mjs
    step half-webgpu half-webgpu.txt env REFT_STUDIO_DEVICE=webgpu "${T[@]}" dist/gpu/tests/half-precision.test.mjs
    model 1b fp16
    S=(--model $M --dtype fp16 --device webgpu)
    bench train-1b-fp16-webgpu train "${S[@]}" "${ROW1[@]}" --steps 3
    bench prefill-1b-fp16-webgpu prefill "${S[@]}" --batch 8 --seq 512 --steps 3
    bench decode-1b-fp16-webgpu decode "${S[@]}" --prompt 32 --new-tokens 128
    step placement-webgpu-fp16-1b placement-webgpu-fp16-1b.json node dist/gpu/placement.mjs $M webgpu fp16
    ;;
  rehearse)
    # The device calls' sequence on this machine, without a GPU (as root: setup.sh writes /opt/g): every
    # CUDA step should fail with the provider's one-line reason, and the stage must still reach its
    # end and its summary. A device call is too scarce to find a broken script with.
    [ -d .gpu/cuda1 ] || { echo "run: bash scripts/gpu-check.sh prepare" >&2; exit 1; }
    FAKE=$(mktemp -d) && mkdir -p "$FAKE/nvidia/cu13/lib" "$FAKE/nvidia/cudnn/lib" && touch "$FAKE/nvidia/__init__.py"
    rm -rf /opt/g
    bash "$0" setup >/dev/null || exit 1
    for d in .gpu/cuda*; do bash "$0" part "${d#.gpu/cuda}" >/dev/null || exit 1; done
    for s in core cuda bench-1b bench-8b; do
      PYTHONPATH=$FAKE bash "$0" $s
      [ -s "$OUT/$s.summary.txt" ] || { echo "!! stage $s ended before its summary" >&2; exit 1; }
    done
    rm -rf "$FAKE" /opt/g
    echo "rehearsal: every stage reached its end"
    ;;
  all)
    for s in core cuda bench-1b bench-8b webgpu; do GPU_CHECK_ROOT=$G bash "$0" "$s"; done
    ;;
  local)
    [ -d node_modules/onnxruntime-node ] || { echo "run npm ci first" >&2; exit 1; }
    node scripts/build-gpu-check.js || exit 1
    nvidia-smi -L >&2 || echo "note: nvidia-smi found no GPU; the CUDA stages will fail and say why" >&2
    GPU_CHECK_ROOT=$G bash "$0" all
    echo "results: $OUT/<stage>/ (steps.tsv: every command's exit code and seconds)" >&2
    ;;
  *)
    sed -n '2,/^$/p' "$0"
    exit 2
    ;;
esac
