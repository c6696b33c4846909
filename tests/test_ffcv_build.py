"""recipes/ffcv/build.sh run for real on Linux, the way conda-build runs it.

Debian's libopencv-dev, libturbojpeg0-dev and pkg-config stand in for the host prefix's
libopencv, libjpeg-turbo and pkg-config (conda-forge cannot be reached from CI).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tools.build_ffcv import BuildResult, build


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> BuildResult:
    return build(Path(sys.executable), tmp_path_factory.mktemp("ffcv-build"))


@pytest.fixture(scope="module")
def extension(built) -> Path:
    out = subprocess.run(
        [sys.executable, "-c", "import ffcv._libffcv as m; print(m.__file__)"],
        capture_output=True,
        text=True,
        check=True,
        cwd=built.log.parent,
    )
    return Path(out.stdout.strip())


def test_build_uses_pkg_config_flags_of_the_host_libraries(built, report_figure):
    log = built.log.read_text()
    compile_lines = [line for line in log.splitlines() if "libffcv.cpp" in line and " -c " in line]
    link_lines = [line for line in log.splitlines() if "_libffcv" in line and " -shared" in line]
    assert compile_lines and link_lines, "compiler/linker commands not found in the -vv log"
    assert "-I/usr/include/opencv4" in compile_lines[0]
    for library in ("-lopencv_core", "-lopencv_imgproc", "-lturbojpeg", "-lpthread"):
        assert library in link_lines[0], library
    assert "Successfully installed ffcv-1.0.2" in log
    report_figure(f"recipes/ffcv/build.sh (Linux, Debian host libraries): {built.seconds:.1f} s")


def test_extension_exports_the_positional_read(extension):
    symbols = subprocess.run(
        ["nm", "-D", "--defined-only", str(extension)], capture_output=True, text=True, check=True
    ).stdout.split()
    for name in ("ffcv_pread", "imdecode", "resize", "my_memcpy", "PyInit__libffcv"):
        assert name in symbols, name


def test_extension_links_the_host_libraries(extension):
    ldd = subprocess.run(["ldd", str(extension)], capture_output=True, text=True, check=True)
    assert "not found" not in ldd.stdout
    for soname in ("libturbojpeg.so", "libopencv_core.so", "libopencv_imgproc.so"):
        assert soname in ldd.stdout, soname


def test_read_is_positional_at_any_offset_including_beyond_4_gib(tmp_path):
    """ffcv.libffcv.read (bound to the extension's ffcv_pread) on a sparse 5 GiB file."""
    script = textwrap.dedent(
        """
        import os, sys
        import numpy as np
        from ffcv.libffcv import read
        path = sys.argv[1]
        marks = {0: b"start", 4096 * 3 + 5: b"page", (1 << 32) + 17: b"beyond4g",
                 (5 << 30) - 3: b"end"}
        with open(path, "wb") as f:
            for offset, data in marks.items():
                f.seek(offset); f.write(data)
        with open(path, "rb") as f:
            fd = f.fileno()
            for offset, data in sorted(marks.items(), reverse=True):
                buf = np.zeros(len(data), np.uint8)
                assert read(fd, buf, offset) == len(data), offset
                assert buf.tobytes() == data, (offset, buf.tobytes())
                assert os.lseek(fd, 0, os.SEEK_CUR) == 0, "file position moved"
            buf = np.zeros(10, np.uint8)
            assert read(fd, buf, (5 << 30) - 3) == 3, "short read at end of file"
            assert read(fd, buf, 6 << 30) == 0, "read past end of file"
        try:
            read(fd, buf, 0)
        except OSError as error:
            print("closed fd ->", error)
        else:
            raise SystemExit("reading a closed descriptor did not raise")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "sparse.bin")],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ},
    )
    assert result.returncode == 0, result.stderr
    assert "closed fd ->" in result.stdout
