#!/usr/bin/env bash
# Installs what the Linux test suite needs: Debian packages (host libraries standing in for
# conda-forge's, mingw-w64 for the Windows code, debootstrap for the Wine chroot) and a
# virtual environment at .venv with tests/requirements.txt. Idempotent: a second run only
# checks. Needs root (or sudo) for apt-get.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  build-essential pkg-config patch zstd curl ca-certificates
  libopencv-dev libturbojpeg0-dev
  gcc-mingw-w64-x86-64 g++-mingw-w64-x86-64
  debootstrap
  # the tutorial's linux-checked builds (docs/tutorial/07..09, tests/test_docs.py)
  cmake ninja-build libzmq3-dev libcairo2-dev rustc-web cargo-web
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "setup: installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PY="${PYTHON:-python3.11}"
command -v "$PY" >/dev/null || PY=python3
stamp=.venv/.requirements.sha256
want=$(sha256sum tests/requirements.txt | cut -d' ' -f1)
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: creating .venv with $("$PY" --version)"
  "$PY" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -r tests/requirements.txt
  echo "$want" > "$stamp"
fi
# anaconda-client's released wheel (no dependencies, not installed): tests/test_doubles.py reads
# its argparse definitions to check the anaconda upload double's grammar.
[ -f .venv/wheels/anaconda_client-1.14.1-py3-none-any.whl ] || .venv/bin/python -m pip download -q --no-deps --only-binary :all: -d .venv/wheels anaconda-client==1.14.1
# The real conda-build and conda-smithy (not on PyPI) in their own environment, .venv-conda:
# from ../shared/conda-tools, else from their GitHub tag archives (tools/conda_tools.py).
"$PY" -m tools.conda_tools
echo "setup: ready ($(.venv/bin/python --version), $(nproc) cores)"
