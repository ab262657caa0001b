# Sourced by the quick-start scripts: makes (or reuses) the virtual environment and installs the
# package with its dependencies. Where the environment has no torch it installs torch==2.13.0
# (a CPU build); a torch that is already there is never replaced.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${HF_TRACKING_VENV:-$ROOT/.venv}"
PYTHON_BIN="${PYTHON:-python3}"
if [ ! -x "$VENV/bin/python" ]; then
  echo "hf_tracking: creating the virtual environment $VENV"
  "$PYTHON_BIN" -m venv "$VENV"
fi
PY="$VENV/bin/python"
if ! "$PY" -c "import torch" >/dev/null 2>&1; then
  echo "hf_tracking: installing torch==2.13.0"
  "$PY" -m pip install --quiet "torch==2.13.0"
fi
STAMP="$VENV/.hf_tracking-installed"
if [ ! -f "$STAMP" ] || [ "$ROOT/setup.cfg" -nt "$STAMP" ]; then
  echo "hf_tracking: installing the package and its dependencies"
  "$PY" -m pip install --quiet --upgrade pip >/dev/null
  "$PY" -m pip install --quiet -e "$ROOT[dev]"
  touch "$STAMP"
fi
cd "$ROOT"
