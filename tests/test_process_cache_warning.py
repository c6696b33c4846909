"""recipes/ffcv/patches/0010: Loader(os_cache=False, order=RANDOM) warns when the file is
larger than a fraction of the available physical memory, once per file and process.

The cases run tests/process_cache_probe.py in fresh interpreters against the built FFCV,
directly and in a child started with ``spawn`` (Windows' only start method). The files here
are tiny, so most cases lower the threshold with FFCV_PROCESS_CACHE_WARN_FRACTION (0 = warn
for any file); the file size and the available memory are the real ones, read by the code a
user's Loader runs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

PROBE = Path(__file__).resolve().parent / "process_cache_probe.py"
VARIABLE = "FFCV_PROCESS_CACHE_WARN_FRACTION"
pytestmark = pytest.mark.slow


class Images:
    def __len__(self) -> int:
        return 24

    def __getitem__(self, index: int) -> tuple[np.ndarray, int]:
        return np.full((32, 32, 3), index, np.uint8), index


@pytest.fixture(scope="module")
def betons(tmp_path_factory) -> dict[str, Path]:
    """Copies of one small raw .beton: FFCV warns once per file, so cases that must not
    share that memory get their own copy."""
    from ffcv.fields import IntField, RGBImageField
    from ffcv.writer import DatasetWriter

    folder = tmp_path_factory.mktemp("warning")
    first = folder / "small.beton"
    writer = DatasetWriter(
        str(first), {"image": RGBImageField(write_mode="raw"), "label": IntField()}, num_workers=1
    )
    writer.from_indexed_dataset(Images())
    names = ["twice", "bounded", "default", "distributed", "bad", "user", "user_ignored"]
    copies = {name: folder / f"{name}.beton" for name in names}
    for path in copies.values():
        shutil.copyfile(first, path)
    return copies


def run(args: list[str], env_changes: dict[str, str | None], timeout: int = 600):
    env = dict(os.environ)
    for key, value in env_changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    result = subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=timeout, env=env
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return result


def probe(tmp_path: Path, spec: list[dict], *extra: str) -> dict[str, dict]:
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps([{**r, "beton": str(r["beton"])} for r in spec]))
    result = run([str(PROBE), str(spec_file), *extra], {VARIABLE: None, "PYTHONWARNINGS": None})
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["start_method"] == ("spawn" if extra else None)
    return {Path(r["beton"]).stem: r for r in report["runs"]}


def memory_warnings(run: dict) -> list[dict]:
    assert "error" not in run, run
    return [w for w in run["warnings"] if w["category"] == "ProcessCacheMemoryWarning"]


@pytest.fixture(scope="module")
def direct(betons, tmp_path_factory) -> dict[str, dict]:
    spec = [
        {"case": "random_twice", "beton": betons["twice"], "fraction": "0"},
        {"case": "bounded_orders", "beton": betons["bounded"], "fraction": "0"},
        {"case": "random_twice", "beton": betons["default"], "fraction": None},
        {"case": "distributed", "beton": betons["distributed"], "fraction": "0"},
        {"case": "random_twice", "beton": betons["bad"], "fraction": "half"},
    ]
    return probe(tmp_path_factory.mktemp("direct"), spec)


@pytest.fixture(scope="module")
def spawned(betons, tmp_path_factory) -> dict[str, dict]:
    spec = [{"case": "random_twice", "beton": betons["twice"], "fraction": "0"}]
    return probe(tmp_path_factory.mktemp("spawn"), spec, "--spawn")


@pytest.mark.parametrize("start", ["direct", "spawn"])
def test_random_order_warns_once_naming_size_memory_and_fix(start, request, betons):
    runs = request.getfixturevalue("direct" if start == "direct" else "spawned")
    found = memory_warnings(runs["twice"])
    assert len(found) == 1, runs["twice"]  # two Loaders on the same file, one warning
    [warning] = found
    assert warning["module"] == "ffcv.memory_warning"
    message = warning["message"]
    assert f"{betons['twice'].stat().st_size / 2**20:.1f} MiB" in message
    assert str(betons["twice"]) in message
    assert "of physical memory is available" in message and "installed)" in message
    assert "order=OrderOption.QUASI_RANDOM" in message
    # stacklevel: the warning points at the line that created the Loader
    assert Path(warning["filename"]).name == PROBE.name


def test_default_threshold_is_silent_for_a_file_that_fits(direct):
    assert memory_warnings(direct["default"]) == []


def test_bounded_configurations_never_warn(direct):
    # QUASI_RANDOM and SEQUENTIAL free pages as they go; os_cache=True uses the page cache.
    assert memory_warnings(direct["bounded"]) == []


def test_distributed_loader_is_pointed_at_os_cache(direct):
    [warning] = memory_warnings(direct["distributed"])
    assert "use os_cache=True" in warning["message"]
    assert "does not support distributed=True" in warning["message"]


def test_bad_threshold_value_is_an_error_naming_the_variable(direct):
    error = direct["bad"]["error"]
    assert error.startswith("ValueError:") and VARIABLE in error and "'half'" in error


def test_warning_shows_with_python_default_filters(betons, tmp_path):
    """With no filter set up the user sees the warning on stderr, once; filtering its
    category silences it."""
    script = tmp_path / "user.py"
    script.write_text(
        "import sys, warnings\n"
        "from ffcv.loader import Loader, OrderOption\n"
        "def loader(path):\n"
        "    return Loader(path, batch_size=4, num_workers=1, os_cache=False,\n"
        "                  order=OrderOption.RANDOM)\n"
        "loader(sys.argv[1]); loader(sys.argv[1])\n"
        "print('--- ignored from here', file=sys.stderr)\n"
        "from ffcv.memory_warning import ProcessCacheMemoryWarning\n"
        "warnings.simplefilter('ignore', ProcessCacheMemoryWarning)\n"
        "loader(sys.argv[2])\n"
    )
    result = run(
        [str(script), str(betons["user"]), str(betons["user_ignored"])],
        {VARIABLE: "0", "PYTHONWARNINGS": None},
    )
    before, after = result.stderr.split("--- ignored from here")
    assert before.count("ProcessCacheMemoryWarning") == 1, result.stderr
    assert "user.py:4" in before  # the line of the Loader( call
    assert "ProcessCacheMemoryWarning" not in after
