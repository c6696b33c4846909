"""Render conda-build recipes (meta.yaml) without conda-build.

conda-build itself cannot be installed on our Linux machines, so this module applies the
same two steps it documents for meta.yaml, in the same order:

1. Jinja2 rendering, with the functions recipes here use: ``compiler(lang)`` and
   ``stdlib(lang)`` resolve like conda-build's ``_target`` (``<name>_<subdir> <version>``
   from the variant config), ``pin_compatible``/``pin_subpackage`` are not used and fail.
2. Line selectors: a line ending in ``# [expr]`` is kept only when ``expr`` is true for the
   target platform (names ``win``, ``win64``, ``linux``, ``linux64``, ``unix``, ``osx``,
   ``x86_64``, ``py`` as an int such as 311, ``py3k``, ``np``).

The variant config (recipes/conda_build_config.yaml) goes through the selector step too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import yaml

from tools.errors import RecipeError

RECIPES_DIR = Path(__file__).resolve().parent.parent / "recipes"
SELECTOR = re.compile(r"^(?P<body>.*?)\s*#\s*\[(?P<expr>[^\[\]]+)\]\s*$")


@dataclass(frozen=True)
class Platform:
    """A conda subdir plus the Python version the recipe is rendered for."""

    subdir: str
    python: str = "3.11"

    @property
    def namespace(self) -> dict[str, Any]:
        system, _, arch = self.subdir.partition("-")
        major, minor = self.python.split(".")[:2]
        return {
            "win": system == "win",
            "win64": self.subdir == "win-64",
            "linux": system == "linux",
            "linux64": self.subdir == "linux-64",
            "osx": system == "osx",
            "unix": system in ("linux", "osx"),
            "x86_64": arch == "64",
            "py": int(major + minor),
            "py3k": major == "3",
            "np": 200,
        }


WIN64 = Platform("win-64")
LINUX64 = Platform("linux-64")


def apply_selectors(text: str, platform: Platform) -> str:
    """Drop lines whose ``# [selector]`` is false; strip the selector from kept lines."""
    kept = []
    for line in text.splitlines():
        match = SELECTOR.match(line)
        if match is None:
            kept.append(line)
            continue
        try:
            keep = eval(match["expr"], {"__builtins__": {}}, platform.namespace)
        except Exception as error:
            raise RecipeError(f"bad selector in line {line!r}: {error}") from error
        if keep:
            kept.append(match["body"])
    return "\n".join(kept) + "\n"


def variant_config(
    platform: Platform, path: Path = RECIPES_DIR / "conda_build_config.yaml"
) -> dict[str, Any]:
    """The first value of every key of the variant config, for this platform."""
    data = yaml.safe_load(apply_selectors(path.read_text(encoding="utf-8"), platform)) or {}
    return {
        key: values[0] if isinstance(values, list) else values
        for key, values in data.items()
        if values is not None
    }


def _target(language: str, component: str, platform: Platform, variant: dict[str, Any]) -> str:
    key = f"{language}_{component}"
    if key not in variant:
        raise RecipeError(
            f"{component}('{language}') needs '{key}' in recipes/conda_build_config.yaml "
            "(plain conda-build would otherwise fall back to a package that does not exist)"
        )
    name = f"{variant[key]}_{platform.subdir}"
    version = variant.get(f"{key}_version")
    return f"{name} {version}" if version else name


def render_text(recipe_dir: Path, platform: Platform) -> str:
    """meta.yaml after Jinja2 and selectors, as YAML text."""
    variant = variant_config(platform)
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    context = {
        "compiler": lambda lang: _target(lang, "compiler", platform, variant),
        "stdlib": lambda lang: _target(lang, "stdlib", platform, variant),
        "PYTHON": "%PYTHON%" if platform.namespace["win"] else "$PYTHON",
        "CONDA_PY": platform.namespace["py"],
        "PKG_HASH": "1234567",  # conda-build's placeholder (environ.py)
        "PKG_BUILDNUM": "0",
        "environ": {},
    }
    try:
        text = env.from_string((recipe_dir / "meta.yaml").read_text(encoding="utf-8"))
        rendered = text.render(**context)
    except jinja2.TemplateError as error:
        raise RecipeError(f"{recipe_dir / 'meta.yaml'}: Jinja2 failed: {error}") from error
    return apply_selectors(rendered, platform)


def render(recipe_dir: Path, platform: Platform) -> dict[str, Any]:
    """meta.yaml rendered for a platform, parsed."""
    try:
        data = yaml.safe_load(render_text(recipe_dir, platform))
    except yaml.YAMLError as error:
        raise RecipeError(
            f"{recipe_dir / 'meta.yaml'} is not valid YAML after rendering: {error}"
        ) from error
    if not isinstance(data, dict):
        raise RecipeError(f"{recipe_dir / 'meta.yaml'} did not render to a mapping")
    return data


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
