"""scripts/verify_env.py's threading-layer check: it names numba's active layer, runs an FFCV
epoch on it, and fails (rather than hanging) when the layer cannot start.

Only FFCV and numba are needed, so the check runs with this venv's own python. The failing
case is a real one for Windows users: an older TBB runtime found first on the library path
(numba requires TBB_INTERFACE_VERSION >= 12060). Here a stand-in libtbb.so.12 reporting
interface 12000 goes first on LD_LIBRARY_PATH; numba's own version check rejects it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "verify_env.py"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="LD_LIBRARY_PATH stand-in"),
]


def verify(tmp_path: Path, env_changes: dict[str, str]) -> tuple[int, str]:
    env = {**os.environ, **env_changes}
    result = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--device",
            "cpu",
            "--start-method",
            "spawn",
            "--checks",
            "threading-layer",
            "--workdir",
            str(tmp_path / "work"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    line = next(
        (ln for ln in result.stdout.splitlines() if " threading-layer:" in ln),
        result.stdout + result.stderr,
    )
    return result.returncode, line


def test_check_names_the_layer_the_loader_ran_on(tmp_path):
    """A layer chosen by the user (the default one is covered by tests/test_verify_env.py's
    full run)."""
    code, line = verify(tmp_path, {"NUMBA_THREADING_LAYER": "workqueue"})
    assert code == 0, line
    assert line.startswith("PASS threading-layer: active layer workqueue ")
    assert "(NUMBA_THREADING_LAYER=workqueue)" in line
    startable = line.split("layers this environment can start: ")[1].split(" [")[0].split(", ")
    assert "workqueue" in startable and set(startable) <= {"tbb", "omp", "workqueue"}


def test_layer_that_cannot_start_fails_with_numbas_reason(tmp_path):
    fake = tmp_path / "lib"
    fake.mkdir()
    subprocess.run(
        ["gcc", "-shared", "-fPIC", "-x", "c", "-", "-o", str(fake / "libtbb.so.12")],
        input="int TBB_runtime_interface_version(void) { return 12000; }\n",
        text=True,
        check=True,
    )
    paths = [str(fake), os.environ.get("LD_LIBRARY_PATH", "")]
    code, line = verify(
        tmp_path,
        {"NUMBA_THREADING_LAYER": "tbb", "LD_LIBRARY_PATH": os.pathsep.join(p for p in paths if p)},
    )
    assert code == 1, line
    assert line.startswith("FAIL threading-layer: numba cannot start threading layer 'tbb'")
    assert "No threading layer could be loaded" in line
