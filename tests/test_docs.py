"""Checks on the Markdown documentation (docs/ and the top-level README.md).

1. Every relative link resolves to a file or folder in the repository, and every
   #anchor to a heading of the target (GitHub's heading-slug rules).
2. Every error-index entry (docs/tutorial/error-index.md, headings "### E<nn>")
   quotes its message in a ```text block and has non-empty Stage, Cause, Fix and
   Source fields; the Source names a URL or a repository file. At least 50 entries.
3. Every shell block under docs/ is classified (docs/README.md, "How to read the commands"):
   - ```console linux-checked``` blocks run here. Each block runs as one bash
     script (set -euo pipefail) in an empty temporary folder with REPO set to the
     checkout and this interpreter's folder first on PATH. "$ " lines are
     commands (a trailing backslash continues a command); every other non-empty
     line is expected output and must occur in the output ("..." matches anything).
     Blocks also tagged "network" need PyPI and are skipped when it cannot be reached.
     A pip command in such a block that names a release (name==version, or -r FILE)
     must verify what it downloads: --require-hashes, or sha256sum in the same block.
   - ```bat windows-only``` (or cmd/powershell) blocks cannot run here; each must be
     preceded by an HTML comment "<!-- checked against: ... -->" naming the
     documentation or source it was checked against.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
ERROR_INDEX = DOCS / "tutorial" / "error-index.md"
SHELL_LANGS = {"console", "sh", "bash", "shell", "bat", "cmd", "batch", "powershell", "pwsh"}
WINDOWS_LANGS = {"bat", "cmd", "batch", "powershell", "pwsh"}
FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")
LINK = re.compile(r"(?<!!)\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
SOURCE_REF = re.compile(r"https?://\S+|\]\((?!https?:)[^)]+\)")
# The real sdist builds of chapters 7-9 take about a minute each on an idle 2-core machine;
# several run at once (block_outputs), so allow a generous wall-clock limit per block.
BLOCK_TIMEOUT_S = 600


@dataclass(frozen=True)
class Block:
    path: Path
    line: int
    info: str
    body: str
    preceding: str  # the nearest non-blank line above the opening fence

    @property
    def words(self) -> list[str]:
        return self.info.split()

    @property
    def id(self) -> str:
        return f"{self.path.relative_to(REPO)}:{self.line}"


def markdown_files() -> list[Path]:
    files = sorted(DOCS.rglob("*.md"))
    readme = REPO / "README.md"
    if readme.is_file():
        files.append(readme)
    return files


def split_blocks(path: Path) -> tuple[list[Block], str]:
    """Return the fenced blocks of a file and its text with the blocks blanked out."""
    blocks: list[Block] = []
    prose: list[str] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    last_text = ""
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            prose.append(lines[i])
            if lines[i].strip():
                last_text = lines[i].strip()
            i += 1
            continue
        fence, start = m.group("fence"), i
        body: list[str] = []
        i += 1
        while i < len(lines) and not lines[i].strip().startswith(fence):
            body.append(lines[i])
            i += 1
        blocks.append(Block(path, start + 1, m.group("info").strip(), "\n".join(body), last_text))
        prose.extend([""] * (i - start + 1))
        i += 1
    return blocks, "\n".join(prose)


def slugify(heading: str) -> str:
    text = re.sub(r"`([^`]*)`", r"\1", heading)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = unicodedata.normalize("NFC", text).strip().lower()
    text = "".join(ch for ch in text if ch.isalnum() or ch in " -_")
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    _, prose = split_blocks(path)
    seen: dict[str, int] = {}
    result: set[str] = set()
    for line in prose.splitlines():
        m = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not m:
            continue
        slug = slugify(m.group(1))
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        result.add(slug if n == 0 else f"{slug}-{n}")
    for m in re.finditer(r"<a\s+(?:name|id)=\"([^\"]+)\"", prose):
        result.add(m.group(1))
    return result


def all_blocks() -> list[Block]:
    return [b for f in markdown_files() for b in split_blocks(f)[0]]


def linux_blocks() -> list[Block]:
    return [b for b in all_blocks() if "linux-checked" in b.words]


# -- 1. links -------------------------------------------------------------------------------


def test_docs_exist() -> None:
    assert (DOCS / "README.md").is_file()
    assert ERROR_INDEX.is_file()
    assert len(markdown_files()) >= 8


def test_every_tutorial_chapter_is_indexed() -> None:
    """Each numbered chapter (docs/tutorial/NN-*.md) is linked from docs/README.md."""
    _, prose = split_blocks(DOCS / "README.md")
    linked = {m.group(1) for m in LINK.finditer(prose)}
    chapters = sorted(p.name for p in (DOCS / "tutorial").glob("[0-9][0-9]-*.md"))
    assert len(chapters) >= 11
    missing = [c for c in chapters if f"tutorial/{c}" not in linked]
    assert not missing, f"chapters not linked from docs/README.md: {missing}"


def broken_links(path: Path, root: Path = REPO) -> list[str]:
    """Relative links in ``path`` whose file or #anchor does not exist under ``root``."""
    _, prose = split_blocks(path)
    prose = re.sub(r"`[^`\n]*`", "", prose)
    broken: list[str] = []
    for m in LINK.finditer(prose):
        target = m.group(1)
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):
            continue  # http:, https:, mailto:
        file_part, _, anchor = target.partition("#")
        dest = (path.parent / file_part).resolve() if file_part else path
        if not dest.exists():
            broken.append(f"{target}: no such file {dest}")
            continue
        if root not in dest.parents and dest != root:
            broken.append(f"{target}: points outside the repository")
            continue
        if anchor:
            if dest.is_dir() or dest.suffix != ".md":
                broken.append(f"{target}: anchor on a non-Markdown target")
            elif anchor not in anchors(dest):
                broken.append(f"{target}: no heading with anchor #{anchor} in {dest.name}")
    return broken


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_resolve(path: Path) -> None:
    broken = broken_links(path)
    assert not broken, "\n".join(broken)


def test_link_checker_reports_broken_links(tmp_path: Path) -> None:
    (tmp_path / "b.md").write_text("# Real heading\n")
    page = tmp_path / "a.md"
    page.write_text(
        "[ok](b.md#real-heading) [file](missing.md) [anchor](b.md#nope) "
        "[web](https://example.org/x) `[code](ignored.md)`\n\n```text\n[block](ignored.md)\n```\n"
    )
    assert broken_links(page, root=tmp_path) == [
        f"missing.md: no such file {tmp_path / 'missing.md'}",
        "b.md#nope: no heading with anchor #nope in b.md",
    ]


def test_slugify_follows_github_rules() -> None:
    assert slugify("E07 — LNK2019 `__imp_` symbols") == "e07--lnk2019-__imp_-symbols"
    assert slugify("2. The toolchain: vswhere, vcvarsall") == "2-the-toolchain-vswhere-vcvarsall"


# -- 2. error index -------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    ident: str
    message: str
    fields: dict[str, str]


def error_entries(path: Path = ERROR_INDEX) -> list[Entry]:
    if not path.is_file():
        return []  # test_docs_exist reports the missing file
    text = path.read_text(encoding="utf-8")
    parts = re.split(r"^### (E\d{2,3})\b.*$", text, flags=re.M)
    entries = []
    for ident, body in zip(parts[1::2], parts[2::2], strict=True):
        body = re.split(r"^#{1,3} ", body, flags=re.M)[0]
        msg = re.search(r"^```text\n(.*?)\n```", body, flags=re.S | re.M)
        fields = {
            m.group(1): m.group(2).strip()
            for m in re.finditer(r"^- \*\*(\w+):\*\*(.*(?:\n  .*)*)", body, flags=re.M)
        }
        entries.append(Entry(ident, msg.group(1).strip() if msg else "", fields))
    return entries


def test_error_index_has_fifty_entries() -> None:
    entries = error_entries()
    assert len(entries) >= 50
    idents = [e.ident for e in entries]
    assert len(set(idents)) == len(idents), "duplicate entry numbers"
    messages = [e.message for e in entries]
    assert len(set(messages)) == len(messages), "the same message is indexed twice"


@pytest.mark.parametrize("entry", error_entries(), ids=lambda e: e.ident)
def test_error_entry_is_complete(entry: Entry) -> None:
    assert entry.message, "no ```text block with the exact message"
    for name in ("Stage", "Cause", "Fix", "Source"):
        assert len(entry.fields.get(name, "")) >= 3, f"missing or empty **{name}:**"
    assert entry.fields["Stage"].split()[0].strip(",.").lower() in {
        "metadata", "compile", "link", "import", "environment", "runtime",
    }  # fmt: skip
    assert SOURCE_REF.search(entry.fields["Source"]), "Source must be a URL or a repository file"


def test_error_index_parser_rejects_incomplete_entries(tmp_path: Path) -> None:
    """The checks above must be able to fail: a broken entry is detected."""
    index = tmp_path / "error-index.md"
    index.write_text("### E01 x\n\n```text\nboom\n```\n\n- **Cause:** c\n- **Fix:** f\n")
    (entry,) = error_entries(index)
    assert entry.message == "boom"
    assert "Source" not in entry.fields


# -- 3. commands ----------------------------------------------------------------------------


def test_every_shell_block_is_classified() -> None:
    """Within docs/. The top-level README.md is checked for links only (its owner labels it)."""
    bad = []
    for b in all_blocks():
        if DOCS not in b.path.parents:
            continue
        if not b.words or b.words[0] not in SHELL_LANGS:
            continue
        if b.words[0] in WINDOWS_LANGS:
            ok = "windows-only" in b.words
        else:
            ok = "linux-checked" in b.words or "windows-only" in b.words
        if not ok:
            bad.append(f"{b.id}: ```{b.info}``` needs linux-checked or windows-only")
    assert not bad, "\n".join(bad)


def test_windows_only_blocks_cite_what_they_were_checked_against() -> None:
    bad = []
    for b in all_blocks():
        if "windows-only" not in b.words:
            continue
        m = re.match(r"<!--\s*checked against:(.*?)-->", b.preceding)
        if not m or not re.search(r"https?://|\w/\w", m.group(1)):
            bad.append(f"{b.id}: windows-only block without '<!-- checked against: URL -->'")
    assert not bad, "\n".join(bad)


def parse_console(body: str) -> tuple[list[str], list[str]]:
    commands: list[str] = []
    expected: list[str] = []
    continuing = False
    for raw in body.splitlines():
        if continuing:
            commands[-1] += "\n" + raw
            continuing = raw.rstrip().endswith("\\")
        elif raw.startswith("$ "):
            commands.append(raw[2:])
            continuing = raw.rstrip().endswith("\\")
        elif raw.strip():
            expected.append(raw.strip())
    return commands, expected


def expected_pattern(line: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in line.split("...")))


def test_console_parser() -> None:
    cmds, exp = parse_console("$ echo a \\\n  b\na b\n$ true\n...x...\n")
    assert cmds == ["echo a \\\n  b", "true"]
    assert exp == ["a b", "...x..."]
    assert expected_pattern("...x...").search("zzxzz")
    assert not expected_pattern("a...c").search("ab")


PIP_FETCH = re.compile(r"\bpip\s+(?:download|wheel|install)\b")
RELEASE = re.compile(r"(?:^|\s)[A-Za-z0-9][A-Za-z0-9_.-]*==\d")
REQ_FILE = re.compile(r"\s-r\s+(\S+)")


def unverified_downloads(block: Block) -> list[str]:
    """pip commands of a block that fetch a named release (name==version on the command
    line, or in a requirements file the block writes) without checking its sha256."""
    commands, _ = parse_console(block.body)
    if "sha256sum" in block.body:
        return []

    def names_release(cmd: str) -> bool:
        if RELEASE.search(cmd):
            return True
        for req_file in REQ_FILE.findall(cmd):
            writers = [c for c in commands if re.search(rf">\s*{re.escape(req_file)}\b", c)]
            if any("==" in w for w in writers):
                return True
        return False

    return [
        c.replace("\\\n", " ")
        for c in commands
        if PIP_FETCH.search(c) and names_release(c) and "--require-hashes" not in c
    ]


def test_downloads_in_linux_blocks_are_verified() -> None:
    bad = [f"{b.id}: {c}" for b in linux_blocks() for c in unverified_downloads(b)]
    assert not bad, "pin the sha256 (--require-hashes) of:\n" + "\n".join(bad)


def test_download_checker_flags_an_unpinned_release() -> None:
    def block(body: str) -> Block:
        return Block(DOCS / "README.md", 1, "console linux-checked network", body, "")

    unpinned = block("$ python3 -m pip download --no-deps \\\n    pyzmq==27.3.0 -d x")
    unpinned_file = block("$ echo 'pyzmq==27.3.0' > req.txt\n$ python3 -m pip wheel -r req.txt")
    pinned = block(
        "$ printf 'pyzmq==27.3.0 --hash=sha256:00' > req.txt\n"
        "$ python3 -m pip wheel --require-hashes -r req.txt -w w\n"
        "$ python3 -m pip install --no-deps --target site wheels/x.whl"
    )
    local = block("$ echo './greet_ext' > req.txt\n$ python3 -m pip wheel -r req.txt -w w")
    assert len(unverified_downloads(unpinned)) == 1
    assert len(unverified_downloads(unpinned_file)) == 1
    assert unverified_downloads(pinned) == []
    assert unverified_downloads(local) == []


def pypi_reachable() -> bool:
    try:
        with socket.create_connection(("pypi.org", 443), timeout=3):
            return True
    except OSError:
        return False


def run_block(block: Block, workdir: Path) -> str:
    commands, _ = parse_console(block.body)
    assert commands, f"{block.id}: linux-checked block without '$ ' commands"
    env = dict(os.environ)
    env.update(
        REPO=str(REPO),
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PYTHONDONTWRITEBYTECODE="1",
        LC_ALL="C.UTF-8",
    )
    script = "set -euo pipefail\n" + "\n".join(commands) + "\n"
    proc = subprocess.run(
        ["bash", "-c", script],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=BLOCK_TIMEOUT_S,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{block.id}: exit {proc.returncode}\n{script}\n{output}"
    return output


@pytest.fixture(scope="session")
def block_outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str | BaseException]:
    """Run every linux-checked block once, several at a time (most of their time is spent
    waiting on pip, the network and the compilers), keyed by block id."""
    online = pypi_reachable()
    todo = [b for b in linux_blocks() if online or "network" not in b.words]

    def one(block: Block) -> str | BaseException:
        try:
            return run_block(block, tmp_path_factory.mktemp("block"))
        except (AssertionError, subprocess.TimeoutExpired) as exc:
            return exc

    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(zip([b.id for b in todo], pool.map(one, todo), strict=True))


@pytest.mark.parametrize("block", linux_blocks(), ids=lambda b: b.id)
def test_linux_checked_block_runs(
    block: Block, block_outputs: dict[str, str | BaseException]
) -> None:
    if block.id not in block_outputs:
        pytest.skip("needs https://pypi.org, which cannot be reached from this machine")
    output = block_outputs[block.id]
    if isinstance(output, BaseException):
        raise output
    lines = [line.strip() for line in output.splitlines()]
    _, expected = parse_console(block.body)
    missing = [e for e in expected if not any(expected_pattern(e).search(x) for x in lines)]
    assert not missing, f"{block.id}: expected output not produced:\n" + "\n".join(
        [*missing, "--- actual output ---", output]
    )


def test_a_failing_block_is_reported(tmp_path: Path) -> None:
    """run_block must fail on a non-zero exit, so a broken command cannot pass unnoticed."""
    fake = Block(DOCS / "README.md", 1, "console linux-checked", "$ false", "")
    with pytest.raises(AssertionError, match="exit 1"):
        run_block(fake, tmp_path)
