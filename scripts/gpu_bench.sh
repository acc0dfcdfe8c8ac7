#!/usr/bin/env bash
# The real-shape benchmark (scripts/bench_shapes.py) on a GPU machine, in one short call.
#
#   bash scripts/gpu_bench.sh --prepare     # here, once (needs PyPI): fills .gpu/ (git-ignored):
#                                           #   the vendored llama.cpp source (~8 MB), the
#                                           #   llama_cpp Python package, wheels the GPU side lacks
#   bash scripts/gpu_bench.sh               # there: device `run` with carry [".gpu"], $OUT set
#
# There it builds llama.cpp with CUDA for the card it finds (shared libraries + llama-bench, one
# build serving both: llama-cpp-python's pure-Python binding loads these libraries through
# LLAMA_CPP_LIB_PATH), writes the baichuan-7b shape (F16, streamed, while the build runs) and
# quantizes it to Q4_K_M, then runs bench_shapes.py with every layer on the GPU: llama-bench vs
# ask vs the quiz path, TTFT with 1k/2k/3.5k of history, VRAM and RAM against hub/fit.py.
# The report is $OUT/gpu_bench.json (+ gpu_bench.log); sized for under 8 minutes on 16 cores.
#
# GPU_BENCH_CPU=1 runs the same steps with a CPU build (to check the script where no GPU is
# lent); SHAPE_SCALE=K uses a scaled-down shape (seconds instead of minutes); SHAPES and QUANTS
# (space-separated) pick other shapes and types; the tmux app part needs tmux and is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
GPU=$REPO/.gpu

if [[ "${1:-}" == "--prepare" ]]; then
    VENV=${VENV:-.venv}
    version=$("$VENV/bin/python" -c 'from importlib import metadata; print(metadata.version("llama-cpp-python"))')
    bin=$("$VENV/bin/python" scripts/build_llama_server.py --print-dir 2>/dev/null) \
        || bin=$("$VENV/bin/python" scripts/build_llama_server.py)   # unpacks the source
    src=$(dirname "$bin")/src/llama_cpp_python-$version
    mkdir -p "$GPU/wheels"
    grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >> .git/info/exclude
    v=vendor/llama.cpp
    tar czf "$GPU/llama-src.tgz" -C "$src" \
        --exclude="$v/models" --exclude="$v/docs" --exclude="$v/tests" --exclude="$v/examples" \
        --exclude="$v/benches" --exclude="$v/pocs" --exclude="$v/media" --exclude="$v/tools/ui" \
        --exclude="$v/gguf-py" --exclude="$v/conversion" --exclude="$v/tools/server/public*" \
        vendor llama_cpp
    gguf_version=$("$VENV/bin/python" -c 'from importlib import metadata; print(metadata.version("gguf"))')
    pd_version=$("$VENV/bin/python" -c 'from importlib import metadata; print(metadata.version("platformdirs"))')
    "$VENV/bin/python" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
        -d "$GPU/wheels" "gguf==$gguf_version" "platformdirs==$pd_version"
    du -sh "$GPU"
    exit 0
fi

[[ -f "$GPU/llama-src.tgz" ]] || { echo "error: .gpu/ is missing: run 'bash scripts/gpu_bench.sh --prepare' here first" >&2; exit 2; }
OUT=${OUT:-$REPO/.gpu/out}
mkdir -p "$OUT"
exec > >(tee "$OUT/gpu_bench.log") 2>&1
export PYTHONUNBUFFERED=1
t0=$SECONDS
say() { echo "[$((SECONDS - t0)) s] $*"; }
PY=${PYTHON:-python3}
WORK=${WORK:-/tmp/gpu-bench}
mkdir -p "$WORK"

"$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target "$WORK/site" "$GPU"/wheels/*.whl
tar xzf "$GPU/llama-src.tgz" -C "$WORK"
export PYTHONPATH=$WORK/site:$WORK:$REPO
export BAICHUAN_CHAT_CACHE_DIR=${BAICHUAN_CHAT_CACHE_DIR:-$WORK/cache}
SHAPES=${SHAPES:-baichuan-7b}
QUANTS=${QUANTS:-Q4_K_M}
SCALE=${SHAPE_SCALE:-1}

# 1. the F16 shapes, streamed (numpy only) while llama.cpp builds
(
    for shape in $SHAPES; do
        "$PY" scripts/make_shape_model.py "$shape" --scale "$SCALE" --quant F16 >/dev/null 2>"$WORK/gen-$shape.log"
    done
) &
gen=$!

# 2. llama.cpp: shared libraries for the Python binding + llama-bench, one build
cuda=(-DGGML_CUDA=OFF -DGGML_NATIVE=ON)
where="CPU (GPU_BENCH_CPU=1: no GPU used)"
ngl=0
if [[ -z "${GPU_BENCH_CPU:-}" ]]; then
    cap=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -1 | tr -d ' .')
    cuda=(-DGGML_CUDA=ON "-DCMAKE_CUDA_ARCHITECTURES=$cap" -DGGML_NATIVE=ON)
    where="$(nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | head -1) (sm_$cap)"
    ngl=999
fi
say "building llama.cpp for $where ..."
# the compiler flags of every llama.cpp build of ours (no AMX on x86-64: it crashes here)
flags=$("$PY" -c 'from baichuan_tui.server.build import default_cflags; print(default_cflags())')
export CFLAGS="${CFLAGS:-} $flags" CXXFLAGS="${CXXFLAGS:-} $flags"
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
cmake -S "$WORK/vendor/llama.cpp" -B "$WORK/build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
    -DBUILD_SHARED_LIBS=ON -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
    -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_TOOLS=ON -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF \
    "${cuda[@]}" >"$WORK/cmake.log" 2>&1 || { tail -20 "$WORK/cmake.log"; exit 1; }
cmake --build "$WORK/build" -j "$(nproc)" --target llama llama-bench >"$WORK/build.log" 2>&1 \
    || { tail -30 "$WORK/build.log"; exit 1; }
export LLAMA_CPP_LIB_PATH=$WORK/build/bin
export LD_LIBRARY_PATH=$WORK/build/bin:${LD_LIBRARY_PATH:-}
say "built"

wait "$gen" || { cat "$WORK"/gen-*.log; exit 1; }
say "F16 shapes written"

# 3. quantize (llama.cpp's quantizer) and measure
args=(--gpu-layers "$ngl" --scale "$SCALE" --llama-bench "$WORK/build/bin/llama-bench")
args+=(--parts speed,ask,quiz,memory --reps 2 --json-out "$OUT/gpu_bench.json")
for shape in $SHAPES; do args+=(--shape "$shape"); done
for quant in $QUANTS; do args+=(--quant "$quant"); done
"$PY" scripts/bench_shapes.py "${args[@]}" --where "$where"
say "done: $OUT/gpu_bench.json"
