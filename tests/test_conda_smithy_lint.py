"""conda-smithy 2026.8.5's recipe linter on every recipe (tests/conda_lint.py in .venv-conda).

ci/lint_recipes.cmd runs ``conda-smithy recipe-lint`` (conda_forge=False) on Windows and a
lint makes it exit 1, so the tag pipeline would never upload: here every recipe must have no
lint and no hint in that mode. With conda-forge's extra checks (conda_forge=True) the same
holds, except the one check that needs github.com (does the maintainer exist?), which ends
in "could not verify" offline. A hint that does not apply may be answered instead of fixed,
by a comment in the recipe: ``# conda-smithy hint "<words from the hint>": <why not>``.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from tools.recipes import CONDA_PYTHON, RECIPES_DIR, REPO

RECIPES = sorted(p.parent for p in RECIPES_DIR.glob("*/meta.yaml"))
UNVERIFIABLE_MAINTAINER = re.compile(r'^Could not verify that recipe maintainer ".+" exists')
ANSWER = re.compile(r'^\s*# conda-smithy hint "(?P<words>[^"]+)": \S', re.MULTILINE)


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory, report_figure) -> dict:
    out = tmp_path_factory.mktemp("lint") / "lint.json"
    subprocess.run(
        [str(CONDA_PYTHON), str(REPO / "tests" / "conda_lint.py"), str(out), *map(str, RECIPES)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    data = json.loads(out.read_text(encoding="utf-8"))
    for name, modes in data.items():
        counts = ", ".join(
            f"{mode}: {len(r['lints'])} lints {len(r['hints'])} hints" for mode, r in modes.items()
        )
        report_figure(f"conda-smithy lint {name}: {counts}")
    return data


def unanswered(recipe: Path, hints: list[str]) -> list[str]:
    answers = ANSWER.findall((recipe / "meta.yaml").read_text(encoding="utf-8"))
    return [h for h in hints if not any(words in h for words in answers)]


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.name)
def test_recipe_lint_as_ci_runs_it(results: dict, recipe: Path) -> None:
    found = results[recipe.name]["plain"]
    assert found["lints"] == []
    assert unanswered(recipe, found["hints"]) == []


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.name)
def test_recipe_lint_with_conda_forge_checks(results: dict, recipe: Path) -> None:
    found = results[recipe.name]["conda_forge"]
    offline = [lint for lint in found["lints"] if UNVERIFIABLE_MAINTAINER.match(lint)]
    assert len(offline) <= 1, "one maintainer, one unverifiable check"
    assert [lint for lint in found["lints"] if lint not in offline] == []
    assert unanswered(recipe, found["hints"]) == []


def test_answers_name_a_hint_and_say_why(tmp_path: Path) -> None:
    recipe = tmp_path / "r"
    recipe.mkdir()
    (recipe / "meta.yaml").write_text(
        '# conda-smithy hint "python_min": this package needs 3.12\n', encoding="utf-8"
    )
    assert unanswered(recipe, ["The recipe sets `python_min` to 3.12 ..."]) == []
    assert unanswered(recipe, ["license_file entry is missing"]) == [
        "license_file entry is missing"
    ]


def test_the_compat_stand_in_is_still_needed() -> None:
    """tests/conda_lint.py supplies rattler_build_conda_compat.outputs only because the
    installed 1.4.10 lacks it while conda-smithy imports it; once a release has it, drop it."""
    probe = (
        "import importlib.util as u, pathlib, conda_smithy; "
        "print(u.find_spec('rattler_build_conda_compat.outputs') is None, "
        "'rattler_build_conda_compat.outputs import is_staging_output' in "
        "(pathlib.Path(conda_smithy.__file__).parent / 'linter' / "
        "'conda_recipe_v1_linter.py').read_text())"
    )
    result = subprocess.run(
        [str(CONDA_PYTHON), "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["True", "True"]
