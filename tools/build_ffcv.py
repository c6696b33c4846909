"""Build recipes/ffcv on Linux the way conda-build would, into an existing Python env.

    python -m tools.build_ffcv [--python .venv/bin/python] [--work build/ffcv]

Steps: render meta.yaml for linux-64, fetch and verify the sdist, apply the recipe's patches
(tools.sources, conda-build's method), then run the recipe's own build.sh with the variables
conda-build sets (PYTHON, PREFIX, SRC_DIR, RECIPE_DIR, PKG_NAME, PKG_VERSION, PKG_BUILDNUM,
CPU_COUNT). Debian's libopencv-dev, libturbojpeg0-dev and pkg-config stand in for the host
prefix's libopencv, libjpeg-turbo and pkg-config. The build log is written to
<work>/build.log.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.errors import BuildError, ToolError
from tools.recipes import LINUX64, RECIPES_DIR, render
from tools.sources import prepare_source

RECIPE = RECIPES_DIR / "ffcv"
REPO = RECIPES_DIR.parent


@dataclass(frozen=True)
class BuildResult:
    src_dir: Path
    log: Path
    seconds: float


def patched_source(work: Path, meta: dict[str, Any] | None = None) -> Path:
    """The recipe's source, verified and patched, unpacked under work/src."""
    source = (meta or render(RECIPE, LINUX64))["source"]
    patches = [RECIPE / p for p in source.get("patches", [])]
    return prepare_source(source["url"], source["sha256"], patches, work / "src")


def build(python: Path, work: Path) -> BuildResult:
    """Run build.sh against a patched source tree; raise BuildError with the log's tail."""
    meta = render(RECIPE, LINUX64)
    src_dir = patched_source(work, meta)
    prefix = Path(
        subprocess.run(
            [str(python), "-c", "import sys; print(sys.prefix)"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    env = dict(os.environ)
    env.update(
        {
            "PYTHON": str(python),
            "PREFIX": str(prefix),
            "SRC_DIR": str(src_dir),
            "RECIPE_DIR": str(RECIPE),
            "PKG_NAME": str(meta["package"]["name"]),
            "PKG_VERSION": str(meta["package"]["version"]),
            "PKG_BUILDNUM": str(meta["build"]["number"]),
            "CPU_COUNT": str(os.cpu_count() or 1),
            "PIP_NO_INDEX": "1",
        }
    )
    log = work / "build.log"
    started = time.monotonic()
    with log.open("w") as out:
        result = subprocess.run(
            ["bash", str(RECIPE / "build.sh")],
            cwd=src_dir,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
        )
    seconds = time.monotonic() - started
    if result.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
        raise BuildError(
            f"recipes/ffcv/build.sh failed (exit {result.returncode}); last lines "
            f"of {log}:\n{tail}\nInstall the host libraries: bash tests/setup.sh"
        )
    return BuildResult(src_dir, log, seconds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", type=Path, default=REPO / ".venv" / "bin" / "python")
    parser.add_argument("--work", type=Path, default=REPO / "build" / "ffcv")
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    try:
        result = build(args.python, args.work.resolve())
    except ToolError as error:
        print(f"build_ffcv: {error}", file=sys.stderr)
        return error.exit_code
    print(
        f"build_ffcv: built and installed ffcv from {result.src_dir} in "
        f"{result.seconds:.1f} s (log: {result.log})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
