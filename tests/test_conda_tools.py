"""tools/conda_tools.py: the real conda tools come from pinned, checked files only.

Checked here: the pins match the wheels in ../shared/conda-tools (sha256 and code digest),
the environment tests/setup.sh made holds exactly those releases, and the fallback for a
clone without ../shared (GitHub tag archives) accepts an archive only when the wheel built
from it has the pinned code digest. GitHub is not reachable from CI, so the fallback runs
against a local archive served by URL (file://) with a small project in place of a release.
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from tools import conda_tools
from tools.conda_tools import TOOLS, Tool, code_digest, shared_wheels, wheel_from_archive
from tools.errors import SetupError
from tools.recipes import CONDA_PYTHON

SHARED = conda_tools.SHARED
# build the small stand-in project with .venv's setuptools (no download of a build backend)
LOCAL = ("--no-build-isolation",)


def test_pins_are_the_shared_release_wheels() -> None:
    wheels = shared_wheels(SHARED)
    assert wheels is not None, f"{SHARED} is where tests/setup.sh takes the wheels from"
    for tool, wheel in zip(TOOLS, wheels, strict=True):
        assert code_digest(wheel) == tool.code_digest, tool.dist


def test_the_conda_environment_holds_exactly_those_releases() -> None:
    probe = "import importlib.metadata as m, sys; print(*(m.version(d) for d in sys.argv[1:]))"
    result = subprocess.run(
        [str(CONDA_PYTHON), "-c", probe, *(t.dist for t in TOOLS)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.split() == [t.version for t in TOOLS]


def test_a_changed_shared_wheel_is_refused(tmp_path: Path) -> None:
    (tmp_path / "wheels").mkdir()
    for tool in TOOLS:
        (tmp_path / "wheels" / tool.wheel).write_bytes(b"not the release")
    with pytest.raises(SetupError, match=r"sha256 is .* expected"):
        shared_wheels(tmp_path)
    assert shared_wheels(tmp_path / "absent") is None


def _project(root: Path, body: str) -> Path:
    """A minimal setuptools project, packed like a GitHub tag archive."""
    src = root / "demo-1.0"
    (src / "demo").mkdir(parents=True)
    (src / "demo" / "__init__.py").write_text(body)
    (src / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "demo"\nversion = "1.0"\n[tool.setuptools]\npackages = ["demo"]\n'
    )
    archive = root / "demo-1.0.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        tf.add(src, arcname=src.name)
    return archive


def _tool(digest: str) -> Tool:
    return Tool("demo", "1.0", "example/demo", "v1.0", "0" * 64, digest)


@pytest.mark.slow
def test_tag_archive_is_accepted_only_with_the_release_code(tmp_path: Path) -> None:
    release = _project(tmp_path / "release", "VALUE = 1\n")
    other = _project(tmp_path / "other", "VALUE = 2\n")
    python = Path(sys.executable)
    # the release's code digest, as TOOLS pins it for the real tools
    out = tmp_path / "wheel"
    pip_wheel = [str(python), "-m", "pip", "wheel", "-q", "--no-deps", *LOCAL]
    subprocess.run(
        [*pip_wheel, "-w", str(out), str(release)],
        check=True,
        capture_output=True,
    )
    digest = code_digest(next(out.glob("*.whl")))

    cache = tmp_path / "cache"
    with pytest.raises(SetupError, match="is not that release"):
        wheel_from_archive(_tool(digest), python, cache, tmp_path, other.as_uri(), LOCAL)
    assert list(cache.iterdir()) == [], "a rejected download is not kept"

    wheel = wheel_from_archive(_tool(digest), python, cache, tmp_path, release.as_uri(), LOCAL)
    assert code_digest(wheel) == digest
    assert sorted(p.name for p in cache.iterdir()) == ["demo-v1.0.tar.gz"], "renamed from .part"


def test_no_shared_folder_and_no_github_fails_with_what_to_do(tmp_path: Path) -> None:
    unreachable = (tmp_path / "nowhere" / "demo.tar.gz").as_uri()
    with pytest.raises(SetupError) as error:
        wheel_from_archive(_tool("0" * 64), Path(sys.executable), tmp_path, tmp_path, unreachable)
    message = str(error.value)
    assert "no ../shared/conda-tools/wheels" in message
    assert "bash tests/setup.sh again" in message
    assert not list(tmp_path.glob("*.part"))


def test_archive_urls_and_pretend_versions() -> None:
    by_name = {t.dist: t for t in TOOLS}
    assert by_name["conda-build"].archive_url == (
        "https://github.com/conda/conda-build/archive/refs/tags/26.3.0.tar.gz"
    )
    smithy = by_name["conda-smithy"]
    assert smithy.archive_url.endswith("/conda-smithy/archive/refs/tags/v2026.8.5.tar.gz")
    assert smithy.pretend_version_env == "SETUPTOOLS_SCM_PRETEND_VERSION_FOR_CONDA_SMITHY"
    assert by_name["conda"].wheel == "conda-26.7.1-py3-none-any.whl"
