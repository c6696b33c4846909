"""recipes/ffcv/meta.yaml as conda-build renders it for win-64 and linux-64 (Python 3.12,
vs2022): the real sdist, the patches, the requirements, the run pins against the verified set.
tests/test_recipe_render.py covers every Python and compiler variant."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet

from tools.build_ffcv import RECIPE
from tools.recipes import requirement_names, requirement_specs
from tools.sources import fetch, sha256_of

REPO = Path(__file__).resolve().parent.parent
# conda-forge name -> PyPI name used in tests/requirements.txt (the verified set)
PYPI_NAME = {"pytorch": "torch", "py-opencv": "opencv-python"}
RUN_DEPENDENCIES = {
    "python",
    "numpy",
    "numba",
    "py-opencv",
    "pytorch",
    "terminaltables",
    "pytorch-pfn-extras",
    "fastargs",
    "assertpy",
    "tqdm",
    "psutil",
}


def verified_versions() -> dict[str, str]:
    pins = {}
    for line in (REPO / "tests" / "requirements.txt").read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)==([^\s#]+)", line)
        if match:
            pins[match[1].lower()] = match[2]
    return pins


def test_source_is_the_real_sdist(ffcv_linux):
    source = ffcv_linux["source"]
    assert source["url"].endswith("/ffcv-1.0.2.tar.gz")
    assert sha256_of(fetch(source["url"], source["sha256"])) == source["sha256"]


def test_every_patch_file_is_listed_and_exists(ffcv_linux):
    listed = ffcv_linux["source"]["patches"]
    on_disk = sorted(p.relative_to(RECIPE).as_posix() for p in (RECIPE / "patches").glob("*"))
    assert sorted(listed) == on_disk
    for patch in listed:
        text = (RECIPE / patch).read_text()
        assert "Written for the ffcv conda recipe" in text, f"{patch} lacks its explanation"


def test_build_requirements_use_the_variant_compilers(ffcv_win, ffcv_linux):
    assert ffcv_win["requirements"]["build"] == ["vs2022_win-64", "vs_win-64"]
    # conda-build writes variant versions as `15.*` (a bare `15` would mean exactly 15)
    assert ffcv_linux["requirements"]["build"] == [
        "gxx_linux-64 15.*",
        "sysroot_linux-64 2.17.*",
        "pkg-config",
    ]


@pytest.mark.parametrize("platform", ["win", "linux"])
def test_host_requirements(platform, ffcv_win, ffcv_linux):
    rendered = ffcv_win if platform == "win" else ffcv_linux
    host_lines = rendered["requirements"]["host"]
    host = requirement_specs(rendered, "host")
    assert {"python", "pip", "setuptools", "libopencv", "libjpeg-turbo"} <= set(host)
    assert host["python"] == "3.12.* *_cpython"
    assert {"libopencv 5.0.0.*", "libopencv * headless*", "libjpeg-turbo 3.*"} <= set(host_lines)
    assert SpecifierSet(host["setuptools"].replace(" ", "")).contains("84.2.1")
    assert not SpecifierSet(host["setuptools"].replace(" ", "")).contains("85.0.0")
    assert ("pthreads-win32" in host) == (platform == "win")
    assert "pkg-config" not in host


def test_run_requirements_are_what_ffcv_imports(ffcv_win, ffcv_linux):
    # pthreads-win32 has no run_exports: the DLL the extension imports must be named.
    assert set(requirement_names(ffcv_win, "run")) == RUN_DEPENDENCIES | {"pthreads-win32"}
    assert set(requirement_names(ffcv_linux, "run")) == RUN_DEPENDENCIES
    # run_exports of libopencv carry no build string: headless must be asked for here.
    assert requirement_specs(ffcv_win, "run")["py-opencv"] == "* headless*"


def test_run_pins_admit_the_verified_versions(ffcv_win):
    verified = verified_versions()
    for name, spec in requirement_specs(ffcv_win, "run").items():
        version_part = spec.split()[0] if spec else ""
        if name == "python" or version_part in ("", "*"):
            continue
        pypi = PYPI_NAME.get(name, name)
        assert SpecifierSet(version_part).contains(verified[pypi]), (name, spec)


def test_test_section(ffcv_win):
    test = ffcv_win["test"]
    assert {"ffcv", "ffcv._libffcv", "ffcv.libffcv"} <= set(test["imports"])
    assert "pip check" in test["commands"]
    assert "pip" in test["requires"]
    # conda-build runs run_test.py next to meta.yaml by itself.
    assert (RECIPE / "run_test.py").is_file()


def test_build_scripts_install_with_pip_and_no_isolation():
    bat = (RECIPE / "bld.bat").read_bytes()
    assert b"\r\n" in bat and b"\n" not in bat.replace(b"\r\n", b"")
    assert bat.isascii()
    assert b'"%PYTHON%" -m pip install . --no-deps --no-build-isolation -vv' in bat
    assert b"if errorlevel 1 exit /b 1" in bat
    sh = (RECIPE / "build.sh").read_text()
    assert '"${PYTHON}" -m pip install . --no-deps --no-build-isolation -vv' in sh
    assert "set -euxo pipefail" in sh
