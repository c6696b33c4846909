#!/usr/bin/env bash
# The Linux test suite, end to end: install what it needs (tests/setup.sh), lint, build the
# patched FFCV from its sdist through recipes/ffcv/build.sh into .venv (tools/build_ffcv.py),
# then run pytest. Extra arguments go to pytest, e.g. `bash tests/run.sh -k hostlibs`.
set -euo pipefail
cd "$(dirname "$0")/.."

bash tests/setup.sh
echo "== ruff"
.venv/bin/ruff check .
echo "== build recipes/ffcv on Linux (conda-build's steps, Debian's host libraries)"
.venv/bin/python -m tools.build_ffcv
echo "== pytest"
exec .venv/bin/python -m pytest "$@"
