"""conda-smithy's recipe linter on our recipes, offline. Runs inside ``.venv-conda``:

    .venv-conda/bin/python tests/conda_lint.py RESULT.json RECIPE_DIR...

tests/test_conda_smithy_lint.py calls it. For each recipe it runs
``conda_smithy.lint_recipe.main(recipe_dir, conda_forge=..., return_hints=True)`` twice: as
ci/lint_recipes.cmd does (``conda-smithy recipe-lint``, conda_forge=False) and with
conda-forge's own checks (conda_forge=True). The result is JSON:
``{recipe: {"plain": {"lints": [...], "hints": [...]}, "conda_forge": {...}}}``.

Test-harness stand-ins, each for something that is not the linter's logic and cannot work
on a machine without network (nothing else is replaced):

1. STAND-IN ``rattler_build_conda_compat.outputs``: conda-smithy 2026.8.5 imports
   ``is_staging_output`` from it (conda_smithy/linter/conda_recipe_v1_linter.py), and
   rattler-build-conda-compat 1.4.10 has no such module. The function is only called for
   recipe.yaml (v1) recipes; ours are meta.yaml, so the stand-in raises if ever called.
2. The linter downloads conda-forge's global pinning from GitHub
   (``conda_smithy.linter.utils._try_fetch_url_content``); it gets the snapshot in
   ../shared/conda-tools/conda-forge-pinning (conda-forge-pinning-feedstock @f8750453)
   instead, and "not available" (None, as the linter treats a failed download) for any other
   URL, such as linter_hints/hints.toml. Without the snapshot the real download runs, and a
   failed one counts as "not available" too (the linter only catches timeouts).
3. With conda_forge=True the linter asks GitHub whether each recipe maintainer exists, with
   four retries and sleeps between them. Offline its answer is None ("could not verify"); the
   stand-in gives that answer at once. The test names the resulting lint and sets it aside.
"""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path
from typing import Any

PINNING = (
    Path(__file__).resolve().parents[2]
    / "shared"
    / "conda-tools"
    / "conda-forge-pinning"
    / "conda_build_config.yaml"
)
PINNING_URL_END = "/recipe/conda_build_config.yaml"


def _install_stand_ins() -> None:
    outputs = types.ModuleType("rattler_build_conda_compat.outputs")

    def is_staging_output(output: Any) -> bool:
        raise RuntimeError("stand-in is_staging_output called: only v1 recipes use it")

    outputs.is_staging_output = is_staging_output  # type: ignore[attr-defined]
    outputs.__doc__ = "STAND-IN (tests/conda_lint.py): the module 1.4.10 lacks."
    sys.modules.setdefault(outputs.__name__, outputs)

    from conda_smithy import lint_recipe
    from conda_smithy.linter import utils

    if PINNING.is_file():
        pinning = PINNING.read_text(encoding="utf-8")

        def offline_fetch(url: str, epoch_hour: int) -> str | None:
            return pinning if url.endswith(PINNING_URL_END) else None

        utils._try_fetch_url_content = offline_fetch
    else:
        import requests

        real_fetch = utils._try_fetch_url_content

        def fetch_or_none(url: str, epoch_hour: int) -> str | None:
            # the linter itself only turns a timeout into "not available"
            try:
                return real_fetch(url, epoch_hour)
            except requests.RequestException:
                return None

        utils._try_fetch_url_content = fetch_or_none

    def unknown(name: str) -> bool | None:
        return None

    lint_recipe._maintainer_exists = unknown
    lint_recipe._team_exists = unknown


def lint(recipe: Path) -> dict[str, dict[str, list[str]]]:
    from conda_smithy import lint_recipe

    out = {}
    for label, conda_forge in (("plain", False), ("conda_forge", True)):
        lints, hints = lint_recipe.main(str(recipe), conda_forge=conda_forge, return_hints=True)
        out[label] = {"lints": list(lints), "hints": list(hints)}
    return out


def main(argv: list[str]) -> int:
    _install_stand_ins()
    result = {Path(r).name: lint(Path(r)) for r in argv[1:]}
    Path(argv[0]).write_text(json.dumps(result, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
