"""Recipes as the real conda-build renders them; no renderer of our own.

conda-build is installed in ``.venv-conda`` (tools/conda_tools.py, from tests/setup.sh), apart
from the test environment, so this module runs it in a subprocess (tools/conda_render.py) and
reads its JSON answer. Each render uses the ``conda build`` arguments that
scripts/build_recipes.py passes on Windows (its ``conda_build_args`` and ``variant_text``,
loaded from the script itself), for the target subdir given; tools/conda_render.py lists the
few things that differ (local channel, offline, no source download).

Results are cached for the life of the process: the first render of a recipe in recipes/
renders the whole matrix (every recipe x win-64/linux-64 x vs2022/vs2026, Python 3.10-3.13)
in one subprocess, about 10 s.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

from tools.errors import RecipeError

REPO = Path(__file__).resolve().parent.parent
RECIPES_DIR = REPO / "recipes"
CONDA_PYTHON = REPO / ".venv-conda" / "bin" / "python"
PYTHONS = ("3.10", "3.11", "3.12", "3.13")
COMPILERS = ("vs2022", "vs2026")
SUBDIRS = ("win-64", "linux-64")


@dataclass(frozen=True)
class Platform:
    """A target subdir, the Python variant to pick and the MSVC compiler variant."""

    subdir: str
    python: str = "3.12"
    compiler: str = "vs2022"


WIN64 = Platform("win-64")
LINUX64 = Platform("linux-64")


@dataclass(frozen=True)
class Job:
    """One ``conda build`` call as scripts/build_recipes.py makes it, rendered for ``subdir``.

    ``extra_args`` are appended to the command line (tests use it to show how conda-build
    treats other arguments); ``argv``, when given, is used instead of the arguments
    build_recipes.py would make (a command line it logged, say).
    """

    recipe: Path
    subdir: str
    compiler: str = "vs2022"
    pythons: tuple[str, ...] = PYTHONS
    finalize: bool = False
    extra_args: tuple[str, ...] = ()
    argv: tuple[str, ...] = ()


@dataclass(frozen=True)
class Variant:
    """One rendered variant: what conda-build's MetaData says about it."""

    recipe: str
    subdir: str
    name: str
    version: str
    build_string: str
    build_number: int
    dist: str
    noarch: str | None
    final: bool
    used_vars: tuple[str, ...]
    variant: dict[str, Any]
    meta: dict[str, Any]

    @property
    def python(self) -> str | None:
        """The python variant value (``3.12.* *_cpython``), None when python is unused."""
        value = self.variant.get("python")
        return str(value) if value is not None else None

    def requirements(self, section: str) -> list[str]:
        return list((self.meta.get("requirements") or {}).get(section) or [])


@cache
def build_recipes_script() -> ModuleType:
    """scripts/build_recipes.py as a module (it is a script run inside the build env)."""
    path = REPO / "scripts" / "build_recipes.py"
    spec = importlib.util.spec_from_file_location("build_recipes", path)
    if spec is None or spec.loader is None:
        raise RecipeError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return sys.modules[spec.name]


def job_argv(job: Job, work: Path) -> list[str]:
    """The job's ``conda build`` arguments; writes its variant file into ``work``."""
    if job.argv:
        return [*job.argv, *job.extra_args]
    script = build_recipes_script()
    variant = work / f"variant-{job.compiler}-{'-'.join(job.pythons)}.yaml"
    variant.write_text(script.variant_text(job.compiler, job.pythons), encoding="utf-8")
    shared = job.recipe.parent / "conda_build_config.yaml"
    args = script.conda_build_args(
        job.recipe, work / "channel", work / "bld", shared if shared.is_file() else None, variant
    )
    return [*args, *job.extra_args]


_CACHE: dict[tuple[Job, str], list[Variant] | str] = {}


def _run(jobs: Sequence[Job], channel: Path | None) -> list[list[Variant] | str]:
    if not CONDA_PYTHON.is_file():
        raise RecipeError(
            f"{CONDA_PYTHON} is missing: the real conda-build is installed there by "
            "bash tests/setup.sh (tools/conda_tools.py)"
        )
    with tempfile.TemporaryDirectory(prefix="recipes-") as tmp:
        work = Path(tmp)
        request = {
            "jobs": [
                {"argv": job_argv(job, work), "subdir": job.subdir, "finalize": job.finalize}
                for job in jobs
            ],
            "channel": str(channel) if channel else None,
        }
        (work / "request.json").write_text(json.dumps(request), encoding="utf-8")
        result = subprocess.run(
            [str(CONDA_PYTHON), "-m", "tools.conda_render", "request.json", "result.json"],
            cwd=work,
            env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "HOME": tmp},
            capture_output=True,
            text=True,
            timeout=1800,
            check=False,
        )
        if result.returncode != 0:
            raise RecipeError(
                f"tools/conda_render.py failed (exit {result.returncode}):\n"
                f"{result.stderr[-4000:]}"
            )
        answers = json.loads((work / "result.json").read_text(encoding="utf-8"))
    out: list[list[Variant] | str] = []
    for answer in answers:
        if "error" in answer:
            out.append(f"{answer['error']}\n{answer.get('traceback', '')}")
        else:
            out.append([_variant(v) for v in answer["variants"]])
    return out


def _variant(data: dict[str, Any]) -> Variant:
    return Variant(
        recipe=data["recipe"],
        subdir=data["subdir"],
        name=data["name"],
        version=data["version"],
        build_string=data["build_string"],
        build_number=int(data["build_number"]),
        dist=data["dist"],
        noarch=data["noarch"],
        final=data["final"],
        used_vars=tuple(data["used_vars"]),
        variant=data["variant"],
        meta=data["meta"],
    )


def standard_jobs() -> list[Job]:
    """Every recipe in recipes/ for win-64 and linux-64 with both compilers, all Pythons."""
    recipes = sorted(p.parent for p in RECIPES_DIR.glob("*/meta.yaml"))
    return [Job(r, s, c) for r in recipes for s in SUBDIRS for c in COMPILERS]


def prefetch(jobs: Iterable[Job], channel: Path | None = None) -> None:
    """Render every job not rendered yet, in one conda-build process."""
    key = str(channel or "")
    missing = list(dict.fromkeys(j for j in jobs if (j, key) not in _CACHE))
    if missing:
        for job, answer in zip(missing, _run(missing, channel), strict=True):
            _CACHE[job, key] = answer


def render_job(job: Job, channel: Path | None = None) -> list[Variant]:
    """The variants conda-build renders for a job; RecipeError with its error if it fails."""
    key = (job, str(channel or ""))
    if key not in _CACHE:
        standard = standard_jobs()
        prefetch([*standard, job] if job in standard else [job], channel)
    answer = _CACHE[key]
    if isinstance(answer, str):
        raise RecipeError(f"conda-build could not render {job.recipe.name}: {answer}")
    return answer


def render_variants(
    recipe_dir: Path,
    subdir: str = "win-64",
    compiler: str = "vs2022",
    pythons: Sequence[str] = PYTHONS,
    finalize: bool = False,
    channel: Path | None = None,
) -> list[Variant]:
    return render_job(Job(recipe_dir, subdir, compiler, tuple(pythons), finalize), channel)


def pick(variants: Sequence[Variant], python: str) -> Variant:
    """The variant built for ``python`` (3.12), or the only one (noarch, python unused)."""
    if len(variants) == 1 and "python" not in variants[0].used_vars:
        return variants[0]
    chosen = [v for v in variants if (v.python or "").startswith(f"{python}.")]
    if len(chosen) != 1:
        found = [v.python for v in variants]
        raise RecipeError(f"no single variant for Python {python} among {found}")
    return chosen[0]


def render(recipe_dir: Path, platform: Platform = WIN64) -> dict[str, Any]:
    """meta.yaml as conda-build renders it for one platform, Python and compiler."""
    variants = render_variants(recipe_dir, platform.subdir, platform.compiler)
    return pick(variants, platform.python).meta


def requirement_names(rendered: dict[str, Any], section: str) -> list[str]:
    """Package names of requirements/<section> (the first word of each spec)."""
    specs = (rendered.get("requirements") or {}).get(section) or []
    return [str(spec).split()[0] for spec in specs]


def requirement_specs(rendered: dict[str, Any], section: str) -> dict[str, str]:
    """name -> the rest of the spec ('' when unconstrained) for requirements/<section>."""
    specs = (rendered.get("requirements") or {}).get(section) or []
    result = {}
    for spec in specs:
        name, _, rest = str(spec).partition(" ")
        result[name] = rest.strip()
    return result
