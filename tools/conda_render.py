"""Render recipes with the real conda-build; runs inside ``.venv-conda`` (tools/conda_tools.py).

    .venv-conda/bin/python -m tools.conda_render REQUEST.json RESULT.json

tools/recipes.py is the caller. The request holds jobs, each the argument list of one
``conda build`` call exactly as scripts/build_recipes.py makes it, plus the target subdir
and whether to finalize. Every job is parsed by conda-build's own command-line parser
(``conda_build.cli.main_build.parse_args``) and turned into a Config the way its
``execute`` does (``get_or_merge_config(None, **parsed)``), then rendered with
``conda_build.api.render``. What differs from a real build, and why:

* channels: the job's ``-c conda-forge`` is replaced by a local channel (conda-forge is not
  reachable here): an empty one, or the request's ``channel`` of stand-in packages for
  ``finalize`` renders (tests/conda_standins.py);
* conda runs offline with the classic solver (the libmamba solver is not on PyPI), from a
  condarc written into a temporary folder; ``--croot``/``--output-folder`` point there too;
* sources are not downloaded (``no_download_source``); recipes here need none to render.

Result (JSON; files, not stdout, since conda prints progress there): one entry per job,
``{"variants": [...]}`` with one entry per rendered variant, or ``{"error": "..."}`` naming
the exception conda-build raised.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any


def _condarc(root: Path, channel: str) -> Path:
    path = root / "condarc"
    path.write_text(
        "solver: classic\n"
        "offline: true\n"
        "always_yes: true\n"
        "register_envs: false\n"
        f"channels:\n  - {channel}\n"
        f"pkgs_dirs:\n  - {root / 'pkgs'}\n",
        encoding="utf-8",
    )
    return path


def _empty_channel(root: Path) -> str:
    from conda_index.index import update_index

    folder = root / "empty-channel"
    for subdir in ("noarch", "win-64", "linux-64"):
        (folder / subdir).mkdir(parents=True, exist_ok=True)
    update_index(str(folder), subdirs=["noarch", "win-64", "linux-64"], progress=False)
    return folder.as_uri()


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _variant(m: Any, recipe: str) -> dict[str, Any]:
    used = sorted(m.get_used_vars())
    return {
        "recipe": recipe,
        "subdir": m.config.target_subdir,
        "name": m.name(),
        "version": m.version(),
        "build_string": m.build_id(),
        "build_number": m.build_number(),
        "dist": m.dist(),
        "noarch": m.get_value("build/noarch") or None,
        "final": bool(m.final),
        "used_vars": used,
        "variant": _jsonable({k: m.config.variant.get(k) for k in used}),
        "meta": _jsonable(m.meta),
    }


def render_job(job: dict[str, Any], channel_url: str, root: Path) -> list[dict[str, Any]]:
    from conda_build import api
    from conda_build.cli.main_build import parse_args
    from conda_build.config import get_or_merge_config

    _, parsed = parse_args(job["argv"][1:])  # argv[0] is the "build" subcommand
    parsed.croot = str(root / "croot")
    parsed.output_folder = str(root / "output")
    config = get_or_merge_config(None, **parsed.__dict__)
    config.channel_urls = [channel_url]
    platform, _, arch = job["subdir"].partition("-")
    (recipe,) = parsed.recipe
    results = api.render(
        recipe,
        config=config,
        platform=platform,
        arch=arch,
        finalize=job["finalize"],
        bypass_env_check=not job["finalize"],
        permit_unsatisfiable_variants=False,
        no_download_source=True,
    )
    return [_variant(m, Path(recipe).name) for m, _, _ in results]


def _run_job(job: dict[str, Any], channel_url: str, root: Path) -> dict[str, Any]:
    try:
        return {"variants": render_job(job, channel_url, root)}
    except Exception as error:
        tail = traceback.format_exc(limit=-3)
        return {"error": f"{type(error).__name__}: {error}", "traceback": tail}


def main(argv: list[str]) -> int:
    request = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory(prefix="conda-render-") as tmp:
        root = Path(tmp)
        channel = request.get("channel")
        channel_url = Path(channel).as_uri() if channel else _empty_channel(root)
        os.environ["CONDARC"] = str(_condarc(root, channel_url))
        os.environ["CONDA_PKGS_DIRS"] = str(root / "pkgs")
        from conda.base.context import reset_context

        reset_context()
        out = [_run_job(job, channel_url, root) for job in request["jobs"]]
    Path(argv[1]).write_text(json.dumps(out), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
