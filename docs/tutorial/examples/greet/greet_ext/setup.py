"""Build script of the tutorial's example extension (docs/tutorial/06-automation-and-upstream.md).

It shows the shape a native-dependency lookup should have on every platform:
one explicit input (GREET_PREFIX, else the active conda prefix), a fixed
layout per platform, every file checked before the compiler runs, the result
printed, a failure that names the missing file and how to provide it, and the
lookup done at build_ext time so that reading metadata never needs the library.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import NoReturn

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext as _build_ext


def fail(message: str) -> NoReturn:
    sys.exit(f"greet-ext: {message}")


def greet_prefix() -> Path:
    raw = os.environ.get("GREET_PREFIX") or os.environ.get("CONDA_PREFIX")
    if not raw:
        fail("set GREET_PREFIX to the prefix that holds libgreet (include/ and lib/)")
    return Path(raw)


def locate(prefix: Path) -> tuple[Path, Path, Path]:
    """Return (include dir, library dir, the library file the linker will use)."""
    if sys.platform == "win32":
        # conda-forge packages install native files under <prefix>\Library.
        root = prefix / "Library" if (prefix / "Library").is_dir() else prefix
        lib_file = root / "lib" / "greet.lib"  # the import library, never greet_static.lib
    else:
        root = prefix
        lib_file = root / "lib" / ("libgreet.dylib" if sys.platform == "darwin" else "libgreet.so")
    include_dir, lib_dir = root / "include", root / "lib"
    header = include_dir / "greet.h"
    for needed in (header, lib_file):
        if not needed.is_file():
            fail(f"{needed} not found; build or install libgreet into {prefix}")
    return include_dir, lib_dir, lib_file


class build_ext(_build_ext):
    """Look the library up when the extension is built, not when setup.py is imported:
    metadata and sdist steps (pip download, pip install --dry-run) then work without it."""

    def build_extensions(self) -> None:
        include_dir, lib_dir, lib_file = locate(greet_prefix())
        print(
            f"greet-ext: include_dirs=[{include_dir}] library_dirs=[{lib_dir}] "
            f"linking {lib_file.name}"
        )
        for ext in self.extensions:
            ext.include_dirs.append(str(include_dir))
            ext.library_dirs.append(str(lib_dir))
            ext.libraries.append("greet")
            # ELF and Mach-O record a search path; Windows has none: the DLL must be
            # findable when the module is imported (see 03-dll-resolution.md).
            if sys.platform != "win32":
                ext.runtime_library_dirs.append(str(lib_dir))
        super().build_extensions()


setup(
    ext_modules=[Extension("_greet", sources=["src/_greet.c"])],
    cmdclass={"build_ext": build_ext},
)
