"""pytest fixtures for the Wine harness: ``wine`` (one Wine 10 session per test session) and
``doubles`` (the mingw-w64 test double compiled once). Register with
``pytest_plugins = ["harness.wine_fixtures"]`` in tests/conftest.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.wine import WineChroot, windows_path

DOUBLES = Path(__file__).resolve().parent.parent / "doubles"
DOUBLE_SRC = (DOUBLES / "double.c", DOUBLES / "grammar.c")
GRAMMARS = DOUBLES / "grammars"
MINGW_CC = "x86_64-w64-mingw32-gcc"
HOST_TOOLS = ("debootstrap", "unshare", "nsenter", "zstd", "hardlink", MINGW_CC)


def _missing_host_tools() -> list[str]:
    return [t for t in HOST_TOOLS if shutil.which(t) is None]


@pytest.fixture(scope="session")
def wine() -> Iterator[WineChroot]:
    """A ready Wine 10 session (built or restored on first use, stopped at the end)."""
    if os.geteuid() != 0:
        reason = "the Wine chroot needs root (debootstrap, mount namespaces)"
        # A developer without root may skip; CI runs as root, so there it is a failure.
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    missing = _missing_host_tools()
    if missing:
        pytest.fail(f"host tools missing: {missing}. Run: bash tests/setup.sh")
    session = WineChroot()
    session.ensure()
    try:
        yield session
    finally:
        session.stop()


def grammar_of(name: str) -> Path:
    """tests/doubles/grammars/<name>.grammar: the real program's command line, cited."""
    return GRAMMARS / f"{name}.grammar"


class DoubleSet:
    """A directory of doubles sharing one config/log directory (``DOUBLE_DIR``).

    Each double gets its program's grammar, so it rejects the calls the real program rejects.
    A name without a grammar is refused. ``grammarless`` skips the grammar: only for harness
    tests of the double's own rules, never for a double standing in for a program under test.
    """

    def __init__(self, exe: Path, bin_dir: Path, names: list[str], grammarless: bool) -> None:
        self.bin = bin_dir
        self.bin.mkdir(parents=True, exist_ok=True)
        for name in names:
            shutil.copyfile(exe, self.bin / f"{name}.exe")
            grammar = grammar_of(name)
            if grammarless:
                continue
            if not grammar.exists():
                raise FileNotFoundError(f"no grammar for the {name} double: {grammar}")
            shutil.copyfile(grammar, self.bin / grammar.name)
        self.log = self.bin / "calls.log"

    @property
    def env(self) -> dict[str, str]:
        """Environment telling every double where its configs and log are."""
        return {"DOUBLE_DIR": windows_path(self.bin)}

    def configure(self, name: str, text: str) -> None:
        """Write ``<name>.double`` (see tests/doubles/double.c for the directives)."""
        (self.bin / f"{name}.double").write_text(text, encoding="utf-8")

    def calls(self, prog: str | None = None) -> list[dict[str, object]]:
        """Logged calls in order (optionally only those of one double)."""
        if not self.log.exists():
            return []
        entries = [json.loads(line) for line in self.log.read_text("utf-8").splitlines()]
        return [e for e in entries if prog is None or e["prog"] == prog]

    def reset_log(self) -> None:
        self.log.unlink(missing_ok=True)


class Doubles:
    """The compiled double and a way to lay out named copies of it."""

    def __init__(self, exe: Path) -> None:
        self.exe = exe

    def make(self, bin_dir: Path, *names: str, grammarless: bool = False) -> DoubleSet:
        """Copy the double to ``bin_dir/<name>.exe`` (and its grammar) for each name."""
        return DoubleSet(self.exe, bin_dir, list(names), grammarless)


@pytest.fixture(scope="session")
def doubles(tmp_path_factory: pytest.TempPathFactory) -> Doubles:
    """tests/doubles/double.c and grammar.c built with mingw-w64 (under a second)."""
    if shutil.which(MINGW_CC) is None:
        pytest.fail(f"{MINGW_CC} missing. Run: bash tests/setup.sh (gcc-mingw-w64-x86-64)")
    out = tmp_path_factory.mktemp("double") / "double.exe"
    subprocess.run(
        [MINGW_CC, "-municode", "-O2", "-Wall", "-o", str(out), *map(str, DOUBLE_SRC)],
        check=True,
        capture_output=True,
    )
    return Doubles(out)
