#!/usr/bin/env bash
# conda-build runs this in $SRC_DIR with the host env in $PREFIX. On Linux FFCV's setup.py
# keeps its own pkg-config lookup (opencv4, libturbojpeg); the host prefix's .pc files
# are found through PKG_CONFIG_PATH, which conda-build's pkg-config package sets up.
set -euxo pipefail
"${PYTHON}" -m pip install . --no-deps --no-build-isolation -vv
