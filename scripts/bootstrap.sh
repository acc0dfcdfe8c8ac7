# Sourced by scripts/baichuan-chat and scripts/test: make .venv and install the project.
# Re-installs only when pyproject.toml or the llama.cpp build settings changed.
#
# llama-cpp-python ships as source only, so llama.cpp is compiled here (several minutes on 2
# cores) into a wheel kept per build settings under ~/.cache/baichuan-chat/wheels: pip's own
# wheel cache is keyed by version alone and would hand back a build made with other settings.
# Build settings: CMAKE_ARGS when set (e.g. -DGGML_CUDA=on), remembered in the venv for later
# runs. On x86-64 the CPU build leaves out AMX: llama.cpp's AMX matmul (0.3.36) segfaults on
# the first decode of small models (seen on a Xeon with AMX with the test models);
# BAICHUAN_LLAMA_CFLAGS replaces those compiler flags.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${BAICHUAN_VENV:-$ROOT/.venv}"
PY="${PYTHON:-python3}"
EXTRAS="${1:-}"

if [ ! -x "$VENV/bin/python" ]; then
  echo "creating $VENV ..." >&2
  "$PY" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip >&2
fi

llama_spec="$(grep -o 'llama-cpp-python==[0-9.]*' "$ROOT/pyproject.toml")"
settings_file="$VENV/.llama-cmake-args"
if [ -n "${CMAKE_ARGS+set}" ]; then
  cmake_args="$CMAKE_ARGS"
elif [ -f "$settings_file" ]; then
  cmake_args="$(cat "$settings_file")"
else
  cmake_args=""
fi
if [ "$(uname -m)" = x86_64 ]; then
  llama_cflags="${BAICHUAN_LLAMA_CFLAGS--mno-amx-tile -mno-amx-int8 -mno-amx-bf16}"
else
  llama_cflags="${BAICHUAN_LLAMA_CFLAGS-}"
fi
build_key="$(printf '%s\n' "$llama_spec" "$cmake_args" "$llama_cflags" "$(uname -m)" \
  | sha256sum | cut -c1-16)"
wheels="${XDG_CACHE_HOME:-$HOME/.cache}/baichuan-chat/wheels/$build_key"

stamp="$VENV/.baichuan-installed${EXTRAS:+-$EXTRAS}"
want="$( (cat "$ROOT/pyproject.toml"; echo "$build_key") | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  log="$VENV/install.log"
  : > "$log"
  if ! ls "$wheels"/llama_cpp_python-*.whl >/dev/null 2>&1; then
    echo "compiling llama.cpp ($llama_spec${cmake_args:+, $cmake_args}): several minutes ..." >&2
    mkdir -p "$wheels.tmp"
    if ! CMAKE_ARGS="$cmake_args" CFLAGS="$llama_cflags" CXXFLAGS="$llama_cflags" \
        "$VENV/bin/python" -m pip wheel --disable-pip-version-check --no-deps \
        --no-cache-dir -w "$wheels.tmp" "$llama_spec" >> "$log" 2>&1; then
      tail -n 40 "$log" >&2
      echo "error: compiling llama-cpp-python failed (full log: $log)" >&2
      exit 1
    fi
    rm -rf "$wheels" && mv "$wheels.tmp" "$wheels"
  fi
  echo "installing baichuan-chat${EXTRAS:+[$EXTRAS]} into $VENV ..." >&2
  if ! { "$VENV/bin/python" -m pip install --disable-pip-version-check --no-deps \
           --force-reinstall "$wheels"/llama_cpp_python-*.whl \
         && "$VENV/bin/python" -m pip install --disable-pip-version-check \
           --find-links "$wheels" -e "$ROOT${EXTRAS:+[$EXTRAS]}"; } >> "$log" 2>&1; then
    tail -n 40 "$log" >&2
    echo "error: installing baichuan-chat failed (full log: $log)" >&2
    exit 1
  fi
  printf '%s' "$cmake_args" > "$settings_file"
  echo "$want" > "$stamp"
fi
