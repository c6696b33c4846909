"""Run FFCV 1.0.2's own ``setup.py`` Windows logic on fabricated Windows machines.

    python -m tools.ffcv_setup_probe [--section NAME ...] [--update-doc MARKDOWN]

The report this prints is quoted in docs/ffcv-build-analysis.md (tests/test_ffcv_setup_probe.py
keeps the two identical). Nothing of FFCV's code is copied: the sdist pinned by
recipes/ffcv/meta.yaml is downloaded and verified (tools.sources), and its ``setup.py`` is
executed as it is, in a *Windows view*:

- ``os`` is a module whose ``os.path`` is ``ntpath`` (backslashes, drive letters, the same
  ``normpath``/``dirname``/``join`` Windows Python uses) and whose file-system queries
  (``exists``, ``isdir``, ``scandir``) answer from a fabricated tree of files on this machine.
  Look-ups are case-insensitive and directory listings come back in upper-cased-name order,
  as NTFS does; ``os.environ`` holds the fabricated ``PATH``.
- ``glob`` and the ``fnmatch`` it uses are fresh copies of the standard-library modules bound
  to that ``os``, so ``glob(..., recursive=True)`` walks the tree with Windows semantics
  (case-insensitive ``*.lib``), exactly as on Windows, where ``os.path`` *is* ``ntpath``.
- ``platform.system()`` is ``'Windows'`` and ``platform.machine()`` is ``'AMD64'``.
- Anything else those modules are asked for raises, so an unemulated call cannot pass
  silently.

Two ways in, both unmodified FFCV code:

1. ``find_pkg_dirs``/``pkgconfig_windows`` are taken from the parsed ``setup.py`` (``ast``) with
   the import statements they depend on, and called one package at a time, as the module body
   does (``opencv4``, ``libturbojpeg``, ``pthread``).
2. The whole ``setup.py`` runs through setuptools' ``build_meta.__legacy__`` backend, which is
   what pip uses for an sdist without ``pyproject.toml``; ``get_requires_for_build_wheel`` is
   the step pip logs as "Getting requirements to build wheel". Only ``setup.py``'s own
   ``import os/glob/platform`` (and the recipe's ``ffcv_hostlibs`` module) get the Windows
   view; setuptools itself runs normally.

The same runner also executes the recipe's patched ``setup.py`` (recipes/ffcv/patches), to show
what our build uses instead.
"""

from __future__ import annotations

import argparse
import ast
import builtins
import contextlib
import difflib
import importlib.util
import io
import ntpath
import os
import re
import shutil
import sys
import tempfile
import types
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools.errors import ToolError
from tools.recipes import RECIPES_DIR, WIN64, render
from tools.sources import apply_patch, fetch, unpack

RECIPE = RECIPES_DIR / "ffcv"
FUNCTIONS = ("find_pkg_dirs", "pkgconfig_windows")
PACKAGES = ("opencv4", "libturbojpeg", "pthread")  # the order setup.py's body uses
HOSTLIBS = "ffcv_hostlibs"  # module added by recipes/ffcv/patches/0001


class ProbeError(ToolError):
    """The probe could not run FFCV's code faithfully."""

    exit_code = 6


class EndlessLoop(ProbeError):
    """setup.py would never return: its walk up the tree is stuck at a drive root."""


# -- the fabricated Windows file system --------------------------------------------------------


class WindowsTree:
    """Fabricated Windows files: drive ``X:`` is the folder ``root/X``.

    Names keep the case they were created with; look-ups ignore case (NTFS semantics).
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    def _parts(self, winpath: str) -> tuple[str, list[str]]:
        drive, rest = ntpath.splitdrive(ntpath.normpath(winpath))
        if len(drive) != 2 or drive[1] != ":":
            raise ProbeError(f"not an absolute Windows path: {winpath!r}")
        return drive[0].upper(), [part for part in rest.split("\\") if part]

    def host_path(self, winpath: str) -> Path | None:
        """The file on this machine behind ``winpath``, or None when there is none."""
        if not winpath:
            return None  # Windows: os.path.exists('') is False
        drive, parts = self._parts(winpath)
        current = self.root / drive
        if not current.is_dir():
            return None
        for part in parts:
            if not current.is_dir():
                return None
            matches = [e for e in current.iterdir() if e.name.casefold() == part.casefold()]
            if not matches:
                return None
            current = matches[0]
        return current

    def add(self, winpath: str, text: str = "") -> None:
        """Create a file (or a folder, when ``winpath`` ends with a backslash)."""
        drive, parts = self._parts(winpath)
        current = self.root / drive
        current.mkdir(parents=True, exist_ok=True)
        is_dir = winpath.endswith("\\")
        for index, part in enumerate(parts):
            existing = [e for e in current.iterdir() if e.name.casefold() == part.casefold()]
            current = existing[0] if existing else current / part
            if index < len(parts) - 1 or is_dir:
                current.mkdir(exist_ok=True)
            else:
                current.write_text(text, encoding="utf-8")

    def scandir(self, winpath: str) -> _Listing:
        host = self.host_path(winpath)
        if host is None or not host.is_dir():
            raise FileNotFoundError(2, "The system cannot find the path specified", winpath)
        with os.scandir(host) as entries:
            ordered = sorted(entries, key=lambda e: e.name.upper())
        return _Listing(ordered)

    def dlls(self, winpath: str) -> list[str]:
        host = self.host_path(winpath)
        if host is None or not host.is_dir():
            return []
        return sorted(p.name for p in host.iterdir() if p.name.lower().endswith(".dll"))


class _Listing:
    """What ``os.scandir`` returns: a context manager iterating directory entries."""

    def __init__(self, entries: list[os.DirEntry[str]]) -> None:
        self._entries = entries

    def __enter__(self) -> _Listing:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def __iter__(self) -> Iterator[os.DirEntry[str]]:
        return iter(self._entries)


def _strict(label: str) -> Callable[[str], Any]:
    def missing(name: str) -> Any:
        raise ProbeError(f"{label}.{name} is not emulated by the probe; extend WindowsView")

    return missing


def _fresh_stdlib_module(name: str) -> types.ModuleType:
    """A private copy of a standard-library module (not registered in sys.modules)."""
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ProbeError(f"cannot locate the standard-library module {name!r}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class WindowsView:
    """``os``, ``glob`` and ``platform`` as FFCV's setup.py would see them on Windows."""

    tree: WindowsTree
    environ: dict[str, str]
    modules: dict[str, types.ModuleType] = field(default_factory=dict)
    root_dirname_calls: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        path = types.ModuleType("ntpath_on_fabricated_tree")
        for name in dir(ntpath):
            if not name.startswith("__"):
                setattr(path, name, getattr(ntpath, name))
        path.exists = path.lexists = lambda p: self.tree.host_path(os.fspath(p)) is not None
        path.isdir = lambda p: self._is(p, Path.is_dir)
        path.isfile = lambda p: self._is(p, Path.is_file)
        path.dirname = self._dirname
        path.__dict__["__getattr__"] = _strict("os.path")

        win_os = types.ModuleType("os_on_fabricated_windows")
        win_os.path = path
        win_os.name, win_os.sep, win_os.altsep = "nt", "\\", "/"
        win_os.pathsep, win_os.curdir, win_os.pardir = ";", ".", ".."
        win_os.environ = self.environ
        win_os.fspath = os.fspath
        win_os.scandir = self.tree.scandir
        win_os.__dict__["__getattr__"] = _strict("os")

        fnmatch = _fresh_stdlib_module("fnmatch")
        fnmatch.os = win_os  # os.path is not posixpath any more: names are normcase'd
        glob = _fresh_stdlib_module("glob")
        glob.os = win_os
        glob.fnmatch = fnmatch

        platform = types.ModuleType("platform_on_fabricated_windows")
        platform.system = lambda: "Windows"
        platform.machine = lambda: "AMD64"
        platform.__dict__["__getattr__"] = _strict("platform")
        self.modules = {"os": win_os, "glob": glob, "platform": platform}

    def _is(self, winpath: str, test: Callable[[Path], bool]) -> bool:
        host = self.tree.host_path(os.fspath(winpath))
        return host is not None and test(host)

    def _dirname(self, winpath: str) -> str:
        parent = ntpath.dirname(winpath)
        if parent == winpath:
            calls = self.root_dirname_calls.get(winpath, 0) + 1
            self.root_dirname_calls[winpath] = calls
            if calls >= 3:
                raise EndlessLoop(
                    f"os.path.dirname({winpath!r}) returned its argument {calls} times: the "
                    "walk up the tree is stuck at the drive root and would never end"
                )
        return parent

    def open(self, file: str, *args: Any, **kwargs: Any) -> Any:
        host = self.tree.host_path(os.fspath(file))
        if host is None:
            raise FileNotFoundError(2, "No such file or directory", file)
        return open(host, *args, **kwargs)

    def builtins_for(self, importer: Path) -> dict[str, Any]:
        """Builtins for code that must see this view: ``__import__`` and ``open`` replaced."""
        namespace = dict(builtins.__dict__)
        namespace["__import__"] = self._make_import(importer)
        namespace["open"] = self.open
        return namespace

    def _make_import(self, importer: Path) -> Callable[..., Any]:
        real_import = builtins.__import__

        def view_import(
            name: str,
            globals_: Mapping[str, Any] | None = None,
            locals_: Mapping[str, Any] | None = None,
            fromlist: Sequence[str] = (),
            level: int = 0,
        ) -> Any:
            if level == 0 and name in self.modules:
                return self.modules[name]
            if level == 0 and name == HOSTLIBS:
                return self.load_module(importer.parent / f"{HOSTLIBS}.py")
            return real_import(name, globals_, locals_, fromlist, level)

        return view_import

    def load_module(self, source: Path) -> types.ModuleType:
        """Execute a module's source with this view's builtins (not put in sys.modules)."""
        module = types.ModuleType(source.stem)
        module.__file__ = str(source)
        module.__dict__["__builtins__"] = self.builtins_for(source)
        exec(compile(source.read_text(encoding="utf-8"), str(source), "exec"), module.__dict__)
        return module


@contextlib.contextmanager
def windows_imports_for(setup_py: Path, view: WindowsView) -> Iterator[None]:
    """While active, imports made *by setup_py itself* get the Windows view."""
    real_import = builtins.__import__
    view_import = view._make_import(setup_py)
    target = str(setup_py)

    def hook(
        name: str,
        globals_: Mapping[str, Any] | None = None,
        locals_: Mapping[str, Any] | None = None,
        fromlist: Sequence[str] = (),
        level: int = 0,
    ) -> Any:
        if globals_ is not None and globals_.get("__file__") == target:
            return view_import(name, globals_, locals_, fromlist, level)
        return real_import(name, globals_, locals_, fromlist, level)

    builtins.__import__ = hook
    try:
        yield
    finally:
        builtins.__import__ = real_import


# -- FFCV's functions, taken from its setup.py ---------------------------------------------


def load_setup_functions(setup_py: Path, view: WindowsView) -> dict[str, Callable[..., Any]]:
    """``find_pkg_dirs`` and ``pkgconfig_windows`` from setup.py, bound to the Windows view.

    Only the module-level imports that bind names these functions use are executed with
    them; every other global name they read must be a builtin, or the probe refuses.
    """
    source = setup_py.read_text(encoding="utf-8")
    module = ast.parse(source, filename=str(setup_py))
    functions = [n for n in module.body if isinstance(n, ast.FunctionDef) and n.name in FUNCTIONS]
    if sorted(f.name for f in functions) != sorted(FUNCTIONS):
        raise ProbeError(f"{setup_py} does not define {FUNCTIONS}; not FFCV 1.0.2's setup.py?")
    used = {n.id for f in functions for n in ast.walk(f) if isinstance(n, ast.Name)}
    imports: list[ast.stmt] = []
    bound: set[str] = set()
    for node in module.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = {(a.asname or a.name).split(".")[0] for a in node.names}
            if names & used:
                imports.append(node)
                bound |= names
    local = {a.arg for f in functions for a in ast.walk(f) if isinstance(a, ast.arg)}
    assigned = {
        n.id
        for f in functions
        for n in ast.walk(f)
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
    }
    unresolved = used - bound - local - assigned - set(FUNCTIONS) - set(dir(builtins))
    if unresolved:
        raise ProbeError(
            f"setup.py functions read globals the probe does not provide: {sorted(unresolved)}"
        )
    code = compile(ast.Module(body=[*imports, *functions], type_ignores=[]), str(setup_py), "exec")
    namespace: dict[str, Any] = {
        "__name__": "ffcv_setup_py",
        "__file__": str(setup_py),
        "__builtins__": view.builtins_for(setup_py),
    }
    exec(code, namespace)
    return {name: namespace[name] for name in FUNCTIONS}


# -- scenarios ------------------------------------------------------------------------------

WINDOWS_BASE_FILES = (
    "C:\\Windows\\System32\\kernel32.dll",
    "C:\\Windows\\System32\\ucrtbase.dll",
    "C:\\Windows\\System32\\msvcrt.dll",
    "C:\\Windows\\System32\\Wbem\\wbemcomn.dll",
    "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
    "C:\\Windows\\System32\\OpenSSH\\ssh.exe",
    "C:\\Program Files\\Git\\cmd\\git.exe",
    "C:\\Users\\dev\\AppData\\Local\\Microsoft\\WindowsApps\\winget.exe",
)
WINDOWS_BASE_PATH = (
    "C:\\Windows\\system32",
    "C:\\Windows",
    "C:\\Windows\\System32\\Wbem",
    "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\",
    "C:\\Windows\\System32\\OpenSSH\\",
    "C:\\Program Files\\Git\\cmd",
    "C:\\Users\\dev\\AppData\\Local\\Microsoft\\WindowsApps",
)

# FFCV's README (sdist README.md, "### Windows"): OpenCV's Windows pack with
# ..../opencv/build/x64/vc15/bin on PATH, libjpeg-turbo's vc64 installer with
# ..../libjpeg-turbo64/bin, pthreads-w32's Pre-built.2 renamed to pthread with ..../pthread/dll.
README_FILES = (
    "C:\\opencv\\build\\include\\opencv2\\opencv.hpp",
    "C:\\opencv\\build\\x64\\vc15\\bin\\opencv_world455.dll",
    "C:\\opencv\\build\\x64\\vc15\\bin\\opencv_world455d.dll",
    "C:\\opencv\\build\\x64\\vc15\\bin\\opencv_videoio_ffmpeg455_64.dll",
    "C:\\opencv\\build\\x64\\vc15\\lib\\opencv_world455.lib",
    "C:\\opencv\\build\\x64\\vc15\\lib\\opencv_world455d.lib",
    "C:\\libjpeg-turbo64\\bin\\jpeg62.dll",
    "C:\\libjpeg-turbo64\\bin\\turbojpeg.dll",
    "C:\\libjpeg-turbo64\\include\\turbojpeg.h",
    "C:\\libjpeg-turbo64\\lib\\jpeg.lib",
    "C:\\libjpeg-turbo64\\lib\\jpeg-static.lib",
    "C:\\libjpeg-turbo64\\lib\\turbojpeg.lib",
    "C:\\libjpeg-turbo64\\lib\\turbojpeg-static.lib",
    "C:\\pthread\\dll\\x64\\pthreadVC2.dll",
    "C:\\pthread\\dll\\x86\\pthreadVC2.dll",
    "C:\\pthread\\include\\pthread.h",
    "C:\\pthread\\lib\\x64\\pthreadVC2.lib",
    "C:\\pthread\\lib\\x86\\pthreadVC2.lib",
)

ENV = "C:\\Users\\dev\\miniforge3\\envs\\ffcv"
SHORT_ENV = "C:\\ffcv"
OPENCV_VERSION_HPP = (
    "#define CV_VERSION_MAJOR    5\n#define CV_VERSION_MINOR    0\n#define CV_VERSION_REVISION 0\n"
)
# DESIGN.md table 3 (conda-forge win-64): headers, import and static libraries, DLLs.
LIBRARY_FILES = (
    "include\\opencv2\\opencv.hpp",
    "include\\opencv2\\core\\version.hpp",
    "include\\turbojpeg.h",
    "include\\jpeglib.h",
    "include\\pthread.h",
    "include\\sched.h",
    "include\\semaphore.h",
    "lib\\opencv_core500.lib",
    "lib\\opencv_imgproc500.lib",
    "lib\\opencv_imgcodecs500.lib",
    "lib\\opencv_dnn500.lib",
    "lib\\turbojpeg.lib",
    "lib\\turbojpeg-static.lib",
    "lib\\jpeg.lib",
    "lib\\jpeg-static.lib",
    "lib\\pthread.lib",
    "lib\\pthreads.lib",
    "lib\\pthreads_static.lib",
    "lib\\pkgconfig\\libturbojpeg.pc",
    "bin\\opencv_core500.dll",
    "bin\\opencv_imgproc500.dll",
    "bin\\opencv_imgcodecs500.dll",
    "bin\\opencv_dnn500.dll",
    "bin\\turbojpeg.dll",
    "bin\\jpeg8.dll",
    "bin\\pthreadVSE2.dll",
)
# Files every conda-forge Python env on Windows has (python311.dll sits in the prefix root).
PYTHON_FILES = (
    "python.exe",
    "python311.dll",
    "include\\Python.h",
    "libs\\python311.lib",
    "Lib\\site-packages\\torch\\lib\\torch.lib",
    "Lib\\site-packages\\torch\\lib\\torch_cpu.dll",
    "Lib\\site-packages\\numpy\\_core\\lib\\npymath.lib",
    "Scripts\\pip.exe",
)


def conda_env_files(prefix: str) -> tuple[str, ...]:
    return (
        *(f"{prefix}\\{f}" for f in PYTHON_FILES),
        *(f"{prefix}\\Library\\{f}" for f in LIBRARY_FILES),
    )


def activated_path(prefix: str) -> tuple[str, ...]:
    """What `conda activate`/`micromamba activate` put in front of PATH on Windows
    (conda/activate.py, _get_path_dirs)."""
    return (
        prefix,
        f"{prefix}\\Library\\mingw-w64\\bin",
        f"{prefix}\\Library\\usr\\bin",
        f"{prefix}\\Library\\bin",
        f"{prefix}\\Scripts",
        f"{prefix}\\bin",
    )


CONDA_ENV_FILES = conda_env_files(ENV)
SHORT_ENV_FILES = conda_env_files(SHORT_ENV)
# Two PATH entries left behind by uninstalled programs (the folders no longer exist).
STALE_PATH = (
    "C:\\Program Files\\OpenSSL-Win64\\bin",
    "C:\\Program Files\\Inkscape\\bin",
)


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    files: tuple[str, ...]
    path: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()

    def environ(self) -> dict[str, str]:
        return {"PATH": ";".join(self.path), **dict(self.env)}


SCENARIOS = (
    Scenario(
        "readme-layout",
        "FFCV README's Windows layout, PATH as its README says (..\\pthread\\dll)",
        README_FILES + WINDOWS_BASE_FILES,
        (
            *WINDOWS_BASE_PATH,
            "C:\\opencv\\build\\x64\\vc15\\bin",
            "C:\\libjpeg-turbo64\\bin",
            "C:\\pthread\\dll",
        ),
    ),
    Scenario(
        "readme-layout-x64",
        "FFCV README's Windows layout, ..\\pthread\\dll\\x64 on PATH",
        README_FILES + WINDOWS_BASE_FILES,
        (
            *WINDOWS_BASE_PATH,
            "C:\\opencv\\build\\x64\\vc15\\bin",
            "C:\\libjpeg-turbo64\\bin",
            "C:\\pthread\\dll\\x64",
        ),
    ),
    Scenario(
        "conda-env",
        f"conda-forge env {ENV}, activated",
        CONDA_ENV_FILES + WINDOWS_BASE_FILES,
        activated_path(ENV) + WINDOWS_BASE_PATH,
        (("CONDA_PREFIX", ENV),),
    ),
    Scenario(
        "library-bin",
        "the same env, not activated: only its Library\\bin added to PATH",
        CONDA_ENV_FILES + WINDOWS_BASE_FILES,
        (*WINDOWS_BASE_PATH, f"{ENV}\\Library\\bin"),
    ),
    Scenario(
        "library-bin-stale",
        "as library-bin, plus two stale PATH entries",
        CONDA_ENV_FILES + WINDOWS_BASE_FILES,
        WINDOWS_BASE_PATH + STALE_PATH + (f"{ENV}\\Library\\bin",),
    ),
    Scenario(
        "short-prefix",
        f"conda-forge env {SHORT_ENV}, not activated: its Library\\bin added to PATH",
        SHORT_ENV_FILES + WINDOWS_BASE_FILES,
        (*WINDOWS_BASE_PATH, f"{SHORT_ENV}\\Library\\bin"),
    ),
    Scenario(
        "short-prefix-activated",
        f"conda-forge env {SHORT_ENV}, activated",
        SHORT_ENV_FILES + WINDOWS_BASE_FILES,
        activated_path(SHORT_ENV) + WINDOWS_BASE_PATH,
        (("CONDA_PREFIX", SHORT_ENV),),
    ),
    Scenario(
        "no-libraries",
        "a stock Windows PATH, no libraries installed",
        WINDOWS_BASE_FILES,
        WINDOWS_BASE_PATH,
    ),
)
# Where each package's DLLs are, to say how far down difflib's ranking the right entry is.
PACKAGE_DLLS = {"opencv4": "opencv_", "libturbojpeg": "turbojpeg", "pthread": "pthread"}


# -- running ----------------------------------------------------------------------------------


@dataclass
class Workspace:
    """The verified sdist unpacked (upstream) and patched as the recipe does."""

    root: Path
    upstream: Path
    patched: Path

    @classmethod
    def create(cls, root: Path) -> Workspace:
        meta = render(RECIPE, WIN64)
        source = meta["source"]
        archive = fetch(source["url"], source["sha256"])
        upstream = unpack(archive, root / "upstream")
        patched = unpack(archive, root / "patched")
        for patch in source.get("patches", []):
            apply_patch(RECIPE / patch, patched)
        return cls(root, upstream, patched)

    def tree_for(self, scenario: Scenario, label: str) -> WindowsTree:
        folder = self.root / "trees" / f"{scenario.name}-{label}"
        if folder.exists():
            shutil.rmtree(folder)
        tree = WindowsTree(folder)
        for winpath in scenario.files:
            text = OPENCV_VERSION_HPP if winpath.endswith("version.hpp") else ""
            tree.add(winpath, text)
        return tree


def _ranking(package: str, entries: list[str]) -> list[tuple[float, str]]:
    """Every PATH entry with difflib's similarity to ``package``, best first, as
    ``get_close_matches`` orders them (ties: the larger string first)."""
    scored = []
    matcher = difflib.SequenceMatcher()
    matcher.set_seq2(package)
    for entry in entries:
        matcher.set_seq1(entry)
        scored.append((matcher.ratio(), entry))
    return sorted(scored, reverse=True)


def _describe(tree: WindowsTree, entry: str) -> str:
    if not entry or tree.host_path(entry) is None:
        return "missing"
    dlls = tree.dlls(entry)
    return f"{len(dlls)} .dll" if dlls else "no .dll"


def probe_functions(scenario: Scenario, workspace: Workspace) -> list[str]:
    """Call FFCV's pkgconfig_windows for each package, as setup.py's body does."""
    tree = workspace.tree_for(scenario, "functions")
    view = WindowsView(tree, scenario.environ())
    functions = load_setup_functions(workspace.upstream / "setup.py", view)
    entries = view.environ["PATH"].lower().split(";")
    out = [f"PATH has {len(entries)} entries; setup.py lower-cases them and splits on ';'."]
    kw: dict[str, list[str]] = {"include_dirs": []}
    for package in PACKAGES:
        ranking = _ranking(package, entries)
        top3 = [entry for _, entry in ranking[:3]]
        if top3 != difflib.get_close_matches(package, entries, cutoff=0):
            raise ProbeError("the probe's ranking disagrees with difflib.get_close_matches")
        out.append(f"{package}: the 3 PATH entries difflib ranks closest (the only candidates):")
        for rank, (score, entry) in enumerate(ranking[:3], 1):
            out.append(f"  #{rank} {score:.4f} {entry or '(empty)'}  [{_describe(tree, entry)}]")
        marker = PACKAGE_DLLS[package]
        holders = [
            (rank, score, entry)
            for rank, (score, entry) in enumerate(ranking, 1)
            if any(d.lower().startswith(marker) for d in tree.dlls(entry))
        ]
        for rank, score, entry in holders[:1]:
            where = "a candidate" if rank <= 3 else "NOT a candidate"
            out.append(f"  {package}'s DLLs are in #{rank} {score:.4f} {entry} ({where})")
        if not holders:
            out.append(f"  no PATH entry holds {package}'s DLLs")
        before = {key: list(value) for key, value in kw.items()}
        try:
            root_dir, dll_dir = functions["find_pkg_dirs"](package)
            out.append(f"  find_pkg_dirs -> dll_dir={dll_dir!r} root_dir={root_dir!r}")
            kw = functions["pkgconfig_windows"](package, kw)
        except EndlessLoop as error:
            out.append(f"  pkgconfig_windows never returns: {error}")
            return out
        except Exception as error:  # FFCV raises bare Exception
            out.append(f"  raises {type(error).__name__}: {error}")
            return out
        added = {key: value[len(before.get(key, [])) :] for key, value in kw.items()}
        out.append(f"  include_dirs += {added.get('include_dirs', [])}")
        out.append(f"  library_dirs += {added.get('library_dirs', [])}")
        out.append(f"  libraries += {len(added.get('libraries', []))}:")
        out.extend(f"    {library}" for library in added.get("libraries", []))
    libraries = kw.get("libraries", [])
    out.append(
        f"Extension(libraries=...) gets {len(libraries)} entries, "
        f"{len(set(libraries))} distinct; include_dirs={kw['include_dirs']}"
    )
    return out


def pip_metadata_step(scenario: Scenario, workspace: Workspace, patched: bool) -> list[str]:
    """What pip's "Getting requirements to build wheel" step does with this setup.py."""
    label = "patched" if patched else "upstream"
    tree = workspace.tree_for(scenario, f"pip-{label}")
    view = WindowsView(tree, scenario.environ())
    source = workspace.patched if patched else workspace.upstream
    copy = workspace.root / "pip" / f"{scenario.name}-{label}"
    if copy.exists():
        shutil.rmtree(copy)
    shutil.copytree(source, copy)
    setup_py = copy / "setup.py"
    from setuptools import build_meta

    stdout, stderr = io.StringIO(), io.StringIO()
    old_cwd, old_argv, old_path = Path.cwd(), list(sys.argv), list(sys.path)
    result: list[str] = []
    try:
        os.chdir(copy)
        with (
            windows_imports_for(setup_py, view),
            contextlib.redirect_stdout(stdout),
            contextlib.redirect_stderr(stderr),
            warnings.catch_warnings(record=True) as seen,
        ):
            warnings.simplefilter("always")
            try:
                requires = build_meta.__legacy__.get_requires_for_build_wheel()
                result.append(f"get_requires_for_build_wheel() returned {requires}")
            except EndlessLoop as error:
                result.append(f"get_requires_for_build_wheel() never returns: {error}")
            except Exception as error:  # what pip would report
                result.append(
                    f"get_requires_for_build_wheel() raised {type(error).__name__}: {error}"
                )
    finally:
        os.chdir(old_cwd)
        sys.argv[:], sys.path[:] = old_argv, old_path
    printed = [line for line in stdout.getvalue().splitlines() if line.startswith("ffcv:")]
    result.extend(f"  printed: {line}" for line in printed)
    for warning in seen:
        text = str(warning.message)
        if "LICENSE" in text:
            lines = [line.strip() for line in text.splitlines()]
            kept = [line for line in lines if line and line.strip("!*")]
            result.append(f"  {warning.category.__name__}: {kept[0]}")
            result.extend(f"    {line}" for line in kept[1:])
    return result


def report(workspace: Workspace) -> dict[str, list[str]]:
    """Every section of the report, by name."""
    by_name = {s.name: s for s in SCENARIOS}
    sections: dict[str, list[str]] = {}
    for scenario in SCENARIOS:
        sections[f"functions/{scenario.name}"] = [
            f"scenario: {scenario.title}",
            *probe_functions(scenario, workspace),
        ]
    for name in ("no-libraries", "conda-env", "short-prefix", "short-prefix-activated"):
        sections[f"pip-upstream/{name}"] = [
            f"scenario: {by_name[name].title}",
            *pip_metadata_step(by_name[name], workspace, patched=False),
        ]
    conda = by_name["conda-env"]
    recipe_cases = (
        conda,
        Scenario(
            "conda-build-host",
            "conda-build host prefix (LIBRARY_INC/LIBRARY_LIB set, PATH irrelevant)",
            conda.files,
            WINDOWS_BASE_PATH,
            (("LIBRARY_INC", f"{ENV}\\Library\\include"), ("LIBRARY_LIB", f"{ENV}\\Library\\lib")),
        ),
        Scenario(
            "conda-env-no-pthreads",
            "activated env without pthreads-win32",
            tuple(f for f in conda.files if "pthread" not in f.lower()),
            conda.path,
            conda.env,
        ),
    )
    for scenario in recipe_cases:
        sections[f"pip-patched/{scenario.name}"] = [
            f"scenario: {scenario.title}",
            *pip_metadata_step(scenario, workspace, patched=True),
        ]
    return sections


def render_report(sections: Mapping[str, list[str]]) -> str:
    return "".join(
        f"== {name} ==\n" + "\n".join(lines) + "\n\n" for name, lines in sections.items()
    )


def parse_report(text: str) -> dict[str, str]:
    """Section name -> its lines (joined with newlines), from render_report's output."""
    sections: dict[str, str] = {}
    name = None
    for line in text.splitlines():
        if line.startswith("== ") and line.endswith(" =="):
            name = line[3:-3]
            sections[name] = ""
        elif name is not None:
            sections[name] += line + "\n"
    return {key: value.strip("\n") for key, value in sections.items()}


QUOTE = re.compile(
    r"^<!-- probe: (?P<name>[\w/.-]+) -->\n```text\n(?P<body>.*?)\n```$", re.M | re.S
)


def quoted_sections(markdown: str) -> dict[str, str]:
    """Section name -> the text quoted for it in a Markdown document."""
    return {m.group("name"): m.group("body") for m in QUOTE.finditer(markdown)}


def update_doc(markdown: str, sections: Mapping[str, str]) -> str:
    """The document with every ``<!-- probe: NAME -->`` quote replaced by the section now."""

    def replace(match: re.Match[str]) -> str:
        name = match.group("name")
        if name not in sections:
            raise ProbeError(
                f"the document quotes section {name!r}, which the probe no "
                f"longer prints; known: {sorted(sections)}"
            )
        return f"<!-- probe: {name} -->\n```text\n{sections[name]}\n```"

    return QUOTE.sub(replace, markdown)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--update-doc",
        type=Path,
        metavar="MARKDOWN",
        help="rewrite the <!-- probe: NAME --> quotes in this file in place",
    )
    parser.add_argument(
        "--section",
        action="append",
        default=[],
        help="print only this section (repeatable); default: all",
    )
    args = parser.parse_args(argv)
    try:
        with tempfile.TemporaryDirectory(prefix="ffcv-setup-probe-") as work:
            sections = report(Workspace.create(Path(work)))
    except ToolError as error:
        print(f"ffcv_setup_probe: {error}", file=sys.stderr)
        return error.exit_code
    if args.update_doc:
        text = args.update_doc.read_text(encoding="utf-8")
        try:
            new = update_doc(text, parse_report(render_report(sections)))
        except ProbeError as error:
            print(f"ffcv_setup_probe: {error}", file=sys.stderr)
            return error.exit_code
        args.update_doc.write_text(new, encoding="utf-8")
        print(
            f"ffcv_setup_probe: {args.update_doc}: {len(quoted_sections(new))} quotes "
            f"{'updated' if new != text else 'already current'}"
        )
        return 0
    unknown = [name for name in args.section if name not in sections]
    if unknown:
        print(
            f"ffcv_setup_probe: unknown section(s) {unknown}; known: {sorted(sections)}",
            file=sys.stderr,
        )
        return 2
    chosen = {name: sections[name] for name in args.section} if args.section else sections
    sys.stdout.write(render_report(chosen))
    return 0


if __name__ == "__main__":
    sys.exit(main())
