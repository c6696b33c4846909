"""The Windows branch of patch 0002's positional read, run as a Windows program.

tests/win/pread_check.c includes libffcv/ffcv_pread.h from the patched sdist, is compiled
with mingw-w64 and runs under Wine 10 (a real Windows API implementation; we have no
Windows machine): reads at many offsets, offsets beyond 4 GiB in a sparse file, eight
threads reading one descriptor at once, end of file, and a closed descriptor. The program
opens the file with its own C runtime, as Python does for the extension on Windows.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from harness.wine import windows_path
from harness.wine_fixtures import MINGW_CC

CHECK_SRC = Path(__file__).resolve().parent / "win" / "pread_check.c"


@pytest.mark.wine
def test_windows_positional_read_under_wine(wine, ffcv_src, tmp_path):
    exe = tmp_path / "pread_check.exe"
    subprocess.run(
        [
            MINGW_CC,
            "-O2",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-I",
            str(ffcv_src / "libffcv"),
            "-o",
            str(exe),
            str(CHECK_SRC),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    data = tmp_path / "sparse.bin"
    result = wine.run(exe, [windows_path(data)], cwd=tmp_path, timeout=300)
    print("\n" + result.stdout)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASS: 0 failure(s)" in result.stdout
    assert data.stat().st_size > 5 * 2**30 - 64, "the file did not reach beyond 4 GiB"
    assert data.stat().st_blocks * 512 < 256 * 2**20, "expected a sparse file"
