"""Fixtures for the fastxtend/fastai/fastcore recipes: real sources, real builds, test sites.

What is built, once per test session (the sdists and wheels are cached by tools.sources):
- each recipe's sdist, sha256-verified and patched as conda-build would (tools.sources);
- a wheel from each patched sdist with the recipes' own build command (pip, no deps, no build
  isolation, the .venv's setuptools 84.2.1 standing in for the host prefix);
- the wheels PyPI publishes for the same versions (sha256-pinned, from PyPI's simple index),
  to compare code and metadata with;
- two install folders for PYTHONPATH: ``ours`` (our fastxtend and fastai wheels) and
  ``upstream`` (fastxtend 0.1.7 unpatched, our fastai). Everything else comes from .venv,
  which holds the rest of the verified pins (tests/requirements.txt) and ffcv.

Test modules wrap ``build_once`` in a session fixture; the work is done once per process.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from tools.recipes import LINUX64, RECIPES_DIR, render
from tools.sources import fetch, prepare_source, unpack

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
SHIM = TESTS / "xtend_shim"
RECIPES = ("fastcore", "fastai", "fastxtend")
# The wheels PyPI publishes for the versions our recipes build (https://pypi.org/simple/<name>/
# lists each file's URL with its sha256).
PUBLISHED_WHEELS = {
    "fastxtend": (
        "https://files.pythonhosted.org/packages/0a/9e/30a731adbc3372926e7b3c97b73db7076d3495f12dce977f62341568e7b4/fastxtend-0.1.7-py3-none-any.whl",
        "b84b2ac52aac5e62bc3446722160cfd96e4f90f931d77223b9e46e3b0a208afb",
    ),
    "fastai": (
        "https://files.pythonhosted.org/packages/23/bc/70d6b42278b6d4e343c552089c5e5aed6dafa45703e565ffc1ed69f6ea44/fastai-2.7.19-py3-none-any.whl",
        "8c47d72ac28cd09671ce85f42100436b99af44e4147bd9df0495049b50708d3b",
    ),
    "fastcore": (
        "https://files.pythonhosted.org/packages/d7/3a/a0b1c764426622287c9b6547d4ea637c406bc884141814df4a5ebab3ab9b/fastcore-1.7.29-py3-none-any.whl",
        "76fd4815eabbed704faca3abfea4b7e1f98b6351ba6c869a2d405f37bc4b0074",
    ),
}


@dataclass(frozen=True)
class XtendBuild:
    """Everything the fastxtend tests need, built once."""

    pristine: dict[str, Path]  # recipe -> unpacked sdist, no patches
    patched: dict[str, Path]  # recipe -> unpacked sdist with the recipe's patches
    wheels: dict[str, Path]  # recipe -> wheel built from the patched sdist
    published: dict[str, Path]  # recipe -> PyPI's wheel
    ours: Path  # install folder: our fastxtend + our fastai
    upstream: Path  # install folder: unpatched fastxtend 0.1.7 + our fastai

    def env(self, site: Path) -> dict[str, str]:
        """Environment for a subprocess that should import fastxtend/fastai from ``site``."""
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(SHIM), str(site)])
        env["FFCVWIN_TORCHVISION_SHIM"] = "1"
        env["FFCVWIN_TESTS_DIR"] = str(TESTS)
        return env


def _pip(*args: str | Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pip", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"pip {' '.join(map(str, args))} failed:\n{result.stdout[-3000:]}"
            f"{result.stderr[-3000:]}"
        )


def _build(work: Path) -> XtendBuild:
    pristine, patched, wheels, published = {}, {}, {}, {}
    for name in RECIPES:
        recipe = RECIPES_DIR / name
        source = render(recipe, LINUX64)["source"]
        patches = [recipe / p for p in source.get("patches", [])]
        patched[name] = prepare_source(
            source["url"], source["sha256"], patches, work / name / "patched"
        )
        pristine[name] = unpack(fetch(source["url"], source["sha256"]), work / name / "pristine")
        out = work / name / "wheel"
        _pip("wheel", "--no-deps", "--no-build-isolation", "-q", "-w", out, patched[name])
        (wheels[name],) = out.glob("*.whl")
        published[name] = fetch(*PUBLISHED_WHEELS[name])
    ours, upstream = work / "site-ours", work / "site-upstream"
    _pip("install", "--no-deps", "-q", "--target", ours, wheels["fastxtend"], wheels["fastai"])
    _pip("install", "--no-deps", "-q", "--target", upstream, wheels["fastai"])
    shutil.copytree(pristine["fastxtend"] / "fastxtend", upstream / "fastxtend")
    return XtendBuild(pristine, patched, wheels, published, ours, upstream)


_BUILD: XtendBuild | None = None


def build_once(tmp_path_factory: pytest.TempPathFactory) -> XtendBuild:
    """The sources, wheels and install folders, built on the first call of the session.

    Each test module declares its own session fixture that calls this (so no conftest
    registration is needed); the module-level cache makes them share one build.
    """
    global _BUILD
    if _BUILD is None:
        _BUILD = _build(tmp_path_factory.mktemp("xtend"))
    return _BUILD


def wheel_files(wheel: Path, package: str) -> dict[str, bytes]:
    """Contents of the files under ``package/`` in a wheel, by path."""
    with zipfile.ZipFile(wheel) as zf:
        return {n: zf.read(n) for n in zf.namelist() if n.startswith(package + "/")}


def tree_files(root: Path, package: str) -> dict[str, bytes]:
    """Contents of the files under ``root/package/``, by path relative to ``root``."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted((root / package).rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }
