"""Strict doubles for the argparse-based tools scripts/build_recipes.py calls: ``conda build``
(conda-build) and ``anaconda upload`` (anaconda-client).

Neither can be installed here (conda-forge only), so a double stands in; to reject what the real
program rejects, it parses its argv with an :mod:`argparse` parser built from the real
program's own ``add_argument`` calls. Those calls are read out of the released source with
:mod:`ast` (never imported or run) and stored, as data, in ``grammars/<program>.json`` with the
source they came from; ``tests/test_doubles.py`` re-reads the sources and fails when the stored
grammar no longer matches them. ``python tests/doubles/argparse_double.py regenerate`` writes
the files again.

Sources (see each JSON file's "source"):
* conda-build 26.3.0 (the version build_channel.cmd pins): ``conda_build/cli/main_render.py``
  ``get_render_parser`` and ``conda_build/cli/main_build.py`` ``parse_args``, which both end
  with conda's ``conda/cli/helpers.py`` ``add_parser_channels`` (conda 26.7.1); the parser
  uses ``conflict_handler="resolve"``. Reached as ``python -m conda build ...``.
* anaconda-client 1.14.1: ``binstar_client/scripts/cli.py`` ``binstar_main`` (the options
  before the subcommand) and ``binstar_client/commands/upload.py`` ``add_parser``;
  ``_add_subparser_modules`` adds ``--json-help`` to every subcommand. ``anaconda upload`` goes
  to that argparse parser (``binstar_client/plugins.py``: a pass-through to ``binstar_main``
  unless ANACONDA_CLI_FORCE_NEW is set).

A call argparse rejects exits 2 with argparse's message, as the real programs do.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
GRAMMARS = HERE / "grammars"
CONDA_TOOLS = HERE.parent.parent.parent / "shared" / "conda-tools" / "wheels"

# Where each program's argparse calls live: (wheel, file in it, function) in parser order.
SOURCES: dict[str, dict[str, Any]] = {
    "conda": {
        "source": "conda-build 26.3.0 (conda/conda-build tag 26.3.0) and conda 26.7.1",
        "wheels": {
            "conda_build": "conda_build-26.3.0-py3-none-any.whl",
            "conda": "conda-26.7.1-py3-none-any.whl",
        },
        "subcommands": {
            "build": [
                ("conda_build", "conda_build/cli/main_render.py", "get_render_parser"),
                ("conda", "conda/cli/helpers.py", "add_parser_channels"),
                ("conda_build", "conda_build/cli/main_build.py", "parse_args"),
                ("conda", "conda/cli/helpers.py", "add_parser_channels"),
            ]
        },
        "top": [],
    },
    "anaconda": {
        "source": "anaconda-client 1.14.1 (anaconda/anaconda-client tag 1.14.1, PyPI wheel)",
        "wheels": {"anaconda_client": "anaconda_client-1.14.1-py3-none-any.whl"},
        "subcommands": {
            "upload": [
                ("anaconda_client", "binstar_client/commands/upload.py", "add_parser"),
                ("", "", "json-help"),
            ]
        },
        "top": [("anaconda_client", "binstar_client/scripts/cli.py", "binstar_main")],
    },
}
ANACONDA_SHA256 = "99d6c42bb77a9a89650a67f37e63504421dbb415a331a6636ce2c9c429130004"
# binstar_client/scripts/cli.py _add_subparser_modules: every subcommand gets this option.
JSON_HELP = {"names": ["--json-help"], "action": "store_const"}

ACTION_CLASSES = {
    "_StoreAction": "store",
    "_StoreTrueAction": "store_true",
    "_StoreFalseAction": "store_false",
    "_StoreConstAction": "store_const",
    "_AppendAction": "append",
    "_AppendConstAction": "append_const",
    "_CountAction": "count",
    "_VersionAction": "version",
    "BooleanOptionalAction": "boolean_optional",
}
NARGS = {"REMAINDER": "...", "OPTIONAL": "?", "ZERO_OR_MORE": "*", "ONE_OR_MORE": "+"}


# ---- reading the real add_argument calls ------------------------------------------------------
def _action(node: ast.expr | None, nargs: object) -> str:
    """argparse action name for an ``action=`` expression (custom classes: by their arity)."""
    if node is None:
        return "store"
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Call):  # e.g. deprecated.action("26.9", "27.3", _AppendAction)
        for arg in node.args:
            if isinstance(arg, (ast.Name, ast.Attribute)):
                name = arg.id if isinstance(arg, ast.Name) else arg.attr
                if name in ACTION_CLASSES:
                    return ACTION_CLASSES[name]
        return "store"
    name = node.id if isinstance(node, ast.Name) else getattr(node, "attr", "")
    if name in ACTION_CLASSES:
        return ACTION_CLASSES[name]
    return "store_const" if nargs == 0 else "store"  # a custom Action class


def _literal(node: ast.expr | None) -> object:
    if node is None:
        return None
    if isinstance(node, ast.Attribute) and node.attr in NARGS:
        return NARGS[node.attr]
    try:
        return ast.literal_eval(node)
    except ValueError:
        return None


def _calls_in(source: str, function: str) -> list[dict[str, Any]]:
    """The ``*.add_argument(...)`` calls in one function, in order, reduced to what parses."""
    tree = ast.parse(source)
    func = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == function)
    # variable -> [(line, mutually exclusive group number or 0)]: names are reused for groups
    assigned: dict[str, list[tuple[int, int]]] = {}
    count = 0
    for node in sorted(
        (n for n in ast.walk(func) if isinstance(n, ast.Assign)), key=lambda n: n.lineno
    ):
        mutex = getattr(getattr(node.value, "func", None), "attr", "")
        number = 0
        if mutex == "add_mutually_exclusive_group":
            count += 1
            number = count
        for target in node.targets:
            if isinstance(target, ast.Name):
                assigned.setdefault(target.id, []).append((node.lineno, number))
    out: list[dict[str, Any]] = []
    calls = [
        n
        for n in ast.walk(func)
        if isinstance(n, ast.Call) and getattr(n.func, "attr", "") == "add_argument"
    ]
    for call in sorted(calls, key=lambda c: (c.lineno, c.col_offset)):
        kw = {k.arg: k.value for k in call.keywords if k.arg}
        names = [a.value for a in call.args if isinstance(a, ast.Constant)]
        nargs = _literal(kw.get("nargs"))
        spec: dict[str, Any] = {"names": names, "action": _action(kw.get("action"), nargs)}
        if nargs is not None:
            spec["nargs"] = nargs
        choices = _literal(kw.get("choices"))
        if isinstance(choices, (list, tuple)) and all(isinstance(c, str) for c in choices):
            spec["choices"] = list(choices)
        if _literal(kw.get("required")) is True:
            spec["required"] = True
        owner = call.func.value if isinstance(call.func, ast.Attribute) else None
        if isinstance(owner, ast.Name):
            before = [n for line, n in assigned.get(owner.id, []) if line < call.lineno]
            if before and before[-1]:
                spec["exclusive_group"] = before[-1]
        out.append(spec)
    return out


def extract(program: str, wheel_dir: Path) -> dict[str, Any]:
    """Read ``program``'s grammar out of the released wheels in ``wheel_dir``."""
    info = SOURCES[program]
    wheels = {k: wheel_dir / v for k, v in info["wheels"].items()}

    def specs(parts: list[tuple[str, str, str]]) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for wheel, member, function in parts:
            if function == "json-help":
                found.append(dict(JSON_HELP))
                continue
            with zipfile.ZipFile(wheels[wheel]) as zf:
                found += _calls_in(zf.read(member).decode("utf-8"), function)
        return found

    return {
        "program": program,
        "source": info["source"],
        "functions": {
            "top": [f"{m}:{f}" for _, m, f in info["top"]],
            **{s: [f"{m}:{f}" for _, m, f in p if m] for s, p in info["subcommands"].items()},
        },
        "top": specs(info["top"]),
        "subcommands": {s: specs(p) for s, p in info["subcommands"].items()},
    }


# ---- the double ----------------------------------------------------------------------------
def _add(parser: argparse.ArgumentParser, spec: dict[str, Any], groups: dict[int, Any]) -> None:
    target: Any = parser
    if "exclusive_group" in spec:
        number = spec["exclusive_group"]
        if number not in groups:
            groups[number] = parser.add_mutually_exclusive_group()
        target = groups[number]
    kwargs: dict[str, Any] = {}
    action = spec["action"]
    names = spec["names"]
    if action == "boolean_optional":
        kwargs["action"] = argparse.BooleanOptionalAction
    elif action in ("store_const", "append_const"):
        kwargs.update(action=action, const=True)
    elif action == "version":
        kwargs.update(action="version", version="double")
    else:
        kwargs["action"] = action
    if action in ("store", "append") and "nargs" in spec:
        kwargs["nargs"] = spec["nargs"]
    if "choices" in spec:
        kwargs["choices"] = spec["choices"]
    if spec.get("required"):
        kwargs["required"] = True
    if names and names[0].startswith("-"):
        kwargs["dest"] = "opt_" + names[-1].lstrip("-").replace("-", "_")
    target.add_argument(*names, **kwargs)


def build_parser(grammar: dict[str, Any]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=grammar["program"], conflict_handler="resolve")
    groups: dict[int, Any] = {}
    for spec in grammar["top"]:
        _add(parser, spec, groups)
    subs = parser.add_subparsers(dest="subcommand", required=True)
    for name, specs in grammar["subcommands"].items():
        sub = subs.add_parser(name, conflict_handler="resolve")
        sub_groups: dict[int, Any] = {}
        for spec in specs:
            _add(sub, spec, sub_groups)
    return parser


def load(program: str) -> dict[str, Any]:
    return json.loads((GRAMMARS / f"{program}.json").read_text(encoding="utf-8"))


def _log(entry: dict[str, Any]) -> None:
    path = os.environ.get("DOUBLE_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry) + "\n")


def _behave(program: str, ns: argparse.Namespace) -> int:
    """What the real program would leave behind, as far as build_recipes.py looks at it.

    conda build: one package per recipe in ``--output-folder``/noarch (none for a recipe named
    in ``DOUBLE_FAIL``, which exits 1). anaconda upload: exit ``DOUBLE_RC`` (default 0).
    """
    if program == "conda":
        failing = set(filter(None, os.environ.get("DOUBLE_FAIL", "").split(",")))
        out = Path(ns.opt_output_folder or ".") / "noarch"
        for recipe in ns.recipe:
            name = Path(recipe).name
            if name in failing:
                return 1
            out.mkdir(parents=True, exist_ok=True)
            (out / f"{name}-1.0-0.conda").write_bytes(b"pkg")
        return 0
    return int(os.environ.get("DOUBLE_RC", "0"))


def main(program: str, argv: Sequence[str]) -> int:
    parser = build_parser(load(program))
    entry: dict[str, Any] = {
        "prog": program,
        "argv": list(argv),
        "tokens": {k: os.environ.get(k) for k in ("ANACONDA_API_TOKEN", "BINSTAR_API_TOKEN")},
    }
    try:
        ns = parser.parse_args(list(argv))
    except SystemExit as e:  # argparse: message on stderr, exit 2
        entry["error"] = f"argparse exit {e.code}"
        _log(entry)
        return int(e.code or 0)
    _log(entry)
    return _behave(program, ns)


def _regenerate() -> None:
    anaconda = Path(os.environ.get("ANACONDA_WHEEL_DIR", CONDA_TOOLS))
    for program, wheel_dir in (("conda", CONDA_TOOLS), ("anaconda", anaconda)):
        grammar = extract(program, wheel_dir)
        text = json.dumps(grammar, indent=1) + "\n"
        (GRAMMARS / f"{program}.json").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    if sys.argv[1:] == ["regenerate"]:
        _regenerate()
    else:
        sys.exit(main(sys.argv[1], sys.argv[2:]))
