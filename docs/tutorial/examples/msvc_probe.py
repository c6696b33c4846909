"""Print what setuptools' MSVC compiler class would use in the current environment.

Run it where you would run ``pip install``. On Windows it goes through the same code
as a real build: vswhere and vcvarsall, or, when DISTUTILS_USE_SDK is set, the
environment as it is. Elsewhere only the DISTUTILS_USE_SDK path can work, which is
enough to watch how INCLUDE, LIB and PATH are turned into compiler settings.
The code read is setuptools/_distutils/compilers/C/msvc.py (setuptools >= 74).

With ``--compile FILE`` it also compiles FILE the way build_ext would and, if that
fails, prints the error as setuptools' setup() does ("error: ..."), which shows what a
missing cl.exe looks like (setuptools >= 84 runs the compiler with subprocess).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

try:
    from setuptools._distutils.compilers.C import msvc
except ImportError:
    sys.exit("msvc_probe: needs setuptools >= 74 (setuptools/_distutils/compilers/C/msvc.py)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compile", metavar="FILE", help="compile FILE as build_ext would")
    args = parser.parse_args(argv)
    if sys.platform != "win32" and not os.environ.get("DISTUTILS_USE_SDK"):
        print("msvc_probe: outside Windows, set DISTUTILS_USE_SDK=1 (the only usable path)")
        return 2
    compiler = msvc.Compiler()
    compiler.initialize("win-amd64")
    print(f"DISTUTILS_USE_SDK={os.environ.get('DISTUTILS_USE_SDK', '')!r}")
    print(f"compile options: {' '.join(compiler.compile_options)}")
    print(f"link options (extension): {' '.join(compiler.ldflags_shared)}")
    print(f"include dirs from INCLUDE: {msvc.Compiler.include_dirs}")
    print(f"library dirs from LIB: {msvc.Compiler.library_dirs}")
    print(f"cl.exe: {compiler.cc}")
    print(f"link.exe: {compiler.linker}")
    if args.compile:
        from setuptools._distutils.errors import CCompilerError

        with tempfile.TemporaryDirectory() as out:
            try:
                compiler.compile([args.compile], output_dir=out)
            except CCompilerError as exc:
                print(f"error: {exc}")
                return 1
        print(f"compiled {args.compile}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
