#!/usr/bin/env bash
# Create (if needed) the Python reference environment with torchtune v0.6.1,
# used only to regenerate golden fixtures under tests/assets/golden.
#
#   TTCPP_TORCHTUNE_VENV  venv path (default: $HOME/.cache/torchtune_cpp/venv-torchtune)
#   TTCPP_PYTHON          interpreter used to create the venv (default: python3)
#
# The last line printed is the venv's python, e.g.
#   PY=$(scripts/torchtune_env.sh | tail -n 1)
#   "$PY" tests/scripts/make_config_fixtures.py
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
req="$repo_root/tests/requirements-torchtune.txt"
venv="${TTCPP_TORCHTUNE_VENV:-$HOME/.cache/torchtune_cpp/venv-torchtune}"
base_python="${TTCPP_PYTHON:-python3}"
py="$venv/bin/python"
stamp="$venv/.ttcpp-requirements.sha256"

if [[ ! -f "$req" ]]; then
    echo "torchtune_env.sh: missing $req" >&2
    exit 1
fi

want="$(sha256sum "$req" | cut -d' ' -f1)"

if [[ ! -x "$py" ]]; then
    echo "torchtune_env.sh: creating venv at $venv" >&2
    mkdir -p "$(dirname "$venv")"
    "$base_python" -m venv "$venv"
    rm -f "$stamp"
fi

have=""
if [[ -f "$stamp" ]]; then
    have="$(cat "$stamp")"
fi

if [[ "$have" != "$want" ]]; then
    echo "torchtune_env.sh: installing $req" >&2
    "$py" -m pip install --disable-pip-version-check -r "$req" >&2
    "$py" -c "import torchtune, omegaconf; from torchtune.config._parse import TuneRecipeArgumentParser" >&2
    echo "$want" > "$stamp"
fi

echo "$py"
