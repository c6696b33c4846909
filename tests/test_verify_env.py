"""scripts/verify_env.py, run the way the driver runs it, in the test venv that holds exactly
the run pins our recipes declare (tests/requirements.txt, plus our fastai and fastxtend builds
from tests/xtend_fixtures.py, plus the patched ffcv tests/run.sh builds into .venv).

The torchvision operator shim (tests/xtend_shim) is the only test-only addition; see
DESIGN.md section 6. PyPI's Linux torch is a CPU build, so --device cuda is only checked for
its failure message here.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from xtend_fixtures import REPO, XtendBuild, build_once

SCRIPT = REPO / "scripts" / "verify_env.py"


@pytest.fixture(scope="session")
def xtend(tmp_path_factory: pytest.TempPathFactory) -> XtendBuild:
    return build_once(tmp_path_factory)


def run(xtend: XtendBuild, site: Path, *args: str, timeout: int = 400) -> tuple[int, list[str]]:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        env=xtend.env(site),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    lines = [ln for ln in result.stdout.splitlines() if ln.split(" ")[0] in ("PASS", "FAIL", "N/A")]
    return result.returncode, lines


def statuses(lines: list[str]) -> dict[str, str]:
    return {ln.split(" ")[1].rstrip(":"): ln.split(" ")[0] for ln in lines}


def test_verify_env_passes_with_the_declared_pins_under_spawn(xtend: XtendBuild) -> None:
    """The whole verification, with worker processes started by spawn as on Windows."""
    code, lines = run(xtend, xtend.ours, "--device", "cpu", "--start-method", "spawn")
    assert statuses(lines) == {
        "imports": "PASS",
        "dll-imports": "N/A",  # reads a PE import table: Windows only, reported, not faked
        "beton-roundtrip": "PASS",
        "threading-layer": "PASS",
        "cuda-op": "N/A",
        "cuda-normalize": "N/A",
        "fastxtend-fit": "PASS",
        "summary": "PASS",
    }, "\n".join(lines)
    assert code == 0
    fit = next(ln for ln in lines if ln.startswith("PASS fastxtend-fit"))
    assert "get_preds and one_batch ok" in fit
    layer = next(ln for ln in lines if ln.startswith("PASS threading-layer"))
    assert "active layer " in layer and "(NUMBA_THREADING_LAYER=default)" in layer


def test_cuda_check_fails_clearly_without_a_gpu(xtend: XtendBuild) -> None:
    code, lines = run(xtend, xtend.ours, "--device", "cuda", "--checks", "imports,cuda-op")
    assert code == 1
    cuda = next(ln for ln in lines if " cuda-op:" in ln)
    assert cuda.startswith("FAIL cuda-op: torch 2.13.0+cpu sees no CUDA device")
    assert "'pytorch * cuda*'" in cuda  # the MatchSpec form env/variant-cuda-*.txt uses


def test_cuda_normalize_check_fails_clearly_without_a_gpu(xtend: XtendBuild) -> None:
    code, lines = run(xtend, xtend.ours, "--device", "cuda", "--checks", "imports,cuda-normalize")
    assert code == 1
    check = next(ln for ln in lines if " cuda-normalize:" in ln)
    assert check.startswith("FAIL cuda-normalize: torch 2.13.0+cpu sees no CUDA device")
    assert "'pytorch * cuda*'" in check


def test_cuda_normalize_comparison_passes_on_the_cpu(tmp_path: Path) -> None:
    """The GPU check's reading and comparison, run with a CPU device (patch 0006 makes
    NormalizeImage take CPU tensors): this machine has no GPU to run it on CUDA."""
    import argparse

    from modules import load_module

    verify = load_module(SCRIPT, "verify_env_under_test")
    path = verify.roundtrip_beton(argparse.Namespace(workdir=tmp_path, workers=1))
    count, worst = verify.normalized_batches_error(path, "cpu", 1)
    assert count == verify.ROUNDTRIP_SAMPLES and worst < 0.01, (count, worst)


def test_missing_package_fails_imports_and_skips_the_rest(
    xtend: XtendBuild, tmp_path: Path
) -> None:
    """An env without fastai/fastxtend (empty site folder): imports fails, nothing else runs."""
    code, lines = run(xtend, tmp_path, "--device", "cpu")
    assert code == 1
    assert lines[0].startswith("FAIL imports: import fastai failed")
    assert all("not run: the imports check failed" in ln for ln in lines[1:-1])
    from modules import load_module

    checks = load_module(SCRIPT, "verify_env_checks").CHECKS
    assert len(lines) == len(checks) + 1  # one line per check, then the summary


@pytest.mark.parametrize("args", [["--device", "gpu"], ["--device", "cpu", "--checks", "nope"]])
def test_bad_command_line_exits_2(xtend: XtendBuild, args: list[str]) -> None:
    code, _ = run(xtend, xtend.ours, *args)
    assert code == 2
