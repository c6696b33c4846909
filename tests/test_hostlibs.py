"""Patch 0001's Windows discovery (ffcv_hostlibs.py) on synthetic win-64 conda prefixes.

The trees follow conda-forge's layout (DESIGN.md table 3, confirmed in the opencv,
libjpeg-turbo and pthreads-win32 feedstocks): Library\\include, Library\\lib with import
libraries and /MT static archives side by side, Library\\bin with the DLLs.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from modules import load_module

OPENCV_VERSIONS = {"5.0.0": "500", "4.13.0": "4130"}


def make_prefix(root: Path, opencv: str = "5.0.0", skip: tuple[str, ...] = ()) -> Path:
    """A fake conda prefix; `skip` names files (relative to Library) to leave out."""
    major, minor, revision = opencv.split(".")
    suffix = OPENCV_VERSIONS[opencv]
    files = {
        "include/opencv2/opencv.hpp": "// umbrella header\n",
        "include/opencv2/core/version.hpp": (
            f"#define CV_VERSION_MAJOR    {major}\n#define CV_VERSION_MINOR    {minor}\n"
            f"#define CV_VERSION_REVISION {revision}\n"
        ),
        "include/turbojpeg.h": "",
        "include/jpeglib.h": "",
        "include/pthread.h": "",
        "include/sched.h": "",
        "include/semaphore.h": "",
        "lib/turbojpeg.lib": "",
        "lib/turbojpeg-static.lib": "",
        "lib/jpeg.lib": "",
        "lib/jpeg-static.lib": "",
        "lib/pthread.lib": "",
        "lib/pthreads.lib": "",
        "lib/pthreads_static.lib": "",
        "bin/turbojpeg.dll": "",
        "bin/jpeg8.dll": "",
        "bin/pthreadVSE2.dll": "",
    }
    for module in ("core", "imgproc", "imgcodecs", "videoio", "dnn"):
        files[f"lib/opencv_{module}{suffix}.lib"] = ""
        files[f"bin/opencv_{module}{suffix}.dll"] = ""
    for relative, text in files.items():
        if relative in skip:
            continue
        path = root / "Library" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def conda_build_env(prefix: Path) -> dict[str, str]:
    return {
        "LIBRARY_INC": str(prefix / "Library" / "include"),
        "LIBRARY_LIB": str(prefix / "Library" / "lib"),
    }


@pytest.fixture(scope="module")
def hostlibs(ffcv_src) -> ModuleType:
    return load_module(ffcv_src / "ffcv_hostlibs.py", "ffcv_hostlibs")


@pytest.mark.parametrize("opencv", sorted(OPENCV_VERSIONS))
def test_links_exactly_the_import_libraries_ffcv_needs(hostlibs, tmp_path, opencv, capsys):
    prefix = make_prefix(tmp_path, opencv)
    kwargs = hostlibs.windows_extension_kwargs(conda_build_env(prefix))
    suffix = OPENCV_VERSIONS[opencv]
    assert kwargs["libraries"] == [
        f"opencv_core{suffix}",
        f"opencv_imgproc{suffix}",
        "turbojpeg",
        "pthread",
    ]
    assert kwargs["include_dirs"] == [str(prefix / "Library" / "include")]
    assert kwargs["library_dirs"] == [str(prefix / "Library" / "lib")]
    assert kwargs["extra_compile_args"] == ["/std:c++17"]
    assert not any("static" in name for name in kwargs["libraries"])
    printed = capsys.readouterr().out
    assert "LIBRARY_INC/LIBRARY_LIB" in printed
    assert f"opencv_core{suffix}" in printed


def test_activated_env_is_used_when_not_under_conda_build(hostlibs, tmp_path):
    prefix = make_prefix(tmp_path)
    kwargs = hostlibs.windows_extension_kwargs({"CONDA_PREFIX": str(prefix)})
    assert kwargs["library_dirs"] == [os.path.join(str(prefix), "Library", "lib")]


def test_conda_build_variables_win_over_an_activated_env(hostlibs, tmp_path):
    build = make_prefix(tmp_path / "host")
    other = make_prefix(tmp_path / "other", "4.13.0")
    environ = {**conda_build_env(build), "CONDA_PREFIX": str(other)}
    assert hostlibs.windows_extension_kwargs(environ)["libraries"][0] == "opencv_core500"


def test_no_prefix_at_all_says_what_to_do(hostlibs):
    with pytest.raises(hostlibs.HostLibraryError, match=r"LIBRARY_INC/LIBRARY_LIB.*CONDA_PREFIX"):
        hostlibs.windows_extension_kwargs({})


@pytest.mark.parametrize(
    ("missing", "package"),
    [
        ("include/opencv2/opencv.hpp", "libopencv"),
        ("include/opencv2/core/version.hpp", "libopencv"),
        ("include/turbojpeg.h", "libjpeg-turbo"),
        ("include/pthread.h", "pthreads-win32"),
        ("lib/opencv_core500.lib", "libopencv"),
        ("lib/opencv_imgproc500.lib", "libopencv"),
        ("lib/turbojpeg.lib", "libjpeg-turbo"),
        ("lib/pthread.lib", "pthreads-win32"),
    ],
)
def test_each_missing_piece_names_file_place_and_package(hostlibs, tmp_path, missing, package):
    prefix = make_prefix(tmp_path, skip=(missing,))
    with pytest.raises(hostlibs.HostLibraryError) as error:
        hostlibs.windows_extension_kwargs(conda_build_env(prefix))
    message = str(error.value)
    name = missing.split("/", 1)[1]
    directory = "include" if missing.startswith("include/") else "lib"
    assert repr(name) in message
    assert str(prefix / "Library" / directory) in message
    assert repr(package) in message


def test_only_static_library_present_is_an_error_not_a_fallback(hostlibs, tmp_path):
    prefix = make_prefix(tmp_path, skip=("lib/turbojpeg.lib",))
    assert (prefix / "Library" / "lib" / "turbojpeg-static.lib").exists()
    with pytest.raises(hostlibs.HostLibraryError, match=r"turbojpeg\.lib"):
        hostlibs.windows_extension_kwargs(conda_build_env(prefix))


def test_unparseable_version_header(hostlibs, tmp_path):
    prefix = make_prefix(tmp_path)
    (prefix / "Library" / "include" / "opencv2" / "core" / "version.hpp").write_text("//\n")
    with pytest.raises(hostlibs.HostLibraryError, match="CV_VERSION_MAJOR"):
        hostlibs.windows_extension_kwargs(conda_build_env(prefix))


def test_patched_setup_py_windows_branch_runs_without_path_guessing(ffcv_src, tmp_path):
    """Run the patched setup.py as if on Windows (platform.system() patched), PATH empty.

    Upstream's branch raises "Could not find required package" here; ours takes everything
    from LIBRARY_INC/LIBRARY_LIB and setup() gets as far as printing the package name.
    """
    prefix = make_prefix(tmp_path)
    driver = (
        "import platform, runpy, sys\n"
        "platform.system = lambda: 'Windows'\n"
        "sys.argv = ['setup.py', '--name']\n"
        "runpy.run_path('setup.py', run_name='__main__')\n"
    )
    env = {**os.environ, **conda_build_env(prefix), "PATH": ""}
    result = subprocess.run(
        [sys.executable, "-c", driver],
        cwd=ffcv_src,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert (
        "ffcv: libraries = ['opencv_core500', 'opencv_imgproc500', 'turbojpeg', 'pthread']"
        in result.stdout
    )
    assert result.stdout.strip().splitlines()[-1] == "ffcv"
