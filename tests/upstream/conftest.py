"""conftest for FFCV's own test suite (copied next to the upstream tests by
tests/test_ffcv_upstream_suite.py). Skips only tests that need a CUDA GPU, with that reason,
when torch sees none; everything else runs as upstream wrote it."""

from __future__ import annotations

import pytest
import torch

CUDA_TESTS = {"test_cuda", "test_gpu_normalization"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if torch.cuda.is_available():
        return
    reason = "needs a CUDA GPU; this machine has none (run on the GPU agent)"
    for item in items:
        if item.name in CUDA_TESTS:
            item.add_marker(pytest.mark.skip(reason=reason))
