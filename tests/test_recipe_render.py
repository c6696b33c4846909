"""Every recipe as the real conda-build 26.3.0 renders it (no renderer of our own).

tools/recipes.py runs ``conda_build.api.render`` in .venv-conda with the ``conda build``
arguments scripts/build_recipes.py passes on Windows (its variant file: the MSVC compiler and
the Pythons), for win-64 and linux-64, with vs2022 and vs2026, for Python 3.10-3.13 at once
(one call, as ``build_channel.cmd --upload`` builds them). Each assertion here is on what
conda-build itself decided: used variant keys, pinned host requirements, build strings,
test sections.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tools.errors import RecipeError
from tools.recipes import (
    COMPILERS,
    PYTHONS,
    RECIPES_DIR,
    SUBDIRS,
    Job,
    Variant,
    pick,
    prefetch,
    render_job,
    render_variants,
    standard_jobs,
)

RECIPES = sorted(p.parent.name for p in RECIPES_DIR.glob("*/meta.yaml"))
NOARCH = [r for r in RECIPES if r != "ffcv"]
MATRIX = [(s, c) for s in SUBDIRS for c in COMPILERS]
# the variant keys conda-build finds used (MetaData.get_used_vars): these enter the hash
FFCV_USED = {"c_stdlib", "cxx_compiler", "libjpeg_turbo", "libopencv", "python"}
USED = {
    ("ffcv", "win-64"): FFCV_USED | {"target_platform"},
    ("ffcv", "linux-64"): FFCV_USED
    | {"target_platform", "c_stdlib_version", "cxx_compiler_version"},
    **{(r, s): {"python_min"} for r in NOARCH for s in SUBDIRS},
}


# conda-build 26.3.0 crashes when --python is given twice (conda/conda-build issue #5051)
TWO_PYTHON_OPTIONS = Job(
    RECIPES_DIR / "ffcv", "win-64", extra_args=("--python", "3.10", "--python", "3.11")
)


def opencv_413_job(folder: Path) -> Job:
    """ffcv for Python 3.12 with one more variant file that moves libopencv to 4.13.0."""
    other = folder / "opencv-413.yaml"
    other.write_text("libopencv:\n  - 4.13.0\n", encoding="utf-8")
    return Job(RECIPES_DIR / "ffcv", "win-64", "vs2022", ("3.12",), extra_args=("-m", str(other)))


@pytest.fixture(scope="module", autouse=True)
def matrix(report_figure, tmp_path_factory: pytest.TempPathFactory) -> Job:
    """Everything this module renders, in one conda-build process; returns the 4.13.0 job."""
    import time

    started = time.monotonic()
    extra = opencv_413_job(tmp_path_factory.mktemp("variants"))
    jobs = [*standard_jobs(), extra, TWO_PYTHON_OPTIONS]
    prefetch(jobs)
    report_figure(
        f"conda-build render of {len(jobs)} jobs (recipe x subdir x compiler, Python "
        f"3.10-3.13): {time.monotonic() - started:.1f} s"
    )
    return extra


def ffcv(subdir: str, compiler: str) -> list[Variant]:
    return render_variants(RECIPES_DIR / "ffcv", subdir, compiler)


@pytest.mark.parametrize(("subdir", "compiler"), MATRIX)
@pytest.mark.parametrize("recipe", RECIPES)
def test_used_variant_keys(recipe: str, subdir: str, compiler: str) -> None:
    for variant in render_variants(RECIPES_DIR / recipe, subdir, compiler):
        assert set(variant.used_vars) == USED[recipe, subdir], variant.dist


@pytest.mark.parametrize(("subdir", "compiler"), MATRIX)
def test_one_ffcv_per_python_and_noarch_recipes_once(subdir: str, compiler: str) -> None:
    pythons = sorted(v.python for v in ffcv(subdir, compiler))
    assert pythons == [f"{p}.* *_cp313" if p == "3.13" else f"{p}.* *_cpython" for p in PYTHONS]
    for recipe in NOARCH:
        (only,) = render_variants(RECIPES_DIR / recipe, subdir, compiler)
        assert only.noarch == "python"


@pytest.mark.parametrize(("subdir", "compiler"), MATRIX)
def test_ffcv_host_requirements_are_pinned_by_the_variants(subdir: str, compiler: str) -> None:
    for variant in ffcv(subdir, compiler):
        host = variant.requirements("host")
        # python: the variant value; 3.13 excludes the free-threaded *_cp313t builds
        assert host[0] == f"python {variant.python}"
        assert variant.python.split()[0] in {f"{p}.*" for p in PYTHONS}
        # a bare `- libopencv` takes the variant pin; the second line keeps headless
        assert "libopencv 5.0.0.*" in host and "libopencv * headless*" in host
        assert "libjpeg-turbo 3.*" in host
        assert "setuptools >=77,<85.0a0" in host and "pip" in host
        assert ("pthreads-win32" in host) == (subdir == "win-64")
        assert "pkg-config" not in host, "a build tool belongs in build:"


def test_python_313_host_excludes_the_free_threaded_build() -> None:
    for subdir, compiler in MATRIX:
        (py313,) = [v for v in ffcv(subdir, compiler) if v.python.startswith("3.13.")]
        assert "python 3.13.* *_cp313" in py313.requirements("host")


@pytest.mark.parametrize(("subdir", "compiler"), MATRIX)
def test_ffcv_build_requirements(subdir: str, compiler: str) -> None:
    expected = {
        "win-64": [f"{compiler}_win-64", "vs_win-64"],
        # `15.*`: conda-build appends .* to a variant version (a bare `15` would mean ==15)
        "linux-64": ["gxx_linux-64 15.*", "sysroot_linux-64 2.17.*", "pkg-config"],
    }[subdir]
    for variant in ffcv(subdir, compiler):
        assert variant.requirements("build") == expected


def test_no_msvc_compiler_is_asked_for_on_linux() -> None:
    """build_recipes.py's vs20xx override is selected with # [win]: without it, conda-build
    renders `vs2022_linux-64` for linux-64."""
    for compiler in COMPILERS:
        for variant in ffcv("linux-64", compiler):
            assert not [r for r in variant.requirements("build") if r.startswith("vs")]


@pytest.mark.parametrize(("subdir", "compiler"), MATRIX)
def test_ffcv_build_strings(subdir: str, compiler: str) -> None:
    variants = ffcv(subdir, compiler)
    for variant in variants:
        nodot = variant.python.split(".*")[0].replace(".", "")
        assert re.fullmatch(rf"ffcvwin_py{nodot}h[0-9a-f]{{7}}_0", variant.build_string)
    assert len({v.dist for v in variants}) == len(PYTHONS)


def test_compiler_and_opencv_version_change_the_package_name(matrix: Job) -> None:
    """Two builds against different OpenCV (or MSVC) versions must not share a file name."""
    (with_413,) = render_job(matrix)
    default = pick(ffcv("win-64", "vs2022"), "3.12")
    assert "libopencv 4.13.0.*" in with_413.requirements("host")
    assert with_413.dist != default.dist
    assert pick(ffcv("win-64", "vs2026"), "3.12").dist != default.dist


@pytest.mark.parametrize(("subdir", "compiler"), MATRIX)
@pytest.mark.parametrize("recipe", NOARCH)
def test_noarch_recipes_render_the_same_everywhere(recipe: str, subdir: str, compiler: str) -> None:
    (variant,) = render_variants(RECIPES_DIR / recipe, subdir, compiler)
    (reference,) = render_variants(RECIPES_DIR / recipe, "linux-64", "vs2022")
    assert variant.dist == reference.dist
    assert variant.meta["requirements"] == reference.meta["requirements"]
    assert variant.meta["test"] == reference.meta["test"]
    # CFEP-25: built and tested on python_min, run on any later Python
    assert "python 3.10.*" in variant.requirements("host")
    assert "python >=3.10" in variant.requirements("run")
    assert "python 3.10.*" in variant.meta["test"]["requires"]
    tag = "" if recipe == "fastargs" else "ffcvwin_"
    assert variant.build_string == f"{tag}py_0"


def test_ffcv_test_section() -> None:
    for subdir, compiler in MATRIX:
        for variant in ffcv(subdir, compiler):
            test = variant.meta["test"]
            assert {"ffcv", "ffcv._libffcv", "ffcv.libffcv", "ffcv.loader"} <= set(test["imports"])
            assert test["commands"] == ["pip check"]
            assert test["requires"] == ["pip"]
    assert (RECIPES_DIR / "ffcv" / "run_test.py").is_file(), "conda-build runs it by itself"


def test_every_noarch_recipe_tests_imports_and_pip_check() -> None:
    for recipe in NOARCH:
        (variant,) = render_variants(RECIPES_DIR / recipe, "win-64")
        test = variant.meta["test"]
        assert test["imports"] and "pip check" in test["commands"], recipe
        assert "pip" in test["requires"], recipe


def test_conda_build_fails_on_a_second_python_option() -> None:
    """Why build_recipes.py puts the Pythons into a variant file instead."""
    with pytest.raises(RecipeError, match=r"unhashable type: 'list'"):
        render_job(TWO_PYTHON_OPTIONS)
