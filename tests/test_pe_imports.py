"""tools/pe_imports.py against real PE files built here with mingw-w64.

The DLL/EXE fixtures are compiled from docs/tutorial/examples/pe/*.c with
x86_64-w64-mingw32-gcc (Debian package gcc-mingw-w64-x86-64). binutils' own
PE reader (x86_64-w64-mingw32-objdump -p) is the independent oracle for the
import list. GNU ld never fills the delay-import directory and there is no
32-bit mingw on the host, so those two paths are checked on a PE image
assembled byte by byte from the PE specification.
"""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from tools import pe_imports

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "docs" / "tutorial" / "examples" / "pe"
GCC = "x86_64-w64-mingw32-gcc"
OBJDUMP = "x86_64-w64-mingw32-objdump"
TOOL = REPO / "tools" / "pe_imports.py"


def _gcc(*args: str | Path, cwd: Path) -> None:
    assert shutil.which(GCC), f"{GCC} missing: apt-get install gcc-mingw-w64-x86-64"
    subprocess.run([GCC, *map(str, args)], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pe")
    _gcc("-shared", "-o", "greet.dll", EXAMPLES / "greet.c",
         "-Wl,--out-implib,libgreet.dll.a", cwd=out)  # fmt: skip
    _gcc("-o", "app.exe", EXAMPLES / "app.c", "-L.", "-lgreet", cwd=out)
    _gcc("-shared", "-o", "wrapper.dll", EXAMPLES / "wrapper.c", "-L.", "-lgreet",
         "-Wl,--out-implib,libwrapper.dll.a", cwd=out)  # fmt: skip
    _gcc("-o", "app2.exe", EXAMPLES / "app2.c", "-L.", "-lwrapper", cwd=out)
    return out


def run_tool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(TOOL), *map(str, args)], capture_output=True, text=True, timeout=60
    )


def test_exe_headers_and_imports(built: Path) -> None:
    info = pe_imports.parse_pe(built / "app.exe")
    assert (info.machine, info.is_pe32_plus, info.is_dll) == ("x64", True, False)
    names = [n.lower() for n in info.dll_names()]
    assert "greet.dll" in names
    assert "kernel32.dll" in names
    greet = next(i for i in info.imports if i.name.lower() == "greet.dll")
    assert greet.functions == ("greet",)
    assert not greet.delay_loaded


def test_dll_flag_set_for_dll(built: Path) -> None:
    info = pe_imports.parse_pe(built / "greet.dll")
    assert info.is_dll
    assert "greet.dll" not in [n.lower() for n in info.dll_names()]


@pytest.mark.parametrize("name", ["app.exe", "greet.dll", "wrapper.dll", "app2.exe"])
def test_same_dll_list_as_binutils(built: Path, name: str) -> None:
    dump = subprocess.run(
        [OBJDUMP, "-p", str(built / name)], capture_output=True, text=True, check=True
    ).stdout
    expected = [line.split("DLL Name:", 1)[1].strip() for line in dump.splitlines()
                if "DLL Name:" in line]  # fmt: skip
    assert expected, "objdump found no imports: fixture is broken"
    assert pe_imports.parse_pe(built / name).dll_names() == expected


def test_cli_resolves_in_search_dir(built: Path) -> None:
    proc = run_tool(built / "app.exe", "--search", built)
    assert proc.returncode == 0, proc.stderr
    assert f"greet.dll -> {built / 'greet.dll'}" in proc.stdout
    assert "all non-system DLLs resolved" in proc.stdout


def test_cli_reports_missing_dll(built: Path, tmp_path: Path) -> None:
    proc = run_tool(built / "app.exe", "--search", tmp_path)
    assert proc.returncode == pe_imports.EXIT_UNRESOLVED
    assert "greet.dll -> NOT FOUND" in proc.stdout


def test_recursive_finds_transitive_gap(built: Path, tmp_path: Path) -> None:
    shutil.copy(built / "wrapper.dll", tmp_path)  # greet.dll deliberately left out
    flat = run_tool(built / "app2.exe", "--search", tmp_path)
    assert flat.returncode == 0, "direct imports all resolve; only the transitive one is missing"
    deep = run_tool(built / "app2.exe", "--search", tmp_path, "--recursive")
    assert deep.returncode == pe_imports.EXIT_UNRESOLVED
    assert "greet.dll -> NOT FOUND (needed by wrapper.dll)" in deep.stdout
    shutil.copy(built / "greet.dll", tmp_path)
    assert run_tool(built / "app2.exe", "--search", tmp_path, "--recursive").returncode == 0


def test_json_output(built: Path) -> None:
    proc = run_tool(built / "app.exe", "--json", "--search", built)
    doc = json.loads(proc.stdout)
    assert doc["machine"] == "x64"
    assert doc["format"] == "PE32+"
    assert doc["missing"] == {}
    assert doc["resolved"] == {"greet.dll": str(built / "greet.dll")}


def test_import_library_is_rejected_with_hint(built: Path) -> None:
    proc = run_tool(built / "libgreet.dll.a")
    assert proc.returncode == pe_imports.EXIT_NOT_PE
    assert "not a valid PE file" in proc.stderr
    assert "import library" in proc.stderr


def test_truncated_file_is_rejected(built: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.exe"
    cut.write_bytes((built / "app.exe").read_bytes()[:400])
    proc = run_tool(cut)
    assert proc.returncode == pe_imports.EXIT_NOT_PE
    assert "not a valid PE file" in proc.stderr


def test_missing_file_exit_code(tmp_path: Path) -> None:
    proc = run_tool(tmp_path / "nope.pyd")
    assert proc.returncode == pe_imports.EXIT_UNREADABLE
    assert "cannot read" in proc.stderr


def test_machine_mismatch(built: Path) -> None:
    proc = run_tool(built / "app.exe", "--machine", "x86")
    assert proc.returncode == pe_imports.EXIT_NOT_PE
    assert "targets x64, expected x86" in proc.stderr
    assert run_tool(built / "app.exe", "--machine", "x64").returncode == 0


def test_recursive_requires_search(built: Path) -> None:
    assert run_tool(built / "app.exe", "--recursive").returncode == pe_imports.EXIT_USAGE


def _synthetic_pe32(tmp_path: Path) -> Path:
    """A PE32 (x86) image with one normal import (by name and by ordinal) and one
    delay-loaded import, laid out as the PE specification describes. Section data
    sits at file offset 0x200 and is mapped at RVA 0x1000."""
    base_rva, raw_ptr = 0x1000, 0x200
    sec = bytearray()

    def put(blob: bytes) -> int:
        while len(sec) % 4:
            sec.append(0)
        rva = base_rva + len(sec)
        sec.extend(blob)
        return rva

    def thunks(names: list[str | int]) -> int:
        entries = []
        for n in names:
            if isinstance(n, int):
                entries.append((1 << 31) | n)
            else:
                entries.append(put(b"\0\0" + n.encode() + b"\0"))
        return put(struct.pack(f"<{len(entries) + 1}I", *entries, 0))

    k32 = put(b"KERNEL32.dll\0")
    k32_thunks = thunks(["GetTickCount", 7])
    late = put(b"late.dll\0")
    late_thunks = thunks(["late_fn"])
    imports = put(struct.pack("<IIIII", k32_thunks, 0, 0, k32, k32_thunks) + bytes(20))
    delay = put(struct.pack("<8I", 1, late, 0, 0, late_thunks, 0, 0, 0) + bytes(32))

    dirs = [(0, 0)] * 16
    dirs[1] = (imports, 40)
    dirs[13] = (delay, 64)
    opt = bytearray(96)
    struct.pack_into("<H", opt, 0, 0x10B)
    struct.pack_into("<I", opt, 92, 16)
    opt += b"".join(struct.pack("<II", *d) for d in dirs)
    coff = struct.pack("<HHIIIHH", 0x014C, 1, 0, 0, 0, len(opt), 0x0102)
    section = struct.pack("<8sIIII", b".idata", len(sec), base_rva, len(sec), raw_ptr) + bytes(16)
    head = bytearray(b"MZ" + bytes(0x3A) + struct.pack("<I", 0x40))
    head += b"PE\0\0" + coff + opt + section
    assert len(head) <= raw_ptr
    path = tmp_path / "synthetic.dll"
    path.write_bytes(bytes(head) + bytes(raw_ptr - len(head)) + bytes(sec))
    return path


def test_pe32_ordinals_and_delay_imports(tmp_path: Path) -> None:
    info = pe_imports.parse_pe(_synthetic_pe32(tmp_path))
    assert (info.machine, info.is_pe32_plus) == ("x86", False)
    by_name = {i.name: i for i in info.imports}
    assert by_name["KERNEL32.dll"].functions == ("GetTickCount", "#7")
    assert not by_name["KERNEL32.dll"].delay_loaded
    assert by_name["late.dll"].delay_loaded
    assert by_name["late.dll"].functions == ("late_fn",)
    proc = run_tool(tmp_path / "synthetic.dll", "--search", tmp_path)
    assert proc.returncode == pe_imports.EXIT_UNRESOLVED
    assert "late.dll (delay-loaded) -> NOT FOUND" in proc.stdout
