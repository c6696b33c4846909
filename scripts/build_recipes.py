"""Build every recipe under ``recipes/`` into the local channel, skipping what is already built.

build_channel.cmd runs this inside the build env (``micromamba run -p <build env> python
scripts/build_recipes.py ...``), so the logic that needs more than cmd.exe lives here:

* Order: a recipe is built after the recipes whose package names appear in its requirement
  lists (fastxtend after fastai after fastcore), one ``conda build`` per recipe.
* Variants: ``--python`` may be given several times (``--python 3.10 --python 3.11 ...``).
  The versions and the MSVC compiler go into one variant file, ``<work>/variant-<vs>.yaml``,
  passed with ``-m`` after recipes/conda_build_config.yaml, so each ``conda build`` call
  builds every Python as one variant matrix (noarch recipes once). Not as repeated
  ``--python`` options: conda-build 26.3.0 fails on a second one with
  ``TypeError: unhashable type: 'list'`` (its ``_get_default_compilers`` cache; conda/conda-build
  issue #5051). Python values follow conda-forge's global pinning (``3.12.* *_cpython``;
  ``3.13.* *_cp313`` keeps free-threaded ``cp313t`` builds out of the host env). The compiler
  keys carry ``# [win]`` selectors: the file must not ask for ``vs2022_linux-64`` elsewhere.
  ``CONDA_PY`` is removed from conda-build's environment (it would override the file).
* Skipping: each recipe's inputs (every file in its directory, the shared
  ``recipes/conda_build_config.yaml``, the Python versions, compiler variant and conda-build
  version) are hashed; ``<channel>/.ffcvwin-build-state.json`` records the hash and the
  package files a build produced. A recipe whose hash matches and whose packages all still
  exist is not rebuilt. The state is written after each successful build, so an interrupted
  run resumes.
* conda-build puts the output folder first among the channels and indexes it itself
  (``conda_build/index.py: get_build_index``), so recipes can depend on each other.
* Upload (``--upload-label``): ``anaconda upload`` of the packages this channel's state lists,
  with the token from ``ANACONDA_API_TOKEN`` (anaconda-client reads it; it is never printed).

Exit codes: 0 done, 2 bad arguments, 31 a build failed, 32 the upload failed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

STATE_FILE = ".ffcvwin-build-state.json"
PACKAGE_SUFFIXES = (".conda", ".tar.bz2")
SUBDIRS = ("noarch", "win-64", "linux-64", "osx-64", "osx-arm64", "linux-aarch64")
COMPILERS = ("vs2022", "vs2026")
EXIT_USAGE, EXIT_BUILD, EXIT_UPLOAD = 2, 31, 32


class BuildError(Exception):
    """A step failed; ``code`` is the process exit code."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Recipe:
    """A recipe directory and the local recipes it needs first."""

    name: str
    path: Path
    needs: frozenset[str]


def find_recipes(recipes_dir: Path) -> list[Recipe]:
    """Every ``<recipes_dir>/<name>/meta.yaml``, with dependencies among them.

    A recipe needs another when a requirement line (``- name ...``) names it.
    """
    dirs = sorted(p.parent for p in recipes_dir.glob("*/meta.yaml"))
    names = {d.name for d in dirs}
    found = []
    for d in dirs:
        text = (d / "meta.yaml").read_text(encoding="utf-8")
        reqs = set(re.findall(r"^\s*-\s*([A-Za-z0-9_.\-]+)", text, flags=re.MULTILINE))
        found.append(Recipe(d.name, d, frozenset((reqs & names) - {d.name})))
    return found


def build_order(recipes: Sequence[Recipe]) -> list[Recipe]:
    """Dependencies first; ties by name. Raises on a cycle."""
    left = {r.name: r for r in recipes}
    order: list[Recipe] = []
    while left:
        ready = sorted(n for n, r in left.items() if not (r.needs & left.keys()))
        if not ready:
            raise BuildError(f"recipes depend on each other in a cycle: {sorted(left)}", 2)
        for n in ready:
            order.append(left.pop(n))
    return order


def python_variant(version: str) -> str:
    """The python variant value conda-forge's global pinning uses for ``version``
    (conda-forge-pinning-feedstock @f8750453, recipe/conda_build_config.yaml)."""
    major, minor = (int(p) for p in version.split("."))
    abi = f"cp{major}{minor}" if (major, minor) >= (3, 13) else "cpython"
    return f"{version}.* *_{abi}"


def variant_text(compiler: str, pythons: Sequence[str]) -> str:
    """The variant file of one run: the MSVC compiler (Windows only) and the Pythons."""
    lines = ["# written by scripts/build_recipes.py for this run"]
    for key in ("c_compiler", "cxx_compiler"):
        lines += [f"{key}:  # [win]", f"  - {compiler}  # [win]"]
    lines += ["python:", *(f"  - {python_variant(v)}" for v in pythons)]
    return "\n".join(lines) + "\n"


def conda_build_args(
    recipe: Path, channel: Path, work: Path, shared: Path | None, variant: Path
) -> list[str]:
    """The arguments of one ``conda build`` call (after the conda executable)."""
    cmd = ["build", str(recipe), "--output-folder", str(channel)]
    cmd += ["--override-channels", "-c", "conda-forge", "--no-anaconda-upload"]
    cmd += ["--croot", str(work)]
    if shared is not None:
        cmd += ["-m", str(shared)]
    return [*cmd, "-m", str(variant)]


def recipe_digest(recipe: Recipe, common: dict[str, str]) -> str:
    """sha256 over the recipe's files (path and bytes) and the shared build inputs."""
    h = hashlib.sha256(json.dumps(common, sort_keys=True).encode())
    for f in sorted(p for p in recipe.path.rglob("*") if p.is_file()):
        h.update(f.relative_to(recipe.path).as_posix().encode() + b"\0")
        h.update(f.read_bytes() + b"\0")
    return h.hexdigest()


def package_files(channel: Path) -> dict[str, tuple[int, int]]:
    """Package files in the channel: relative POSIX path -> (mtime in ns, size)."""
    out = {}
    for sub in SUBDIRS:
        for p in (channel / sub).glob("*"):
            if p.name.endswith(PACKAGE_SUFFIXES):
                st = p.stat()
                out[f"{sub}/{p.name}"] = (st.st_mtime_ns, st.st_size)
    return out


def load_state(channel: Path) -> dict[str, dict[str, object]]:
    try:
        data = json.loads((channel / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data.get("recipes", {}) if isinstance(data, dict) else {}


def save_state(channel: Path, state: dict[str, dict[str, object]]) -> None:
    tmp = channel / (STATE_FILE + ".part")
    tmp.write_text(json.dumps({"recipes": state}, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(tmp, channel / STATE_FILE)


def _outputs(entry: dict[str, object]) -> list[str]:
    outputs = entry.get("outputs")
    return [str(o) for o in outputs] if isinstance(outputs, list) else []


def conda_build_version() -> str:
    try:
        from importlib.metadata import version

        return version("conda-build")
    except Exception:  # not installed where the tests run this
        return "unknown"


def say(msg: str) -> None:
    print(f"build_recipes: {msg}", flush=True)


def build_all(args: argparse.Namespace) -> int:
    recipes_dir = Path(args.recipes).resolve()
    channel = Path(args.channel).resolve()
    work = Path(args.work).resolve() if args.work else channel.parent / ".bld"
    conda = [args.conda] if args.conda else [sys.executable, "-m", "conda"]
    channel.mkdir(parents=True, exist_ok=True)  # conda-build wants --output-folder to exist
    work.mkdir(parents=True, exist_ok=True)
    shared_file = recipes_dir / "conda_build_config.yaml"
    shared = shared_file if shared_file.exists() else None
    common = {
        "python": args.python,
        "compiler": args.compiler,
        "conda_build": conda_build_version(),
        "config": shared_file.read_text(encoding="utf-8") if shared else "",
    }
    variant = work / f"variant-{args.compiler}.yaml"
    variant.write_text(variant_text(args.compiler, args.python), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "CONDA_PY"}
    recipes = build_order(find_recipes(recipes_dir))
    if not recipes:
        raise BuildError(f"no recipes (*/meta.yaml) under {recipes_dir}", EXIT_USAGE)
    state = load_state(channel)
    for r in recipes:
        digest = recipe_digest(r, common)
        old = state.get(r.name, {})
        outputs = _outputs(old)
        if (
            old.get("digest") == digest
            and outputs
            and all((channel / o).is_file() for o in outputs)
        ):
            say(f"{r.name}: up to date ({', '.join(outputs)})")
            continue
        cmd = [*conda, *conda_build_args(r.path, channel, work, shared, variant)]
        say(f"{r.name}: building: {subprocess.list2cmdline(cmd)}")
        before = package_files(channel)
        if subprocess.run(cmd, env=env).returncode != 0:
            raise BuildError(f"conda build of {r.name} failed", EXIT_BUILD)
        # This build's packages: files that are new or were rewritten (same name rebuilt).
        new = sorted(p for p, st in package_files(channel).items() if before.get(p) != st)
        if not new:
            raise BuildError(f"conda build of {r.name} produced no package", EXIT_BUILD)
        state[r.name] = {"digest": digest, "outputs": new}
        save_state(channel, state)
        say(f"{r.name}: built {', '.join(new)}")
    if args.upload_label:
        upload(channel, state, args.upload_label)
    return 0


def upload(channel: Path, state: dict[str, dict[str, object]], label: str) -> None:
    """anaconda upload of every package the state lists; the token comes from the environment."""
    if not os.environ.get("ANACONDA_API_TOKEN"):
        raise BuildError("ANACONDA_API_TOKEN is not set", EXIT_UPLOAD)
    files = sorted({str(channel / o) for entry in state.values() for o in _outputs(entry)})
    cmd = ["anaconda", "upload", "--label", label, "--skip-existing", *files]
    say(f"uploading {len(files)} package(s) with label {label}")
    if subprocess.run(cmd).returncode != 0:
        raise BuildError("anaconda upload failed", EXIT_UPLOAD)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--recipes", required=True, help="folder holding <name>/meta.yaml recipes")
    p.add_argument("--channel", required=True, help="local channel (conda build --output-folder)")
    p.add_argument(
        "--python",
        required=True,
        action="append",
        help="Python version to build for, e.g. 3.12; repeat for several",
    )
    p.add_argument("--compiler", required=True, choices=COMPILERS, help="MSVC variant")
    p.add_argument("--work", help="conda-build root (--croot); default: $CONDA_BLD_PATH")
    p.add_argument("--upload-label", help="upload the packages to anaconda.org with this label")
    p.add_argument("--conda", help="conda executable (default: this Python's -m conda)")
    args = p.parse_args(argv)
    for version in args.python:
        if not re.fullmatch(r"3\.\d+", version):
            p.error(f"--python must look like 3.12, not {version}")
    args.python = list(dict.fromkeys(args.python))  # each version once, in the order given
    args.work = args.work or os.environ.get("CONDA_BLD_PATH")
    try:
        return build_all(args)
    except BuildError as e:
        print(f"build_recipes: ERROR: {e}", file=sys.stderr, flush=True)
        return e.code


if __name__ == "__main__":
    sys.exit(main())
