"""Every conda spec the project writes parses in py-rattler's strict mode and selects the
builds it is meant to select.

conda and micromamba accept some spellings that rattler (pixi, rattler-build) rejects in
strict mode (`pytorch=*=cuda*`, `ffcv 1.0.2 ffcvwin_*`); the forms used here are valid in
all of them. Covered: every non-comment line of every env/*.txt (the training environment
and the variant files build_channel.cmd adds with --file), the `python=3.X` spec the driver
adds, and every requirement of every recipe as conda-build renders it. Matches are checked
against real conda-forge build strings: pytorch-cpu-feedstock @74dd3d4 (recipe/meta.yaml:
`cuda{ver}_{blas}_py{CONDA_PY}_h{hash}_{build}` and `cpu_{blas}_py{CONDA_PY}_h{hash}_{build}`,
build 2 +200 for CUDA +100 for mkl), opencv-feedstock @1827a2e (`headless_h{hash}_3`,
`qt6_h{hash}_603`), python-feedstock (`h{hash}_0_cpython`, `_100_cp313`, `_0_cp313t`).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from rattler import MatchSpec, PackageRecord

from tools.recipes import COMPILERS, PYTHONS, RECIPES_DIR, REPO, SUBDIRS, render_variants

ENV_FILES = sorted((REPO / "env").glob("*.txt"))
RECIPES = sorted(p.parent.name for p in RECIPES_DIR.glob("*/meta.yaml"))
SECTIONS = ("build", "host", "run")


def record(name: str, version: str, build: str, subdir: str = "win-64") -> PackageRecord:
    last = build.split("_")[-1]
    number = int(last) if last.isdigit() else 0
    return PackageRecord(
        name=name, version=version, build=build, build_number=number, subdir=subdir
    )


PYTORCH = {
    "cuda128": record("pytorch", "2.13.0", "cuda128_mkl_py312_h8c4d2e1_302"),
    "cuda130": record("pytorch", "2.13.0", "cuda130_mkl_py312_h3f1a9b7_302"),
    "cpu": record("pytorch", "2.13.0", "cpu_mkl_py312_h5e6f7a8_102"),
    # the forms named in the issue (an earlier build number)
    "cuda128_100": record("pytorch", "2.13.0", "cuda128_mkl_py312_h1a2b3c4_100"),
    "cpu_100": record("pytorch", "2.13.0", "cpu_mkl_py312_h1a2b3c4_100"),
}


def env_specs(path: Path) -> list[str]:
    """The spec lines micromamba reads from a --file: blank and whole-line # lines skipped."""
    lines = path.read_text(encoding="ascii").splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]


def strict(spec: str) -> MatchSpec:
    return MatchSpec(spec, strict=True)


def rendered_specs() -> list[tuple[str, str]]:
    """(where, spec) for every requirement and test requirement of every rendered variant."""
    out = []
    for recipe in RECIPES:
        for subdir in SUBDIRS:
            for compiler in COMPILERS:
                for variant in render_variants(RECIPES_DIR / recipe, subdir, compiler):
                    where = f"{variant.dist} ({subdir}, {compiler})"
                    for section in SECTIONS:
                        out += [(f"{where} {section}", s) for s in variant.requirements(section)]
                    test = variant.meta.get("test") or {}
                    out += [(f"{where} test", s) for s in test.get("requires") or []]
    return out


def test_the_env_folder_has_the_training_env_and_the_variant_files() -> None:
    names = {p.name for p in ENV_FILES}
    assert "training.txt" in names
    assert {"variant-cpu.txt", "variant-cuda-12.8.txt", "variant-cuda-13.0.txt"} <= names


@pytest.mark.parametrize("path", ENV_FILES, ids=lambda p: p.name)
def test_every_env_line_parses_strictly(path: Path) -> None:
    specs = env_specs(path)
    assert specs, f"{path.name} has no specs"
    for spec in specs:
        assert "#" not in spec, f"{path.name}: trailing comment in {spec!r}"
        strict(spec)  # raises InvalidMatchSpecError with rattler's reason


def test_strict_mode_rejects_the_old_spellings() -> None:
    """The forms this project used before, which conda accepts but rattler does not."""
    for spec in ("pytorch=*=cuda*", "pytorch=*=cpu*", "ffcv 1.0.2 ffcvwin_*"):
        with pytest.raises(Exception, match=r"build string|range specifier"):
            strict(spec)


@pytest.mark.parametrize("python", PYTHONS)
def test_driver_python_spec(python: str) -> None:
    """build_channel.cmd adds `python=3.X`: the 3.X line, any build of it."""
    spec = strict(f"python={python}")
    suffix = "_100_cp313" if python == "3.13" else "_0_cpython"
    assert spec.matches(record("python", f"{python}.4", f"h0a1b2c3{suffix}"))
    assert not spec.matches(record("python", f"{python[:-1]}9.4", f"h0a1b2c3{suffix}"))


def test_variant_files_select_the_pytorch_builds_they_name() -> None:
    intent = {
        "variant-cpu.txt": ({"cpu", "cpu_100"}, None),
        "variant-cuda-12.8.txt": ({"cuda128", "cuda128_100"}, "12.8"),
        "variant-cuda-13.0.txt": ({"cuda130"}, "13.0"),
    }
    cuda_only = {"cuda128", "cuda130", "cuda128_100"}
    for name, (wanted, cuda) in intent.items():
        specs = {s.split()[0]: strict(s) for s in env_specs(REPO / "env" / name)}
        chosen = {k for k, rec in PYTORCH.items() if specs["pytorch"].matches(rec)}
        # a pytorch spec selects by build kind; cuda-version picks the CUDA line
        assert wanted <= chosen and not (chosen & ({"cpu", "cpu_100"} if cuda else cuda_only))
        if cuda is None:
            assert "cuda-version" not in specs
            continue
        other = "13.0" if cuda == "12.8" else "12.8"
        assert specs["cuda-version"].matches(record("cuda-version", cuda, "h4a5b6c7_3"))
        assert not specs["cuda-version"].matches(record("cuda-version", other, "h4a5b6c7_3"))


def test_training_env_pins_select_our_builds() -> None:
    specs = {s.split()[0]: strict(s) for s in env_specs(REPO / "env" / "training.txt")}
    for recipe in RECIPES:
        if recipe not in specs:
            continue
        for subdir in SUBDIRS:
            for variant in render_variants(RECIPES_DIR / recipe, subdir):
                ours = record(variant.name, variant.version, variant.build_string, subdir)
                assert specs[recipe].matches(ours), variant.dist
                theirs = record(variant.name, variant.version, "pyhd8ed1ab_0", subdir)
                assert not specs[recipe].matches(theirs), "a conda-forge build would match"
    assert {"ffcv", "fastxtend", "fastai", "fastcore"} <= specs.keys()


def test_every_rendered_requirement_parses_strictly() -> None:
    specs = rendered_specs()
    assert len(specs) > 500
    bad = []
    for where, spec in specs:
        try:
            strict(spec)
        except Exception as error:
            bad.append(f"{where}: {spec!r}: {error}")
    assert bad == []


def test_opencv_specs_select_headless_builds() -> None:
    headless = record("libopencv", "5.0.0", "headless_h2c3d4e5_3")
    qt6 = record("libopencv", "5.0.0", "qt6_h2c3d4e5_603")
    py_headless = record("py-opencv", "5.0.0", "headless_h6a7b8c9_3")
    py_qt6 = record("py-opencv", "5.0.0", "qt6_h6a7b8c9_603")
    variant = render_variants(RECIPES_DIR / "ffcv", "win-64")[0]
    host = [strict(s) for s in variant.requirements("host") if s.startswith("libopencv")]
    assert len(host) == 2
    assert all(s.matches(headless) for s in host)
    assert not all(s.matches(qt6) for s in host), "the host env could get the Qt build"
    assert not all(s.matches(record("libopencv", "4.13.0", "headless_h2c3d4e5_3")) for s in host)
    (run,) = [strict(s) for s in variant.requirements("run") if s.startswith("py-opencv")]
    assert run.matches(py_headless) and not run.matches(py_qt6)


def test_upper_bounds_exclude_pre_releases_of_the_excluded_version() -> None:
    """`pandas <3` admits 3.0.0rc1 (conda orders pre-releases before the release); the
    recipes write conda-forge's `<3.0a0`. Checked for every `<` bound the recipes declare."""
    bad = []
    for where, spec in rendered_specs():
        for part in spec.split()[1].split(",") if len(spec.split()) > 1 else []:
            if not part.startswith("<") or part.startswith("<="):
                continue
            excluded = part[1:].removesuffix("a0").removesuffix(".0")
            ms = strict(spec.split()[0] + " " + part)
            for pre in (f"{excluded}.0rc1", f"{excluded}.0a1", f"{excluded}.0.dev0"):
                if ms.matches(record(spec.split()[0], pre, "0")):
                    bad.append(f"{where}: {spec!r} admits {pre}")
    assert bad == []
