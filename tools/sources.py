"""Fetch a recipe's source, verify it, unpack it and apply its patches like conda-build.

Downloads go to ``<name>.part`` first, are checked against the recipe's sha256 and only then
renamed, so an interrupted or corrupted download never looks like a good one.

Patches are applied the way conda-build's ``apply_one_patch`` does (conda_build/source.py):
the strip level is guessed from which of the patch's ``---``/``+++`` paths exist in the
source tree (the most frequent level wins, the least deep on a tie), then GNU patch runs
as ``patch --no-backup-if-mismatch --batch -Np<level> -i <file>``, after a ``--dry-run``.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tarfile
import urllib.request
from pathlib import Path

from tools.errors import DownloadError, PatchError

CACHE = Path(os.environ.get("FFCVWIN_CACHE", Path.home() / ".cache" / "ffcvwin")) / "sources"
PATCH_PATHS = re.compile(r"^(?:---|\+\+\+) ([^\n\t]+)")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download(url: str, part: Path) -> None:
    """Stream ``url`` into ``part`` (a ``.part`` file); remove it again if that fails."""
    try:
        with urllib.request.urlopen(url, timeout=120) as response, part.open("wb") as out:
            shutil.copyfileobj(response, out)
    except OSError as error:
        part.unlink(missing_ok=True)
        raise DownloadError(f"could not download {url}: {error}") from error


def fetch(url: str, sha256: str, cache: Path = CACHE) -> Path:
    """Return a verified local copy of ``url``, downloading it once into ``cache``."""
    cache.mkdir(parents=True, exist_ok=True)
    target = cache / f"{sha256[:16]}-{url.rsplit('/', 1)[-1]}"
    if target.is_file() and sha256_of(target) == sha256:
        return target
    part = target.with_name(target.name + ".part")
    try:
        download(url, part)
    except DownloadError as error:
        raise DownloadError(f"{error}. Check the network or the URL in the recipe.") from error
    actual = sha256_of(part)
    if actual != sha256:
        part.unlink()
        raise DownloadError(
            f"{url}: sha256 is {actual}, the recipe pins {sha256}. The file "
            "changed upstream or the pin is wrong; do not use it."
        )
    part.replace(target)
    return target


def unpack(archive: Path, destination: Path) -> Path:
    """Unpack an sdist into ``destination``; return its single top-level directory."""
    if destination.exists():
        shutil.rmtree(destination)
    destination.mkdir(parents=True)
    with tarfile.open(archive) as tar:
        tar.extractall(destination, filter="data")
    entries = [p for p in destination.iterdir() if p.is_dir()]
    if len(entries) != 1:
        raise DownloadError(f"{archive.name}: expected one top-level directory, got {entries}")
    return entries[0]


def patch_paths(patch: Path) -> list[str]:
    """Paths named on the patch's ---/+++ lines, /dev/null excluded."""
    paths = []
    for line in patch.read_text(errors="ignore").splitlines():
        match = PATCH_PATHS.match(line)
        if match and match.group(1) != "/dev/null":
            paths.append(match.group(1))
    return paths


def guess_strip_level(patch: Path, src_dir: Path) -> int:
    """The -p level whose stripped paths exist most often in ``src_dir`` (ties: lowest)."""
    paths = [Path(p) for p in set(patch_paths(patch))]
    if not paths:
        raise PatchError(f"{patch.name}: no file names found; is it a unified diff?")
    deepest = min(len(p.parent.parts) for p in paths)
    hits = {
        level: sum((src_dir / Path(*p.parts[level:])).exists() for p in paths)
        for level in range(deepest + 1)
    }
    best = max(hits.values())
    return min(level for level, count in hits.items() if count == best)


def apply_patch(patch: Path, src_dir: Path) -> str:
    """Apply one patch as conda-build does; return patch's output."""
    level = guess_strip_level(patch, src_dir)
    base = ["patch", "--no-backup-if-mismatch", "--batch", f"-Np{level}", "-i", str(patch)]
    for args in ([*base, "--dry-run"], base):
        result = subprocess.run(args, cwd=src_dir, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise PatchError(
                f"{patch.name} does not apply to {src_dir} with -p{level}:\n"
                f"{result.stdout}{result.stderr}Regenerate the patch against "
                "the pinned source."
            )
    return result.stdout


def prepare_source(url: str, sha256: str, patches: list[Path], work: Path) -> Path:
    """Fetched, verified, unpacked and patched source tree under ``work``."""
    src_dir = unpack(fetch(url, sha256), work)
    for patch in patches:
        apply_patch(patch, src_dir)
    return src_dir
