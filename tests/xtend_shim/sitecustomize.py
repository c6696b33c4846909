"""Test-only start-up hook for the fastxtend/fastai runs (tests/xtend_fixtures.py puts this
folder first on PYTHONPATH, so every Python process of a run loads it, including the workers
FFCV's writer starts with spawn). It only defines the two torchvision operator schemas that
PyPI's CUDA-built Linux torchvision needs before it imports with a CPU-only torch (see
tests/shims/torchvision_ops.py, DESIGN.md section 6). scripts/ never uses it; the Windows
environment has conda-forge's torchvision.
"""

from __future__ import annotations

import os
import sys

if os.environ.get("FFCVWIN_TORCHVISION_SHIM") == "1":
    sys.path.insert(0, os.environ["FFCVWIN_TESTS_DIR"])
    try:
        from shims import torchvision_ops

        torchvision_ops.register()
    finally:
        sys.path.remove(os.environ["FFCVWIN_TESTS_DIR"])
