"""scripts/read_ab.py at a tiny size: it must complete and report both bindings and a ratio
for JPEG and raw data (a smoke test; no timing is asserted)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "read_ab.py"


@pytest.mark.slow
def test_read_ab_smoke(tmp_path):
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--smoke", "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for mode in ("jpg", "raw"):
        for binding in ("ours", "upstream"):
            line = re.search(
                rf"^{mode} os_cache=False RANDOM, {binding} read\s+([\d,]+) images/s",
                result.stdout,
                re.M,
            )
            assert line and int(line[1].replace(",", "")) > 0, (mode, binding, result.stdout)
        ratio = re.search(rf"^{mode}: ours / upstream = (\d+\.\d+)$", result.stdout, re.M)
        assert ratio and float(ratio[1]) > 0
