"""fastxtend as users run it, on our build: the defects our patches 0005-0010 fix, shown to
exist in the unpatched 0.1.7 and to be gone in ours, and the documented FFCV workflow.

tests/xtend_defects.py probes each defect (its docstring lists them) and runs twice, against
our fastxtend and the unpatched release (tests/xtend_fixtures.py builds both, with our
fastai); tests/workloads/xtend_usage.py follows fastxtend's FFCV tutorial under spawn. The
three runs start at once in the background and the tests read their results.
"""

from __future__ import annotations

import json
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest
import xtend_defects
from xtend_fixtures import TESTS, XtendBuild, build_once

from workloads import xtend_usage
from workloads.runner import WORKLOADS, Outcome, run_script

pytestmark = pytest.mark.timeout(1200)

# What the unpatched fastxtend 0.1.7 does on each probe (with fastai 2.7.19, torch 2.13).
# Without patch 0003 (Loader.new) the Interpretation and export paths stop at "new"; with it
# alone they stop at "vocab", "items" and "dataset" (the list).
UPSTREAM = {
    "drop-last-default": "Expected more than 1 value per channel when training",
    "async-tfms-batch-tfms": "KeyError: 'after_batch'",
    "async-tfms-after-batch": "AttributeError: 'list' object has no attribute 'fs'",
    "compiler-callback": "cannot import name 'FILE_LIKE'",
    "export-says-how": "AttributeError: new",
    "classification-interpretation": "AttributeError: new",
    "plot-top-losses": "AttributeError: new",
}


def _lines(outcome: Outcome, prefix: str) -> dict[str, dict]:
    assert not outcome.hung and outcome.returncode == 0, outcome.output[-4000:]
    found = [
        json.loads(ln[len(prefix) :]) for ln in outcome.output.splitlines() if ln.startswith(prefix)
    ]
    return {item["name"]: item for item in found}


class Runs:
    def __init__(self, xtend: XtendBuild, work: Path) -> None:
        self.pool = ThreadPoolExecutor(max_workers=3)
        env = {"MPLBACKEND": "Agg"}
        self.usage = self.pool.submit(
            run_script,
            [str(WORKLOADS / "xtend_usage.py"), str(work / "usage")],
            {**xtend.env(xtend.ours), **env},
            None,
            0,
            1100,
        )
        self.defects: dict[str, Future[Outcome]] = {
            which: self.pool.submit(
                run_script,
                [str(TESTS / "xtend_defects.py"), str(work / f"defects-{which}")],
                {**xtend.env(site), **env},
                None,
                0,
                900,
            )
            for which, site in (("ours", xtend.ours), ("upstream", xtend.upstream))
        }

    def defect(self, which: str, name: str) -> dict:
        return _lines(self.defects[which].result(), "DEFECT ")[name]

    def check(self, name: str) -> dict:
        return _lines(self.usage.result(), "CHECK ")[name]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory):
    runs = Runs(build_once(tmp_path_factory), tmp_path_factory.mktemp("xtend-workloads"))
    yield runs
    runs.pool.shutdown(wait=True)


def test_every_defect_probe_has_an_expected_upstream_failure() -> None:
    assert set(UPSTREAM) == set(xtend_defects.CHECKS)


@pytest.mark.parametrize("name", sorted(UPSTREAM))
def test_defect_exists_in_the_unpatched_release(runs: Runs, name: str) -> None:
    result = runs.defect("upstream", name)
    assert not result["ok"], result
    observed = result.get("error") or result.get("traceback", "")
    assert UPSTREAM[name] in observed + result.get("traceback", ""), result


@pytest.mark.parametrize("name", sorted(UPSTREAM))
def test_defect_is_fixed_in_our_build(runs: Runs, name: str) -> None:
    result = runs.defect("ours", name)
    assert result["ok"], result
    assert "error" not in result or name == "export-says-how", result


@pytest.mark.parametrize("name", list(xtend_usage.CHECKS))
def test_documented_fastxtend_workflow(runs: Runs, name: str, report_figure) -> None:
    check = runs.check(name)
    assert check["ok"], check["detail"]
    if name == "fit-progressive-resize-channels-last":
        report_figure(f"fastxtend tutorial workflow on CPU: {check['detail']}")
