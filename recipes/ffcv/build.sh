#!/usr/bin/env bash
# conda-build runs this in $SRC_DIR with the host env in $PREFIX. On Linux FFCV's setup.py
# keeps its own pkg-config lookup (opencv4, libturbojpeg): the pkg-config from the host
# requirements searches the host prefix's lib/pkgconfig, where libopencv and libjpeg-turbo
# install opencv4.pc and libturbojpeg.pc.
set -euxo pipefail
"${PYTHON}" -m pip install . --no-deps --no-build-isolation -vv
