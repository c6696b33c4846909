"""Issue point (c): does pip pull a second cv2 into a conda env holding our ffcv? No change
to FFCV's metadata is needed, shown here with real pip.

FFCV declares `opencv-python` in install_requires. conda-forge's py-opencv installs, next to
cv2/, both `opencv_python-<v>.dist-info` and `opencv_python_headless-<v>.dist-info` with a
METADATA file and INSTALLER=conda (opencv-feedstock's 0001-Add-installation-of-pip-metadata
and 0001-Also-install-metadata-for-opencv-python-headless patches, any variant). The test
lays out a virtual env the way conda would leave site-packages (dist-info directories for
FFCV's requirements), then asks pip, offline, what installing our FFCV wheel would add.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

# FFCV's install_requires (setup.py) with versions like those conda-forge provides
CONDA_DISTS = {
    "numba": "0.65.1",
    "terminaltables": "3.1.10",
    "pytorch_pfn_extras": "0.9.0",
    "fastargs": "1.2.0",
    "assertpy": "1.1",
    "tqdm": "4.70.0",
    "psutil": "7.2.1",
}


def add_conda_dist(site: Path, dist: str, version: str) -> None:
    info = site / f"{dist}-{version}.dist-info"
    info.mkdir()
    name = dist.replace("_", "-")
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (info / "INSTALLER").write_text("conda\n")


@pytest.fixture(scope="module")
def ffcv_wheel(ffcv_src, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # Build from a copy: pip writes build/ and egg-info into the tree it builds.
    src = out / "src"
    shutil.copytree(ffcv_src, src)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-q",
            "-w",
            str(out),
            str(ffcv_src),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return next(out.glob("ffcv-*.whl"))


def dry_run(tmp_path: Path, wheel: Path, opencv_dists: list[str]) -> subprocess.CompletedProcess:
    env_dir = tmp_path / "env"
    subprocess.run([sys.executable, "-m", "venv", str(env_dir)], check=True)
    python = env_dir / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    for dist, version in CONDA_DISTS.items():
        add_conda_dist(site, dist, version)
    for dist in opencv_dists:
        add_conda_dist(site, dist, "5.0.0")
    return subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--no-index",
            "--disable-pip-version-check",
            str(wheel),
        ],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.slow
def test_conda_py_opencv_metadata_satisfies_ffcv(tmp_path, ffcv_wheel):
    result = dry_run(tmp_path, ffcv_wheel, ["opencv_python", "opencv_python_headless"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Would install ffcv-1.0.2" in result.stdout
    assert "opencv" not in result.stdout.split("Would install", 1)[1]


@pytest.mark.slow
def test_without_that_metadata_pip_would_want_opencv_python(tmp_path, ffcv_wheel):
    """Control: with only libopencv (no dist-info), pip needs opencv-python from an index."""
    result = dry_run(tmp_path, ffcv_wheel, [])
    assert result.returncode != 0
    assert "opencv-python" in result.stderr
