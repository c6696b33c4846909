"""Write a .beton and read it back through the built FFCV: raw and JPEG images, both cache
modes, RANDOM and QUASI_RANDOM, with the writer's workers started by fork and by spawn
(spawn is what Windows uses). The checks live in recipes/ffcv/run_test.py, the same file
conda-build runs as the recipe's test, so the two cannot drift apart."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from modules import load_module
from tools.build_ffcv import RECIPE

RUN_TEST = RECIPE / "run_test.py"


@pytest.mark.slow
@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_round_trip(start_method, tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            str(RUN_TEST),
            "--start-method",
            start_method,
            "--orders",
            "RANDOM",
            "QUASI_RANDOM",
            "--os-cache",
            "true",
            "false",
        ],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        cwd=tmp_path,
    )
    verdicts = [line for line in result.stdout.splitlines() if line.startswith(("PASS", "FAIL"))]
    print("\n" + "\n".join(verdicts))
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert len(verdicts) == 4 and all(v.startswith("PASS") for v in verdicts)


def _load_run_test():
    return load_module(RUN_TEST, "ffcv_run_test")


@pytest.mark.slow
def test_round_trip_detects_an_offset_ignoring_read(tmp_path, monkeypatch):
    """The check must fail for the Windows defect: a read that drops its offset (what
    msvcrt._read did) returns wrong images for os_cache=False, with correct labels."""
    import ffcv.memory_managers.process_cache.page_reader as page_reader
    from ffcv.libffcv import read as good_read

    def offset_dropping_read(fileno: int, destination: np.ndarray, offset: int) -> int:
        return good_read(fileno, destination, 0)

    run_test = _load_run_test()
    path = tmp_path / "data.beton"
    run_test.write_dataset(path, 24, workers=1)
    assert run_test.read_epochs(path, 24, os_cache=False, order="RANDOM", epochs=1) == []
    monkeypatch.setattr(page_reader, "read", offset_dropping_read)
    problems = run_test.read_epochs(path, 24, os_cache=False, order="RANDOM", epochs=1)
    assert problems, "wrong pages went unnoticed"
    assert any("raw image" in p or "PSNR" in p for p in problems)


def test_run_test_is_spawn_safe():
    text = Path(RUN_TEST).read_text()
    assert 'if __name__ == "__main__":' in text
    assert "set_start_method(args.start_method" in text
