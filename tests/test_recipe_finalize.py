"""Finalized win-64 renders: conda-build solves the build and host environments against a
local channel of stand-ins for conda-forge's packages (tests/conda_standins.py, each with the
run_exports its feedstock declares) and applies their run_exports, as on Windows.

What this shows: ffcv's final run requirements (what a user's solver sees), that the host
environment gets headless OpenCV and the regular (not free-threaded) Python 3.13, that vs2026
builds require the newer MSVC runtime, and that the noarch recipes stay noarch with run
requirements of their own only.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from conda_standins import STANDINS, make_channel

from tools.recipes import (
    PYTHONS,
    RECIPES_DIR,
    Job,
    Variant,
    pick,
    prefetch,
    render_job,
    render_variants,
)

NOARCH = ("fastai", "fastargs", "fastcore", "fastxtend")
FFCV_VS2022 = Job(RECIPES_DIR / "ffcv", "win-64", "vs2022", PYTHONS, finalize=True)
FFCV_VS2026 = Job(RECIPES_DIR / "ffcv", "win-64", "vs2026", ("3.12",), finalize=True)
NOARCH_JOBS = {name: Job(RECIPES_DIR / name, "win-64", finalize=True) for name in NOARCH}
# from the stand-ins' run_exports (feedstocks cited in tests/conda_standins.py)
VS2022_RUNTIME = {"vc >=14.3,<15", "vc14_runtime >=14.44.35208", "ucrt >=10.0.20348.0"}
VS2026_RUNTIME = {"vc >=14.5,<15", "vc14_runtime >=14.51.36231", "ucrt >=10.0.20348.0"}
LIBRARIES = {"libopencv >=5.0.0,<5.0.1.0a0", "libjpeg-turbo >=3.1.4.1,<4.0a0"}


@pytest.fixture(scope="module")
def channel(tmp_path_factory: pytest.TempPathFactory, report_figure) -> Path:
    started = time.monotonic()
    folder = make_channel(tmp_path_factory.mktemp("standins"))
    prefetch([FFCV_VS2022, FFCV_VS2026, *NOARCH_JOBS.values()], folder)
    seconds = time.monotonic() - started
    report_figure(f"finalized win-64 renders (stand-in channel): {seconds:.1f} s")
    return folder


def ffcv(channel: Path, python: str, job: Job = FFCV_VS2022) -> Variant:
    return pick(render_job(job, channel), python)


def solved(variant: Variant, section: str = "host") -> dict[str, tuple[str, str]]:
    """name -> (version, build) of a solved environment (finalized specs are exact)."""
    out = {}
    for spec in variant.requirements(section):
        name, version, build = spec.split()
        out[name] = (version, build)
    return out


@pytest.mark.parametrize("python", PYTHONS)
def test_ffcv_final_run_requirements(channel: Path, python: str) -> None:
    variant = ffcv(channel, python)
    assert variant.final
    major, minor = (int(p) for p in python.split("."))
    # the recipe's own run requirements as rendered before finalization, bare python aside
    own = set(pick(render_variants(RECIPES_DIR / "ffcv", "win-64"), python).requirements("run"))
    assert {"py-opencv * headless*", "pthreads-win32", "python"} <= own
    expected = (own - {"python"}) | VS2022_RUNTIME | LIBRARIES
    expected |= {
        f"python >={python},<{major}.{minor + 1}.0a0",
        f"python_abi {python}.* *_cp{major}{minor}",
    }
    assert set(variant.requirements("run")) == expected


def test_vs2026_build_requires_the_vs2026_runtime(channel: Path) -> None:
    run = set(ffcv(channel, "3.12", FFCV_VS2026).requirements("run"))
    assert VS2026_RUNTIME <= run and not (VS2022_RUNTIME - VS2026_RUNTIME) & run
    build = solved(ffcv(channel, "3.12", FFCV_VS2026), "build")
    assert build["vs2026_win-64"][0] == "19.51.36231" and build["vs_win-64"][0] == "2026.1"


@pytest.mark.parametrize("python", PYTHONS)
def test_ffcv_host_env_gets_headless_opencv_and_the_regular_python(
    channel: Path, python: str
) -> None:
    host = solved(ffcv(channel, python))
    # the qt6 build (603) has the higher build number; `libopencv * headless*` keeps it out
    assert host["libopencv"][0] == "5.0.0" and host["libopencv"][1].startswith("headless_")
    assert host["python"][0].startswith(f"{python}.")
    assert not host["python"][1].endswith("t"), "free-threaded build in the host env"
    assert {"libjpeg-turbo", "pthreads-win32", "pip", "setuptools"} <= host.keys()


@pytest.mark.parametrize("python", PYTHONS)
def test_ffcv_final_build_string(channel: Path, python: str) -> None:
    variant = ffcv(channel, python)
    nodot = python.replace(".", "")
    assert variant.build_string.startswith(f"ffcvwin_py{nodot}h") and variant.build_number == 0


@pytest.mark.parametrize("name", NOARCH)
def test_noarch_recipes_stay_noarch(channel: Path, name: str) -> None:
    (variant,) = render_job(NOARCH_JOBS[name], channel)
    assert variant.final and variant.noarch == "python"
    run = variant.requirements("run")
    assert "python >=3.10" in run
    exported = [r for r in run if r.split()[0] in {"python_abi", "vc", "vc14_runtime", "ucrt"}]
    assert exported == [], "noarch: python must not get platform run_exports"
    assert solved(variant)["python"][0].startswith("3.10."), "built on python_min"
    assert variant.build_string == ("py_0" if name == "fastargs" else "ffcvwin_py_0")


def test_every_stand_in_names_its_source() -> None:
    for pkg in STANDINS:
        assert pkg.source.startswith("workaround") or "feedstock@" in pkg.source, pkg
