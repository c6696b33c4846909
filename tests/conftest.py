"""Shared fixtures. tests/run.sh builds and installs the patched FFCV into .venv before
pytest starts (tools/build_ffcv.py), so tests may import ffcv; the fixtures here give the
patched source tree and the recipe rendered for each platform."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.build_ffcv import RECIPE, patched_source
from tools.recipes import LINUX64, WIN64, render

REPO = Path(__file__).resolve().parent.parent

pytest_plugins = ["harness.wine_fixtures"]


@pytest.fixture(scope="session")
def ffcv_src(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """FFCV 1.0.2's sdist, sha256-verified and patched exactly as conda-build would."""
    return patched_source(tmp_path_factory.mktemp("ffcv-src"))


@pytest.fixture(scope="session")
def ffcv_win() -> dict:
    return render(RECIPE, WIN64)


@pytest.fixture(scope="session")
def ffcv_linux() -> dict:
    return render(RECIPE, LINUX64)


_FIGURES: list[str] = []


@pytest.fixture(scope="session")
def report_figure():
    """Tests call this with a line (counts, timings) shown at the end of the pytest run."""
    return _FIGURES.append


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _FIGURES:
        terminalreporter.section("figures")
        for line in _FIGURES:
            terminalreporter.write_line(line)
