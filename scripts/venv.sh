#!/usr/bin/env bash
# Creates .venv at the repository root if missing and installs the project (editable, with its compiled
# parts) and the pinned dependencies. Re-installs only when pyproject.toml, requirements.lock, the C sources or
# the fetched IJG inverse DCTs (scripts/fetch-ijg-idct.sh, build/ijg9f/) change.
# Usage: scripts/venv.sh [EXTRAS]   e.g. scripts/venv.sh dev
set -euo pipefail
cd "$(dirname "$0")/.."
extras=${1:-}
python=${PYTHON:-python3.11}
command -v "$python" >/dev/null || python=python3
if [ ! -x .venv/bin/python ]; then
  echo "creating .venv with $($python --version)"
  "$python" -m venv .venv
fi
# detection._jpegdct compiles IJG 9f's jidctint.c, fetched from PyPI (not kept in the repository).
scripts/fetch-ijg-idct.sh .venv/bin/python
inputs=$(cat pyproject.toml requirements.lock setup.py scripts/fetch-ijg-idct.sh build/ijg9f/jidctint.c 2>/dev/null
  find detection -name '*.c' -o -name '*.h' 2>/dev/null | sort | xargs -r cat)
stamp=".venv/.installed-${extras:-base}-$(printf '%s' "$inputs" | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "installing the project into .venv (extras: ${extras:-none})"
  .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade "pip>=24" "setuptools>=75" wheel
  spec="."
  [ -n "$extras" ] && spec=".[$extras]"
  .venv/bin/python -m pip install -q --disable-pip-version-check -c requirements.lock -e "$spec"
  rm -f .venv/.installed-"${extras:-base}"-*
  touch "$stamp"
fi
