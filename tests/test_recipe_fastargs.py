"""recipes/fastargs: the noarch recipe for the one FFCV run dependency conda-forge lacks.

Proves: the recipe renders (real conda-build) the same for win-64 and linux-64 (noarch) with
the pins and test section it needs; its sha256 is the real PyPI sdist's (downloaded and
checked); the license comes from the release tag, since the sdist has none; the reason
for the undeclared run dependency is real (fastargs imports terminaltables at module level,
and `import fastargs` fails without it); and the recipe's own build script, run the way
conda-build runs it (host env = python + pip + setuptools), installs a package that passes the
recipe's test imports and `pip check`.
"""

from __future__ import annotations

import ast
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tools.recipes import LINUX64, RECIPES_DIR, WIN64, render, requirement_specs
from tools.sources import fetch, unpack

RECIPE = RECIPES_DIR / "fastargs"
HOST_PINS = ["setuptools==84.2.1"]  # tests/requirements.txt's build-backend pin
RUN_PINS = ["terminaltables==3.1.10"]  # DESIGN.md section 6's verified version


@pytest.fixture(scope="module")
def meta() -> dict:
    return render(RECIPE, LINUX64)


@pytest.fixture(scope="module")
def src(meta: dict, tmp_path_factory: pytest.TempPathFactory) -> Path:
    sdist = meta["source"][0]
    archive = fetch(sdist["url"], sdist["sha256"])
    return unpack(archive, tmp_path_factory.mktemp("fastargs-src"))


def test_noarch_recipe_renders_identically_on_both_platforms(meta: dict) -> None:
    assert render(RECIPE, WIN64) | {"build": None} == meta | {"build": None}
    assert meta["build"]["noarch"] == "python"
    assert "-m pip install . --no-deps --no-build-isolation" in meta["build"]["script"]
    run = requirement_specs(meta, "run")
    assert run == {"python": ">=3.10", "terminaltables": ""}
    assert {"python", "pip", "setuptools"} <= set(requirement_specs(meta, "host"))
    assert "fastargs" in meta["test"]["imports"]
    assert "pip check" in meta["test"]["commands"]
    assert meta["source"][0]["url"].startswith("https://files.pythonhosted.org/")


def test_license_file_comes_from_the_release_tag(meta: dict) -> None:
    """conda-smithy requires license_file; the sdist has none, so the recipe's second source
    is LICENSE of the v1.2.0 commit (GitHub is not reachable here: the sha256 is that of the
    git blob in GuillaumeLeclerc/fastargs, checked when the recipe was written)."""
    (_, license_source) = meta["source"]
    tag_commit = "bf2e0ac826bfb81f7559cd44e956c6a4aad982f1"
    assert license_source["url"] == (
        f"https://raw.githubusercontent.com/GuillaumeLeclerc/fastargs/{tag_commit}/LICENSE"
    )
    assert len(license_source["sha256"]) == 64
    assert meta["about"]["license_file"] == "LICENSE"
    assert meta["about"]["license"] == "MIT"


def test_sdist_matches_pin_and_needs_terminaltables(src: Path) -> None:
    # fetch() already refused a file whose sha256 differs from the recipe's pin.
    tree = ast.parse((src / "fastargs" / "config.py").read_text(encoding="utf-8"))
    top_level = {
        node.module for node in tree.body if isinstance(node, ast.ImportFrom) and node.module
    }
    assert "terminaltables" in top_level
    setup = (src / "setup.py").read_text(encoding="utf-8")
    assert "install_requires=[]" in setup, "fastargs now declares its deps: revisit the recipe"
    assert not list(src.glob("LICENSE*")), "the sdist ships a license file now: use it"


def _venv(path: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
    return path / "bin" / "python"


def _pip(python: Path, *args: str) -> None:
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *args],
        check=True,
    )


@pytest.mark.slow
def test_build_script_installs_a_package_that_passes_the_recipe_tests(
    meta: dict, src: Path, tmp_path: Path
) -> None:
    python = _venv(tmp_path / "prefix")
    _pip(python, *HOST_PINS)
    # conda-build puts the host prefix's interpreter path where the recipe says {{ PYTHON }}
    interpreter, args = meta["build"]["script"].split(" ", 1)
    assert interpreter.endswith("/bin/python")
    env = dict(os.environ, PYTHON=str(python), SRC_DIR=str(src), RECIPE_DIR=str(RECIPE))
    subprocess.run(
        [str(python), *shlex.split(args)], cwd=src, env=env, check=True, capture_output=True
    )

    imports = "; ".join(f"import {name}" for name in meta["test"]["imports"])
    missing = subprocess.run([str(python), "-c", imports], capture_output=True, text=True)
    assert missing.returncode != 0
    assert "No module named 'terminaltables'" in missing.stderr

    _pip(python, *RUN_PINS)
    subprocess.run([str(python), "-c", imports], check=True)
    for command in meta["test"]["commands"]:
        assert command == "pip check"
        subprocess.run([str(python), "-m", "pip", "check"], check=True)
