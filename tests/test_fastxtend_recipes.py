"""recipes/fastxtend, recipes/fastai, recipes/fastcore: rendered, fetched, patched, built, and
fastxtend's fixed defects shown to exist upstream and to be gone in our build.

Assumes: ``import ffcv`` works in .venv (tests/run.sh builds the patched FFCV first), .venv
holds tests/requirements.txt, and PyPI is reachable (sources and published wheels, cached).
"""

from __future__ import annotations

import email
import email.message
import importlib.metadata
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from xtend_fixtures import RECIPES, TESTS, XtendBuild, build_once, tree_files, wheel_files

from tools.recipes import LINUX64, RECIPES_DIR, WIN64, Platform, render

REPO = TESTS.parent
PROBE = TESTS / "xtend_probe.py"

# The run requirements each recipe must declare, exactly. Lower bounds are the packages' own;
# upper bounds are breaks measured here (DESIGN.md section 6) or, for fastai/fastcore, the
# fastcore 1.8 split that fastxtend cannot follow.
EXPECTED_RUN = {
    "fastxtend": [
        "python >=3.10",
        "fastai >=2.7.9,<2.8.0a0",
        "fastcore >=1.5.27,<1.8.0a0",
        "pandas >=2.0.3",
        "pytorch >=1.13.1",
        "ffcv >=1.0.2",
        "kornia >=0.7.0",
        "py-opencv",
        "numpy",
        "pillow <12.2.0a0",
    ],
    "fastai": [
        "python >=3.10",
        "pip",
        "packaging",
        "fastdownload >=0.0.5,<2.0a0",
        "fastcore >=1.5.29,<1.8.0a0",
        "torchvision >=0.11",
        "matplotlib-base",
        "pandas <3.0a0",
        "requests",
        "pyyaml",
        "fastprogress >=0.2.4",
        "pillow >=9.0.0",
        "scikit-learn",
        "scipy",
        "spacy <4.0a0",
        "pytorch >=1.10",
    ],
    "fastcore": ["python >=3.10", "packaging"],
}
# conda name -> PyPI name where they differ (for reading tests/requirements.txt)
PYPI_NAME = {"pytorch": "torch", "py-opencv": "opencv-python", "matplotlib-base": "matplotlib"}
# versions the verification ran with that tests/requirements.txt does not list (built here)
BUILT_HERE = {"fastai": "2.7.19", "fastxtend": "0.1.7", "ffcv": "1.0.2", "python": "3.11"}
# versions known to break the stack (DESIGN.md section 6): each must be excluded
KNOWN_BAD = [
    ("fastxtend", "pillow", "12.2.0"),
    ("fastai", "pandas", "3.0.0"),
    ("fastai", "fastcore", "1.8.0"),
    ("fastxtend", "fastcore", "1.8.0"),
    ("fastxtend", "fastai", "2.8.0"),
]
# what our patches deliberately change in the code and pip metadata of the published release
CHANGED_FILES = {
    "fastxtend": {
        "fastxtend/ffcv/loader.py",
        "fastxtend/data/loader.py",
        "fastxtend/callback/compiler.py",
    },
    "fastai": set(),
    "fastcore": set(),
}
CHANGED_REQUIRES = {"fastai": ({"torch<2.7,>=1.10"}, {"torch>=1.10"})}


@pytest.fixture(scope="session")
def xtend(tmp_path_factory: pytest.TempPathFactory) -> XtendBuild:
    return build_once(tmp_path_factory)


def verified_version(name: str) -> str:
    """The version the verification ran with: tests/requirements.txt, what we build, or (for
    dependencies the pins leave to pip) what is installed in the test venv."""
    pins = verified_versions()
    if name in pins:
        return pins[name]
    return importlib.metadata.version(name)


def verified_versions() -> dict[str, str]:
    pins = {}
    for line in (TESTS / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if "==" in line:
            name, version = line.split("==")
            pins[name.strip().lower()] = version.strip()
    return {**pins, **BUILT_HERE}


def spec_version(spec: str) -> tuple[str, SpecifierSet]:
    name, _, rest = spec.partition(" ")
    # digits, operators and conda-forge's `a0` pre-release floor (`<3.0a0`) only
    assert re.fullmatch(r"[<>=!,.\d]*(a0)?", rest), f"{spec}: not a plain version constraint"
    return name, SpecifierSet(rest)


@pytest.mark.parametrize("platform", [WIN64, LINUX64], ids=["win-64", "linux-64"])
@pytest.mark.parametrize("name", RECIPES)
def test_recipe_renders_noarch_with_the_verified_run_pins(name: str, platform: Platform) -> None:
    meta = render(RECIPES_DIR / name, platform)
    assert meta["build"]["noarch"] == "python"
    assert meta["build"]["string"].startswith("ffcvwin_"), "our builds carry the ffcvwin tag"
    assert meta["build"]["script"].endswith("-m pip install . --no-deps --no-build-isolation -vv")
    assert meta["source"]["url"].startswith("https://files.pythonhosted.org/packages/")
    assert meta["source"]["url"].endswith(".tar.gz"), "built from the sdist"
    assert "pip check" in meta["test"]["commands"]
    host = meta["requirements"]["host"]
    assert "setuptools >=77,<85.0a0" in host and "pip" in host
    assert meta["requirements"]["run"] == EXPECTED_RUN[name]


@pytest.mark.parametrize("name", RECIPES)
def test_run_pins_admit_the_verified_versions_and_exclude_known_breaks(name: str) -> None:
    for spec in render(RECIPES_DIR / name, LINUX64)["requirements"]["run"]:
        conda_name, specifier = spec_version(spec)
        version = verified_version(PYPI_NAME.get(conda_name, conda_name))
        assert specifier.contains(version), f"{name}: {spec} excludes verified {version}"
    for recipe, dep, bad in KNOWN_BAD:
        if recipe == name:
            specs = dict(spec_version(s) for s in EXPECTED_RUN[name])
            assert not specs[dep].contains(bad), f"{name} must exclude {dep} {bad}"


@pytest.mark.parametrize("name", RECIPES)
def test_patches_are_listed_commented_and_apply(name: str, xtend: XtendBuild) -> None:
    recipe = RECIPES_DIR / name
    listed = render(recipe, LINUX64)["source"]["patches"]
    on_disk = sorted(p.relative_to(recipe).as_posix() for p in (recipe / "patches").glob("*"))
    assert sorted(listed) == on_disk
    for patch in listed:
        added = [ln for ln in (recipe / patch).read_text().splitlines() if ln.startswith("+")]
        assert any("conda recipe:" in ln for ln in added), f"{patch}: say why in the patch"
    # xtend applied every patch with conda-build's method (tools.sources) after checking the
    # sdist against the recipe's sha256; a drifted patch or hash fails there.
    assert xtend.patched[name].is_dir()


@pytest.mark.parametrize("name", RECIPES)
def test_sdist_code_is_the_published_wheel_code(name: str, xtend: XtendBuild) -> None:
    sdist = tree_files(xtend.pristine[name], name)
    published = wheel_files(xtend.published[name], name)
    assert sdist.keys() == published.keys()
    assert [p for p in sdist if sdist[p] != published[p]] == []


def _metadata(wheel: Path) -> email.message.Message:
    with zipfile.ZipFile(wheel) as zf:
        (path,) = [n for n in zf.namelist() if n.endswith(".dist-info/METADATA")]
        return email.message_from_bytes(zf.read(path))


@pytest.mark.parametrize("name", RECIPES)
def test_built_wheel_matches_published_except_our_changes(name: str, xtend: XtendBuild) -> None:
    ours, published = xtend.wheels[name], xtend.published[name]
    ours_meta, pub_meta = _metadata(ours), _metadata(published)
    for field in ("Name", "Version", "Requires-Python"):
        assert ours_meta[field] == pub_meta[field], field
    assert set(ours_meta.get_all("Provides-Extra") or []) == set(
        pub_meta.get_all("Provides-Extra") or []
    )
    reqs = {str(Requirement(r)) for r in ours_meta.get_all("Requires-Dist") or []}
    pub_reqs = {str(Requirement(r)) for r in pub_meta.get_all("Requires-Dist") or []}
    removed, added = CHANGED_REQUIRES.get(name, (set(), set()))
    assert (pub_reqs - reqs, reqs - pub_reqs) == (removed, added)
    code, pub_code = wheel_files(ours, name), wheel_files(published, name)
    assert code.keys() == pub_code.keys()
    assert {p for p in code if code[p] != pub_code[p]} == CHANGED_FILES[name]


_PROBES: dict[str, dict] = {}


def probe(xtend: XtendBuild, which: str, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """tests/xtend_probe.py's report for our fastxtend ("ours") or the published one, run once."""
    if which not in _PROBES:
        site = xtend.ours if which == "ours" else xtend.upstream
        result = subprocess.run(
            [sys.executable, str(PROBE), str(tmp_path_factory.mktemp(f"probe-{which}"))],
            env=xtend.env(site),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        lines = [ln for ln in result.stdout.splitlines() if ln.startswith("PROBE ")]
        assert result.returncode == 0 and lines, result.stdout[-2000:] + result.stderr[-3000:]
        _PROBES[which] = json.loads(lines[-1][len("PROBE ") :])
    return _PROBES[which]


def _out_of_range(report: dict) -> list[int]:
    return [i for drawn in report["drawn"] for i in drawn if not 0 <= i < report["num_samples"]]


def test_upstream_one_batch_draws_out_of_range_indices(
    xtend: XtendBuild, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The defect is real: with unpatched fastxtend the same probe sees index 40 of 40."""
    report = probe(xtend, "upstream", tmp_path_factory)["one_batch"]
    assert _out_of_range(report), "upstream fastxtend was expected to draw index num_samples"


def test_one_batch_never_indexes_out_of_range(
    xtend: XtendBuild, tmp_path_factory: pytest.TempPathFactory
) -> None:
    report = probe(xtend, "ours", tmp_path_factory)["one_batch"]
    assert len(report["drawn"]) == 20
    assert _out_of_range(report) == []
    # each draw: a full batch (64 asked, 40 exist) of distinct samples; state restored after
    assert all(sorted(drawn) == list(range(40)) for drawn in report["drawn"])
    assert report["restored"]


def test_upstream_get_preds_fails_with_attribute_error_new(
    xtend: XtendBuild, tmp_path_factory: pytest.TempPathFactory
) -> None:
    report = probe(xtend, "upstream", tmp_path_factory)["get_preds"]
    assert report == {"error": "AttributeError: new"}


def test_get_preds_returns_every_sample_with_its_own_target(
    xtend: XtendBuild, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """get_preds works (patch 0003) and its targets are not overwritten by later batches
    (patch 0004: 3 batches of 16 with batches_ahead=1 reuse FFCV's 3 output buffers)."""
    report = probe(xtend, "ours", tmp_path_factory)["get_preds"]
    assert report == {"n": 40, "targets": list(range(40))}


def test_recipe_run_test_passes_on_our_build(xtend: XtendBuild, tmp_path: Path) -> None:
    """recipes/fastxtend/run_test.py, run the way conda-build runs it, against our build."""
    result = subprocess.run(
        [sys.executable, str(RECIPES_DIR / "fastxtend" / "run_test.py")],
        env=xtend.env(xtend.ours),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert "one_batch and Loader.new OK" in result.stdout


def test_training_env_pins_our_builds_and_leaves_variants_to_the_driver() -> None:
    """env/training.txt: micromamba skips whole-line "#" comments and blank lines only (libmamba
    read_lines, mamba 2.0.6+), so every other line must be one bare MatchSpec."""
    lines = (REPO / "env" / "training.txt").read_text(encoding="ascii").splitlines()
    specs = [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
    assert all("#" not in spec for spec in specs), "no trailing comments"
    parsed = {spec.split()[0]: spec.split()[1:] for spec in specs}
    assert len(parsed) == len(specs), "each package once"
    ours = {name: render(RECIPES_DIR / name, WIN64) for name in ("ffcv", *RECIPES)}
    for name, meta in ours.items():
        version, build = parsed[name]
        assert version == f"=={meta['package']['version']}"
        assert build == "ffcvwin_*" and meta["build"]["string"].startswith("ffcvwin_")
    # CUDA/CPU variant and Python version come from the driver's command line
    assert set(parsed) - set(ours) == {"pytorch", "torchvision", "tbb"}
    assert parsed["pytorch"] == parsed["torchvision"] == []
    # numba's tbb layer needs TBB_INTERFACE_VERSION >= 12060, i.e. tbb 2021.6 (README,
    # "Threading layer")
    assert parsed["tbb"] == [">=2021.6"]
