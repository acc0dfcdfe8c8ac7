# Sourced by scripts/baichuan-chat and scripts/test: make .venv and install the project.
# Re-installs only when pyproject.toml changed. The first install compiles llama.cpp
# (llama-cpp-python ships as source only; ~9 min on 2 cores); pip caches the wheel.
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
stamp="$VENV/.baichuan-installed${EXTRAS:+-$EXTRAS}"
want="$(cat "$ROOT/pyproject.toml" | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "installing baichuan-chat${EXTRAS:+[$EXTRAS]} into $VENV" \
       "(the first time compiles llama.cpp: several minutes) ..." >&2
  log="$VENV/install.log"
  if ! "$VENV/bin/python" -m pip install --disable-pip-version-check \
      -e "$ROOT${EXTRAS:+[$EXTRAS]}" > "$log" 2>&1; then
    tail -n 40 "$log" >&2
    echo "error: installing baichuan-chat failed (full log: $log)" >&2
    exit 1
  fi
  echo "$want" > "$stamp"
fi
