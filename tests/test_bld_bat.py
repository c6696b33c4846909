"""Every recipes/*/bld.bat under Wine 10, with the environment conda-build gives it.

python.exe is a double: it stands in for the host env's CPython for Windows, which cannot exist
here. It logs the exact command line bld.bat runs; the test checks it is the documented pip
call, started in %SRC_DIR%, and that a failing pip fails the script.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.wine import windows_path

pytestmark = pytest.mark.wine

REPO = Path(__file__).resolve().parent.parent
BLD_BATS = sorted(REPO.glob("recipes/*/bld.bat"))
PIP_ARGS = ["-m", "pip", "install", ".", "--no-deps", "--no-build-isolation", "-vv"]


def conda_build_env(prefix: Path, src: Path, recipe: Path) -> dict[str, str]:
    """The variables conda-build sets for bld.bat on win-64 (conda_build/environ.py, windows.py)."""
    w = windows_path
    return {
        "PREFIX": w(prefix),
        "BUILD_PREFIX": w(prefix.parent / "_build_env"),
        "LIBRARY_PREFIX": w(prefix / "Library"),
        "LIBRARY_BIN": w(prefix / "Library" / "bin"),
        "LIBRARY_INC": w(prefix / "Library" / "include"),
        "LIBRARY_LIB": w(prefix / "Library" / "lib"),
        "SCRIPTS": w(prefix / "Scripts"),
        "SP_DIR": w(prefix / "Lib" / "site-packages"),
        "PYTHON": w(prefix / "python.exe"),
        "PY_VER": "3.12",
        "SRC_DIR": w(src),
        "RECIPE_DIR": w(recipe),
        "PKG_NAME": recipe.name,
        "PKG_VERSION": "0",
        "PKG_BUILDNUM": "0",
        "CPU_COUNT": "2",
        "CONDA_BUILD": "1",
        "DISTUTILS_USE_SDK": "1",
    }


def test_recipes_have_bld_bat():
    assert BLD_BATS, "recipes/ffcv/bld.bat at least"


@pytest.mark.parametrize("bld", BLD_BATS, ids=lambda p: p.parent.name)
@pytest.mark.parametrize("pip_rc", [0, 1])
def test_bld_bat_runs_the_exact_pip_command(wine, doubles, tmp_path, bld: Path, pip_rc: int):
    # A space in the prefix: bld.bat must quote %PYTHON%.
    prefix = tmp_path / "h env" / "prefix"
    src = tmp_path / "work"
    src.mkdir()
    d = doubles.make(prefix, "python")
    d.configure("python", f"out pip double\nexit {pip_rc}\n")
    env = {**conda_build_env(prefix, src, bld.parent), **d.env}
    r = wine.run_batch(bld, cwd=src, env=env, mounts=[tmp_path])
    (call,) = d.calls("python")
    assert call["argv"] == PIP_ARGS
    assert call["cwd"] == windows_path(src)
    assert call["cmdline"] == f'"{windows_path(prefix / "python.exe")}" ' + " ".join(PIP_ARGS)
    if pip_rc == 0:
        assert r.returncode == 0, r.stdout + r.stderr
    else:
        assert r.returncode != 0, "a failed pip install must fail the build"
