"""Install the real conda tools (conda, conda-build, conda-smithy) into ``.venv-conda``.

    python3 -m tools.conda_tools [--venv .venv-conda] [--shared ../shared/conda-tools]

tests/setup.sh runs this with the system Python (standard library only). The releases are
not on PyPI, so they come from, in this order:

1. ``../shared/conda-tools/wheels/`` (next to the repository): the upstream releases as
   wheels. Each file's sha256 must equal the one pinned in ``TOOLS``.
2. Otherwise their release tag archives on GitHub, downloaded to
   ``.cache/conda-tools/<file>.part`` and built with ``pip wheel``
   (``SETUPTOOLS_SCM_PRETEND_VERSION_FOR_<NAME>`` set to the release: an archive has no git
   metadata). GitHub does not promise stable archive bytes, so the check is on content: the
   built wheel's code digest (``code_digest``) must equal the release wheel's, pinned in
   ``TOOLS``; only then is the archive renamed from ``.part`` and the wheel installed.
3. Neither: ``SetupError`` (exit 6) says what is missing and how to get it.

The tools get their own virtual environment: their pins (ruamel.yaml <0.19, py-rattler 0.25.0,
pydantic <3) and conda's ``menuinst`` requirement (not on PyPI, so ``pip check`` would fail)
must not touch ``.venv``, the verified FFCV/fastxtend runtime set. tools/recipes.py reaches
them through a subprocess. A stamp file makes a second run a no-op.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

from tools.errors import DownloadError, SetupError, ToolError
from tools.sources import download, sha256_of

REPO = Path(__file__).resolve().parent.parent
REQUIREMENTS = REPO / "tests" / "requirements-conda.txt"
VENV = REPO / ".venv-conda"
SHARED = REPO.parent / "shared" / "conda-tools"
CACHE = REPO / ".cache" / "conda-tools"


@dataclass(frozen=True)
class Tool:
    """One upstream release: its wheel (sha256) and its tag archive (code digest)."""

    dist: str
    version: str
    repo: str
    tag: str
    wheel_sha256: str
    code_digest: str

    @property
    def wheel(self) -> str:
        return f"{self.dist.replace('-', '_')}-{self.version}-py3-none-any.whl"

    @property
    def archive_url(self) -> str:
        return f"https://github.com/{self.repo}/archive/refs/tags/{self.tag}.tar.gz"

    @property
    def pretend_version_env(self) -> str:
        return "SETUPTOOLS_SCM_PRETEND_VERSION_FOR_" + self.dist.upper().replace("-", "_")


# sha256 values: ../shared/conda-tools/README.md. Code digests: code_digest() of those wheels;
# for conda, conda-build and conda-smithy also of wheels built here from `git archive` of the
# release tags (identical), so a wheel built from GitHub's tag archive must match them too.
TOOLS = (
    Tool(
        "conda",
        "26.7.1",
        "conda/conda",
        "26.7.1",
        "f589ed5d3ba6e61d205539e63e6e86614623ac30c54a21858d896f4e7c784361",
        "5562750ad8f26acc9fe00ac570f59efc58bc9c876cfab2cc0d8f6c68edfddc04",
    ),
    Tool(
        "conda-build",
        "26.3.0",
        "conda/conda-build",
        "26.3.0",
        "604f41a82239a58fbbd3ab899a07383718a91fa360600b579ac76241a0096c74",
        "4b16959a038c3789fe651172b14f811c7b67a68697d7cf1de987ff7674aa4278",
    ),
    Tool(
        "conda-smithy",
        "2026.8.5",
        "conda-forge/conda-smithy",
        "v2026.8.5",
        "73c801274c581d810b14e86578c96238ff9ecbff9e41a7292a0f79dbb88bbb5f",
        "15f4a4de6cce82b93b6095ce92fd69b4847059756a80fb2425336be9ff8d72b0",
    ),
    Tool(
        "rattler-build-conda-compat",
        "1.4.10",
        "prefix-dev/rattler-build-conda-compat",
        "v1.4.10",
        "930db6c200025e93d435a7a68618348862715c2dd81fe163b7e913973291ed9f",
        "e4eadd927cdc657e1a8f968ac9ee3991bfe6a6bcd624e5ad90e3d2202bddaf0a",
    ),
)


def code_digest(wheel: Path) -> str:
    """sha256 over (path, sha256 of bytes) of a wheel's files, sorted by path.

    Left out: ``*.dist-info/`` (build metadata) and ``_version.py`` files (written by the
    build backend, their text depends on its version). What remains is the release's code.
    """
    digest = hashlib.sha256()
    with zipfile.ZipFile(wheel) as zf:
        for name in sorted(zf.namelist()):
            if name.endswith("/") or name.split("/")[0].endswith(".dist-info"):
                continue
            if name.rsplit("/", 1)[-1] == "_version.py":
                continue
            digest.update(f"{name}\0{hashlib.sha256(zf.read(name)).hexdigest()}\n".encode())
    return digest.hexdigest()


def stamp_text(tools: tuple[Tool, ...] = TOOLS) -> str:
    """What the installed environment was made from; a change means reinstall."""
    payload = {
        "requirements": hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest(),
        "tools": [asdict(t) for t in tools],
        "python": sys.version_info[:2],
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def say(message: str) -> None:
    print(f"conda-tools: {message}", flush=True)


def _run(cmd: list[str], what: str, env: dict[str, str] | None = None) -> None:
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        raise SetupError(
            f"{what} failed (exit {result.returncode}):\n{result.stdout[-2000:]}"
            f"{result.stderr[-3000:]}"
        )


def shared_wheels(shared: Path, tools: tuple[Tool, ...] = TOOLS) -> list[Path] | None:
    """The release wheels from the shared folder, sha256-checked; None if it has none."""
    folder = shared / "wheels"
    if not folder.is_dir():
        return None
    wheels = []
    for tool in tools:
        path = folder / tool.wheel
        if not path.is_file():
            raise SetupError(f"{folder} lacks {tool.wheel}; see {shared / 'README.md'}")
        actual = sha256_of(path)
        if actual != tool.wheel_sha256:
            raise SetupError(
                f"{path}: sha256 is {actual}, expected {tool.wheel_sha256} "
                f"({tool.dist} {tool.version}). Replace the file with the release wheel."
            )
        wheels.append(path)
    return wheels


def wheel_from_archive(
    tool: Tool,
    python: Path,
    cache: Path,
    out: Path,
    url: str = "",
    pip_args: tuple[str, ...] = (),
) -> Path:
    """Download a tag archive, build its wheel, accept it only if its code digest matches."""
    url = url or tool.archive_url
    cache.mkdir(parents=True, exist_ok=True)
    target = cache / f"{tool.dist}-{tool.tag}.tar.gz"
    part = target.with_name(target.name + ".part")
    if not target.is_file():
        try:
            download(url, part)
        except DownloadError as error:
            raise SetupError(
                f"no ../shared/conda-tools/wheels and {error}. Put the release wheels into "
                "../shared/conda-tools/wheels "
                "(see tools/conda_tools.py for names and sha256) or allow access to "
                "github.com, then run bash tests/setup.sh again."
            ) from error
        source = part
    else:
        source = target
    env = dict(os.environ, **{tool.pretend_version_env: tool.version})
    build_dir = Path(tempfile.mkdtemp(dir=out))
    try:
        with tarfile.open(source) as tar:
            tar.extractall(build_dir / "src", filter="data")
    except (OSError, tarfile.TarError) as error:
        part.unlink(missing_ok=True)
        raise SetupError(f"{url}: not a readable tar.gz archive ({error})") from error
    (tree,) = (build_dir / "src").iterdir()  # GitHub archives hold one <repo>-<tag>/ folder
    pip_wheel = [str(python), "-m", "pip", "wheel", "-q", "--no-deps", *pip_args]
    _run(
        [*pip_wheel, "-w", str(build_dir), str(tree)],
        f"building {tool.dist} {tool.version} from {url}",
        env,
    )
    (wheel,) = build_dir.glob("*.whl")
    actual = code_digest(wheel)
    if actual != tool.code_digest:
        part.unlink(missing_ok=True)
        target.unlink(missing_ok=True)
        raise SetupError(
            f"{url}: the wheel built from it has code digest {actual}, the release "
            f"{tool.dist} {tool.version} has {tool.code_digest}. Not installed: the "
            "archive is not that release."
        )
    if source == part:
        part.replace(target)
    return wheel


def install(
    venv: Path = VENV,
    shared: Path = SHARED,
    cache: Path = CACHE,
    tools: tuple[Tool, ...] = TOOLS,
    urls: dict[str, str] | None = None,
) -> str:
    """Make ``venv`` hold the conda tools; returns where they came from."""
    stamp = venv / ".conda-tools.stamp"
    python = venv / "bin" / "python"
    want = stamp_text(tools)
    if python.is_file() and stamp.is_file() and stamp.read_text().split()[0] == want:
        return stamp.read_text().split()[1]
    if venv.exists():
        shutil.rmtree(venv)
    say(f"creating {venv.name} with Python {sys.version.split()[0]}")
    _run([sys.executable, "-m", "venv", str(venv)], f"python -m venv {venv}")
    pip = [str(python), "-m", "pip", "--disable-pip-version-check"]
    _run([*pip, "install", "-q", "-r", str(REQUIREMENTS)], "pip install -r " + REQUIREMENTS.name)
    with tempfile.TemporaryDirectory() as tmp:
        wheels = shared_wheels(shared, tools)
        origin = str(shared / "wheels")
        if wheels is None:
            say(f"{shared / 'wheels'} not found: building the releases from their tag archives")
            wheels = [
                wheel_from_archive(t, python, cache, Path(tmp), (urls or {}).get(t.dist, ""))
                for t in tools
            ]
            origin = "github-tag-archives"
        _run([*pip, "install", "-q", "--no-deps", *map(str, wheels)], "pip install the wheels")
    stamp.write_text(f"{want} {origin}\n")
    return origin


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venv", type=Path, default=VENV)
    parser.add_argument("--shared", type=Path, default=SHARED)
    args = parser.parse_args(argv)
    try:
        origin = install(args.venv.resolve(), args.shared.resolve())
    except ToolError as error:
        print(f"conda-tools: ERROR: {error}", file=sys.stderr)
        return error.exit_code
    say(f"ready in {args.venv} (from {origin})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
