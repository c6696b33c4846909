"""A local channel of metadata-only stand-ins for the conda-forge packages our win-64 build
and host environments resolve, so that conda-build can finalize renders offline.

A finalized render (``conda_build.api.render(..., finalize=True)``) solves the build and host
environments and reads ``info/run_exports.json`` from each package it picks; that is how
ffcv's run requirements get libopencv, libjpeg-turbo, vc14_runtime, ucrt and python_abi.
conda-forge is not reachable here, so each package below is a stand-in: the name, version,
build string pattern, build number, dependencies that shape the solve, track_features and
**the run_exports its feedstock declares**, cited by feedstock commit and evaluated the way
conda-build evaluates them (``pin_subpackage(..., max_pin='x')`` of 3.1.4.1 ->
``>=3.1.4.1,<4.0a0``). Files are empty; the hashes in build strings are placeholders
(``h`` + 7 hex digits of the name and version).

Also here, as a test workaround only: ``__win``, ``__archspec`` and ``__conda``. The classic
solver (libmamba, which Windows uses, is not on PyPI) adds the target platform's virtual
packages to every solve, but conda-build hands it an index built without them
(conda_build/index.py ``Index(..., use_system=False)``), so a win-64 solve from Linux fails
with "Unsatisfiable dependencies for platform win-64: {'__win', '__archspec', '__conda'}".
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

from tools.recipes import CONDA_PYTHON, REPO

W64 = "win-64"
# vc-feedstock @afcf954 (recipe/meta.yaml outputs; recipe/conda_build_config.yaml: vs2022 =
# vcver 14.3, runtime 14.44.35208, cl 19.44.35207, update 14; vs2026 = vcver 14.5, runtime
# 14.51.36231, cl 19.51.36231, update 1; build number 39): see _msvc below.
# python-feedstock branches 3.10 @888e71e, 3.11 @d617410, 3.12 @2553c29, 3.13 @c1905e4
# (recipe/meta.yaml: run_exports noarch: python, weak: python_abi {{ ver2 }}.* *_{{ abi }};
# build strings h<hash>_<n>_cpython, for 3.13 _cp313 at build number 100 and the
# free-threaded _cp313t at 0, which also has track_features py_freethreading).
PYTHONS = (
    ("3.10.20", 1, "cpython", "cp310", "", "888e71e"),
    ("3.11.15", 1, "cpython", "cp311", "", "d617410"),
    ("3.12.13", 0, "cpython", "cp312", "", "2553c29"),
    ("3.13.14", 100, "cp313", "cp313", "", "c1905e4"),
    ("3.13.14", 0, "cp313t", "cp313t", "py_freethreading", "c1905e4"),
)


@dataclass(frozen=True)
class StandIn:
    name: str
    version: str
    build: str  # with "{h}" where the real build string has its hash
    number: int
    source: str  # the feedstock and commit the metadata comes from
    subdir: str = W64
    depends: tuple[str, ...] = ()
    constrains: tuple[str, ...] = ()
    run_exports: dict[str, list[str]] = field(default_factory=dict)
    track_features: str = ""
    noarch: str | None = None

    @property
    def build_string(self) -> str:
        digest = hashlib.sha256(f"{self.name}-{self.version}".encode()).hexdigest()[:7]
        return self.build.format(h=f"h{digest}")


def _pythons() -> list[StandIn]:
    out = []
    for version, number, suffix, abi, features, commit in PYTHONS:
        ver2 = ".".join(version.split(".")[:2])
        branch = f"python-feedstock@{commit} (branch {ver2})"
        out.append(
            StandIn(
                "python",
                version,
                f"{{h}}_{number}_{suffix}",
                number,
                branch,
                depends=(f"python_abi {ver2}.* *_{abi}",),
                run_exports={"noarch": ["python"], "weak": [f"python_abi {ver2}.* *_{abi}"]},
                track_features=features,
            )
        )
        # python_abi-feedstock @077a506: noarch generic, build 8_<abi>, constrains python
        out.append(
            StandIn(
                "python_abi",
                ver2,
                f"8_{abi}",
                8,
                "python_abi-feedstock@077a506",
                subdir="noarch",
                constrains=(f"python {ver2}.* *_{suffix}",),
                track_features="freethreading" if abi.endswith("t") else "",
                noarch="generic",
            )
        )
    return out


def _msvc(vsyear: str, vcver: str, runtime: str, cl: str, update: str) -> list[StandIn]:
    """vc-feedstock's outputs for one Visual Studio line: the compiler activation package
    vs<year>_win-64 (what {{ compiler('cxx') }} asks for), vs_win-64 (what {{ stdlib('c') }}
    asks for), vc and vc<major>_runtime. Both compiler packages carry the strong run_exports
    ``vc >=<vcver>,<15``, ``vc14_runtime >=<runtime>``, ``ucrt >=10.0.20348.0``."""
    src = "vc-feedstock@afcf954"
    exports = {"strong": [f"vc >={vcver},<15", f"vc14_runtime >={runtime}", "ucrt >=10.0.20348.0"]}
    common = {"track_features": "vc14"}
    return [
        StandIn(
            f"vs{vsyear}_win-64",
            cl,
            "{h}_39",
            39,
            src,
            depends=("vswhere",),
            constrains=(f"vs_win-64 {vsyear}.{update}",),
            run_exports=exports,
            **common,
        ),
        StandIn(
            "vs_win-64",
            f"{vsyear}.{update}",
            "{h}_39",
            39,
            src,
            depends=(f"vs{vsyear}_win-64 {cl}",),
            run_exports=exports,
            **common,
        ),
        StandIn("vc", vcver, "{h}_39", 39, src, depends=(f"vc14_runtime >={runtime}",), **common),
        StandIn("vc14_runtime", runtime, "{h}_39", 39, src, depends=("ucrt >=10.0.20348.0",)),
    ]


STANDINS: tuple[StandIn, ...] = (
    *_msvc("2022", "14.3", "14.44.35208", "19.44.35207", "14"),
    *_msvc("2026", "14.5", "14.51.36231", "19.51.36231", "1"),
    StandIn("ucrt", "10.0.26100.0", "{h}_0", 0, "ucrt-feedstock@4ca9b7e"),
    StandIn(
        "vswhere",
        "3.1.7",
        "{h}_1",
        1,
        "vswhere-feedstock@f79bf62",
        subdir="noarch",
        noarch="generic",
    ),
    *_pythons(),
    # pip-feedstock @c2aca84, setuptools-feedstock @3a57fcb: noarch: python, no run_exports
    # (setuptools at 84.2.1, the version our recipes pin, not the feedstock's 82.0.1).
    StandIn(
        "pip",
        "26.0.1",
        "pyh{h}_0",
        0,
        "pip-feedstock@c2aca84",
        subdir="noarch",
        depends=("python >=3.9",),
        noarch="python",
    ),
    StandIn(
        "setuptools",
        "84.2.1",
        "pyh{h}_0",
        0,
        "setuptools-feedstock@3a57fcb",
        subdir="noarch",
        depends=("python >=3.9",),
        noarch="python",
    ),
    # opencv-feedstock @1827a2e: libopencv 5.0.0 build 3 (headless_h..._3), qt6 build 603
    # (qt6_h..._603, preferred by build number unless headless is asked for); run_exports
    # pin_subpackage('libopencv', max_pin='x.x.x').
    StandIn(
        "libopencv",
        "5.0.0",
        "headless_{h}_3",
        3,
        "opencv-feedstock@1827a2e",
        run_exports={"weak": ["libopencv >=5.0.0,<5.0.1.0a0"]},
    ),
    StandIn(
        "libopencv",
        "5.0.0",
        "qt6_{h}_603",
        603,
        "opencv-feedstock@1827a2e",
        run_exports={"weak": ["libopencv >=5.0.0,<5.0.1.0a0"]},
    ),
    # libjpeg-turbo-feedstock @2abce50: 3.1.4.1 build 0, pin_subpackage(max_pin='x')
    StandIn(
        "libjpeg-turbo",
        "3.1.4.1",
        "{h}_0",
        0,
        "libjpeg-turbo-feedstock@2abce50",
        constrains=("jpeg <0.0.0a",),
        run_exports={"weak": ["libjpeg-turbo >=3.1.4.1,<4.0a0"]},
    ),
    # pthreads-win32-feedstock @9d8b2d3: 2.9.1 build 4, no run_exports
    StandIn("pthreads-win32", "2.9.1", "{h}_4", 4, "pthreads-win32-feedstock@9d8b2d3"),
    # test workaround (see the module docstring), not conda-forge packages
    StandIn("__win", "0", "0", 0, "workaround: classic solver, no virtual packages"),
    StandIn("__archspec", "1", "x86_64", 0, "workaround: classic solver, no virtual packages"),
    StandIn("__conda", "26.7.1", "0", 0, "workaround: classic solver, no virtual packages"),
)


def _write_package(channel: Path, pkg: StandIn) -> None:
    index = {
        "name": pkg.name,
        "version": pkg.version,
        "build": pkg.build_string,
        "build_number": pkg.number,
        "depends": list(pkg.depends),
        "constrains": list(pkg.constrains),
        "subdir": pkg.subdir,
        "license": "stand-in, no files",
        "timestamp": 1780000000000,
    }
    if pkg.track_features:
        index["track_features"] = pkg.track_features
    if pkg.noarch:
        index["noarch"] = pkg.noarch
    files = {
        "info/index.json": json.dumps(index),
        "info/paths.json": json.dumps({"paths": [], "paths_version": 1}),
        "info/files": "",
        "info/about.json": json.dumps({"summary": f"stand-in from {pkg.source}"}),
    }
    if pkg.run_exports:
        files["info/run_exports.json"] = json.dumps(pkg.run_exports)
    folder = channel / pkg.subdir
    folder.mkdir(parents=True, exist_ok=True)
    archive = folder / f"{pkg.name}-{pkg.version}-{pkg.build_string}.tar.bz2"
    with tarfile.open(archive, "w:bz2") as tf:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), 1780000000
            tf.addfile(info, io.BytesIO(data))


def make_channel(channel: Path, standins: tuple[StandIn, ...] = STANDINS) -> Path:
    """Write the stand-ins into ``channel`` and index it with conda-index (.venv-conda)."""
    for pkg in standins:
        _write_package(channel, pkg)
    for subdir in ("noarch", W64):
        (channel / subdir).mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [str(CONDA_PYTHON), "-m", "conda_index", str(channel)],
        cwd=REPO,
        capture_output=True,
        check=True,
        timeout=300,
    )
    return channel
