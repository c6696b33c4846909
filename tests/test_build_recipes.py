"""scripts/build_recipes.py: build order, skip-if-built, resume after a failure, upload, and
the Python variants of one run.

Building needs Windows and conda-forge, so small Python stand-ins take the programs' place:
``conda`` logs its argv and writes the package file conda-build would put into
``--output-folder``; ``anaconda`` logs its argv and environment. What the logged ``conda
build`` command line means is then checked with the real conda-build (.venv-conda): its own
parser and renderer take the logged arguments (test_real_conda_build_renders_the_logged_call).
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tools.recipes import Job, prefetch, render_job

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "scripts" / "build_recipes.py"

FAKE_CONDA = """\
import json, os, sys
from pathlib import Path
log = Path(os.environ["FAKE_LOG"])
with log.open("a") as f:
    f.write(json.dumps({"prog": "conda", "argv": sys.argv[1:],
                        "conda_py": os.environ.get("CONDA_PY")}) + "\\n")
recipe = Path(sys.argv[2]).name
if recipe in os.environ.get("FAKE_FAIL", "").split(","):
    sys.exit(1)
out = Path(sys.argv[sys.argv.index("--output-folder") + 1]) / "noarch"
out.mkdir(parents=True, exist_ok=True)
(out / f"{recipe}-1.0-0.conda").write_bytes(b"pkg")
"""

FAKE_ANACONDA = """\
import json, os, sys
from pathlib import Path
with Path(os.environ["FAKE_LOG"]).open("a") as f:
    f.write(json.dumps({"prog": "anaconda", "argv": sys.argv[1:],
                        "token": os.environ.get("ANACONDA_API_TOKEN")}) + "\\n")
sys.exit(int(os.environ.get("FAKE_ANACONDA_RC", "0")))
"""


def write_exe(path: Path, body: str) -> Path:
    path.write_text(f"#!{sys.executable}\n{body}")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


def meta(name: str, *deps: str) -> str:
    reqs = "".join(f"    - {d} >=1\n" for d in deps)
    return f"package:\n  name: {name}\n  version: 1.0\nrequirements:\n  run:\n    - python\n{reqs}"


@pytest.fixture
def world(tmp_path: Path) -> dict[str, Path]:
    recipes = tmp_path / "recipes"
    for name, deps in {"zeta": (), "alpha": ("zeta",), "mid": ("alpha", "numpy")}.items():
        (recipes / name).mkdir(parents=True)
        (recipes / name / "meta.yaml").write_text(meta(name, *deps))
    (recipes / "conda_build_config.yaml").write_text("c_stdlib:\n  - vs\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    return {
        "recipes": recipes,
        "channel": tmp_path / "channel",
        "work": tmp_path / "bld",
        "conda": write_exe(bin_dir / "conda", FAKE_CONDA),
        "bin": bin_dir,
        "log": tmp_path / "calls.log",
    }


def run(world: dict[str, Path], *extra: str, env: dict[str, str] | None = None):
    args = [sys.executable, str(SCRIPT), "--recipes", str(world["recipes"])]
    args += ["--channel", str(world["channel"]), "--python", "3.12", "--compiler", "vs2022"]
    args += ["--work", str(world["work"]), "--conda", str(world["conda"]), *extra]
    e = {**os.environ, "FAKE_LOG": str(world["log"]), **(env or {})}
    e["PATH"] = f"{world['bin']}{os.pathsep}{e['PATH']}"
    return subprocess.run(args, capture_output=True, text=True, env=e, timeout=60)


def calls(world: dict[str, Path]) -> list[dict]:
    if not world["log"].exists():
        return []
    return [json.loads(line) for line in world["log"].read_text().splitlines()]


def built(world: dict[str, Path]) -> list[str]:
    return [Path(c["argv"][1]).name for c in calls(world) if c["prog"] == "conda"]


def test_builds_in_dependency_order_with_exact_arguments(world):
    r = run(world)
    assert r.returncode == 0, r.stderr
    assert built(world) == ["zeta", "alpha", "mid"]
    first = calls(world)[0]["argv"]
    assert first == [
        "build",
        str(world["recipes"] / "zeta"),
        "--output-folder",
        str(world["channel"]),
        "--override-channels",
        "-c",
        "conda-forge",
        "--no-anaconda-upload",
        "--croot",
        str(world["work"]),
        "-m",
        str(world["recipes"] / "conda_build_config.yaml"),
        "-m",
        str(world["work"] / "variant-vs2022.yaml"),
    ]
    variant = (world["work"] / "variant-vs2022.yaml").read_text()
    assert variant == (
        "# written by scripts/build_recipes.py for this run\n"
        "c_compiler:  # [win]\n  - vs2022  # [win]\n"
        "cxx_compiler:  # [win]\n  - vs2022  # [win]\n"
        "python:\n  - 3.12.* *_cpython\n"
    )
    state = json.loads((world["channel"] / ".ffcvwin-build-state.json").read_text())
    assert state["recipes"]["mid"]["outputs"] == ["noarch/mid-1.0-0.conda"]


def test_second_run_builds_nothing(world):
    assert run(world).returncode == 0
    world["log"].unlink()
    r = run(world)
    assert r.returncode == 0
    assert calls(world) == []
    assert r.stdout.count(": up to date") == 3


def test_changed_recipe_or_missing_package_rebuilds_only_that_recipe(world):
    assert run(world).returncode == 0
    world["log"].unlink()
    (world["recipes"] / "alpha" / "meta.yaml").write_text(meta("alpha", "zeta") + "# edit\n")
    (world["channel"] / "noarch" / "mid-1.0-0.conda").unlink()
    assert run(world).returncode == 0
    assert built(world) == ["alpha", "mid"]


def test_other_python_or_compiler_is_a_different_build(world):
    assert run(world).returncode == 0
    world["log"].unlink()
    r = run(world, "--python", "3.11")  # now 3.12 and 3.11: another set of variants
    assert r.returncode == 0
    assert built(world) == ["zeta", "alpha", "mid"]
    world["log"].unlink()
    assert run(world, "--compiler", "vs2026").returncode == 0
    assert built(world) == ["zeta", "alpha", "mid"]


def test_every_python_goes_into_one_variant_file_and_one_call_per_recipe(world):
    r = run(world, "--python", "3.10", "--python", "3.13", "--python", "3.12")
    assert r.returncode == 0, r.stderr
    assert built(world) == ["zeta", "alpha", "mid"]
    for call in calls(world):
        assert "--python" not in call["argv"], "conda-build 26.3.0 fails on a second --python"
    variant = (world["work"] / "variant-vs2022.yaml").read_text()
    # as given, each once; 3.13 excludes free-threaded builds as conda-forge's pinning does
    assert variant.endswith(
        "python:\n  - 3.12.* *_cpython\n  - 3.10.* *_cpython\n  - 3.13.* *_cp313\n"
    )


def test_conda_py_from_the_environment_does_not_reach_conda_build(world):
    r = run(world, env={"CONDA_PY": "39"})
    assert r.returncode == 0, r.stderr
    assert {c["conda_py"] for c in calls(world) if c["prog"] == "conda"} == {None}


def test_real_conda_build_renders_the_logged_call(world):
    """The command lines build_recipes.py writes for the repository's recipes, given to the
    real conda-build: ffcv renders once per Python (4 variants), noarch recipes once."""
    world["recipes"] = REPO / "recipes"
    pythons = ["3.10", "3.11", "3.12", "3.13"]
    r = run(world, "--python", "3.10", "--python", "3.11", "--python", "3.13")  # and 3.12
    assert r.returncode == 0, r.stderr
    logged = {Path(c["argv"][1]).name: c["argv"] for c in calls(world) if c["prog"] == "conda"}
    assert sorted(logged) == ["fastai", "fastargs", "fastcore", "fastxtend", "ffcv"]
    jobs = {n: Job(REPO / "recipes" / n, "win-64", argv=tuple(a)) for n, a in logged.items()}
    prefetch(jobs.values())
    variants = render_job(jobs["ffcv"])
    assert sorted(v.python.split(".*")[0] for v in variants) == pythons
    assert len({v.dist for v in variants}) == 4
    for name in ("fastai", "fastargs", "fastcore", "fastxtend"):
        (only,) = render_job(jobs[name])
        assert only.noarch == "python"


def test_failure_exits_31_and_the_next_run_resumes(world):
    r = run(world, env={"FAKE_FAIL": "alpha"})
    assert r.returncode == 31
    assert "conda build of alpha failed" in r.stderr
    assert built(world) == ["zeta", "alpha"]
    world["log"].unlink()
    assert run(world).returncode == 0
    assert built(world) == ["alpha", "mid"], "zeta was finished and is not built again"


def test_dependency_cycle_is_refused(world):
    (world["recipes"] / "zeta" / "meta.yaml").write_text(meta("zeta", "mid"))
    r = run(world)
    assert r.returncode == 2
    assert "cycle" in r.stderr


def test_upload_uses_the_token_from_the_environment_only(world):
    write_exe(world["bin"] / "anaconda", FAKE_ANACONDA)
    secret = "tok-SECRET-1234"
    r = run(world, "--upload-label", "dev", env={"ANACONDA_API_TOKEN": secret})
    assert r.returncode == 0, r.stderr
    (up,) = [c for c in calls(world) if c["prog"] == "anaconda"]
    ch = world["channel"] / "noarch"
    assert up["argv"] == [
        "upload",
        "--label",
        "dev",
        "--skip-existing",
        *(str(ch / f"{n}-1.0-0.conda") for n in ("alpha", "mid", "zeta")),
    ]
    assert up["token"] == secret
    assert secret not in r.stdout + r.stderr
    assert secret not in json.dumps(up["argv"])


@pytest.mark.parametrize(("token", "rc"), [("", "0"), ("tok", "1")])
def test_upload_failures_exit_32(world, token, rc):
    write_exe(world["bin"] / "anaconda", FAKE_ANACONDA)
    env = {"ANACONDA_API_TOKEN": token, "FAKE_ANACONDA_RC": rc}
    r = run(world, "--upload-label", "dev", env=env)
    assert r.returncode == 32


def test_bad_arguments(world):
    assert run(world, "--compiler", "vs2019").returncode == 2
    r = run(world, "--python", "three")
    assert r.returncode == 2 and "--python must look like 3.12" in r.stderr


def test_repository_recipes_are_ordered_by_their_dependencies():
    """The real recipes/: every local dependency is built before the recipe needing it."""
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        import build_recipes
    finally:
        sys.path.pop(0)
    order = build_recipes.build_order(build_recipes.find_recipes(REPO / "recipes"))
    names = [r.name for r in order]
    assert "ffcv" in names
    for i, r in enumerate(order):
        assert r.needs <= set(names[:i]), f"{r.name} needs {sorted(r.needs)} first"
    if {"fastxtend", "fastai", "fastcore"} <= set(names):
        assert names.index("fastcore") < names.index("fastai") < names.index("fastxtend")
