"""List the DLLs a Windows PE file (.exe, .dll, .pyd) imports, and check they resolve.

This is a small, dependency-free stand-in for ``dumpbin /dependents`` that also
runs on Linux, so a maintainer can inspect a Windows build product anywhere.

What it reads (Microsoft "PE Format" specification,
https://learn.microsoft.com/en-us/windows/win32/debug/pe-format):

* the COFF file header after the ``PE\\0\\0`` signature, for the machine type
  (an x86 module in an x64 process fails with "%1 is not a valid Win32 application");
* the optional header's data directories 1 (import table) and 13 (delay-load
  import table), whose entries name each DLL the loader must find.

``--search DIR`` then resolves every imported DLL name, case-insensitively, in
the given directories, in order, the way a maintainer reasons about
``Library\\bin`` of a conda prefix. DLLs that ship with Windows (API sets such as
``api-ms-win-crt-*`` and a short list of system libraries) are reported but never
counted as missing. The system list is a heuristic, not the loader's own rule.

Exit codes: 0 success; 1 some DLL did not resolve; 2 bad command line;
3 the input file cannot be read; 4 the input is not a valid PE file.
"""

from __future__ import annotations

import argparse
import json
import struct
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

EXIT_OK = 0
EXIT_UNRESOLVED = 1
EXIT_USAGE = 2
EXIT_UNREADABLE = 3
EXIT_NOT_PE = 4

MACHINES: dict[int, str] = {
    0x014C: "x86",
    0x8664: "x64",
    0xAA64: "arm64",
    0x01C4: "arm",
}

IMAGE_FILE_DLL = 0x2000
PE32_MAGIC = 0x10B
PE32PLUS_MAGIC = 0x20B
IMPORT_DIRECTORY = 1
DELAY_IMPORT_DIRECTORY = 13

# DLLs every Windows installation provides (lower case). API-set names
# (api-ms-win-*, ext-ms-*) are recognised by prefix in is_system_dll().
SYSTEM_DLLS = frozenset(
    {
        "advapi32.dll",
        "bcrypt.dll",
        "comctl32.dll",
        "comdlg32.dll",
        "crypt32.dll",
        "dbghelp.dll",
        "gdi32.dll",
        "imm32.dll",
        "iphlpapi.dll",
        "kernel32.dll",
        "kernelbase.dll",
        "msvcrt.dll",
        "normaliz.dll",
        "ntdll.dll",
        "ole32.dll",
        "oleaut32.dll",
        "psapi.dll",
        "rpcrt4.dll",
        "secur32.dll",
        "setupapi.dll",
        "shell32.dll",
        "shlwapi.dll",
        "ucrtbase.dll",
        "user32.dll",
        "userenv.dll",
        "version.dll",
        "winmm.dll",
        "wldap32.dll",
        "ws2_32.dll",
    }
)


class PEError(Exception):
    """The input is not a PE image this tool can read."""


@dataclass(frozen=True)
class ImportedDll:
    """One DLL named in an import table."""

    name: str
    delay_loaded: bool
    functions: tuple[str, ...]


@dataclass(frozen=True)
class PEInfo:
    """What the loader needs to know about one PE file."""

    path: Path
    machine: str
    is_pe32_plus: bool
    is_dll: bool
    imports: tuple[ImportedDll, ...]

    def dll_names(self) -> list[str]:
        return [imp.name for imp in self.imports]


@dataclass(frozen=True)
class _Section:
    virtual_address: int
    virtual_size: int
    raw_offset: int
    raw_size: int


@dataclass
class Resolution:
    """Outcome of resolving the imports of one file and, optionally, its dependencies."""

    found: dict[str, Path] = field(default_factory=dict)
    system: set[str] = field(default_factory=set)
    missing: dict[str, list[str]] = field(default_factory=dict)


def is_system_dll(name: str) -> bool:
    lowered = name.lower()
    return lowered in SYSTEM_DLLS or lowered.startswith(("api-ms-win-", "ext-ms-"))


def _unpack(fmt: str, data: bytes, offset: int) -> tuple[int, ...]:
    size = struct.calcsize(fmt)
    if offset < 0 or offset + size > len(data):
        raise PEError(f"truncated file: needed {size} bytes at offset {offset:#x}")
    return struct.unpack_from(fmt, data, offset)


def _rva_to_offset(rva: int, sections: Sequence[_Section]) -> int:
    for sec in sections:
        span = max(sec.virtual_size, sec.raw_size)
        if sec.virtual_address <= rva < sec.virtual_address + span:
            offset = rva - sec.virtual_address + sec.raw_offset
            if offset >= sec.raw_offset + sec.raw_size:
                raise PEError(f"RVA {rva:#x} points past the data stored for its section")
            return offset
    raise PEError(f"RVA {rva:#x} is not inside any section")


def _c_string(data: bytes, offset: int) -> str:
    end = data.find(b"\0", offset)
    if offset >= len(data) or end < 0:
        raise PEError(f"unterminated string at offset {offset:#x}")
    return data[offset:end].decode("ascii", errors="replace")


def _thunk_names(
    data: bytes, sections: Sequence[_Section], table_rva: int, pe32_plus: bool
) -> tuple[str, ...]:
    if table_rva == 0:
        return ()
    fmt, ordinal_flag = ("<Q", 1 << 63) if pe32_plus else ("<I", 1 << 31)
    step = struct.calcsize(fmt)
    offset = _rva_to_offset(table_rva, sections)
    names: list[str] = []
    while True:
        (entry,) = _unpack(fmt, data, offset)
        if entry == 0:
            return tuple(names)
        if entry & ordinal_flag:
            names.append(f"#{entry & 0xFFFF}")
        else:
            hint_name = _rva_to_offset(entry & 0x7FFFFFFF, sections)
            names.append(_c_string(data, hint_name + 2))
        offset += step


def parse_pe(path: Path) -> PEInfo:
    """Read the headers and import tables of ``path``.

    Raises ``OSError`` when the file cannot be read and ``PEError`` when it is
    not a well-formed PE image.
    """
    data = path.read_bytes()
    if data[:2] != b"MZ":
        raise PEError("no 'MZ' DOS header: not a Windows executable or DLL")
    (pe_offset,) = _unpack("<I", data, 0x3C)
    if data[pe_offset : pe_offset + 4] != b"PE\0\0":
        raise PEError("no 'PE' signature where the DOS header points")
    coff = pe_offset + 4
    machine, n_sections, _, _, _, opt_size, characteristics = _unpack("<HHIIIHH", data, coff)
    opt = coff + 20
    (magic,) = _unpack("<H", data, opt)
    if magic not in (PE32_MAGIC, PE32PLUS_MAGIC):
        raise PEError(f"unknown optional-header magic {magic:#x}")
    pe32_plus = magic == PE32PLUS_MAGIC
    dir_count_at = opt + (108 if pe32_plus else 92)
    (n_dirs,) = _unpack("<I", data, dir_count_at)
    directories = [_unpack("<II", data, dir_count_at + 4 + 8 * i) for i in range(min(n_dirs, 16))]

    sections: list[_Section] = []
    table = opt + opt_size
    for i in range(n_sections):
        vsize, vaddr, raw_size, raw_ptr = _unpack("<IIII", data, table + 40 * i + 8)
        sections.append(_Section(vaddr, vsize, raw_ptr, raw_size))

    imports: list[ImportedDll] = []
    if len(directories) > IMPORT_DIRECTORY and directories[IMPORT_DIRECTORY][0]:
        offset = _rva_to_offset(directories[IMPORT_DIRECTORY][0], sections)
        while True:
            lookup, _, _, name_rva, iat = _unpack("<IIIII", data, offset)
            if name_rva == 0 and iat == 0:
                break
            name = _c_string(data, _rva_to_offset(name_rva, sections))
            funcs = _thunk_names(data, sections, lookup or iat, pe32_plus)
            imports.append(ImportedDll(name, False, funcs))
            offset += 20
    if len(directories) > DELAY_IMPORT_DIRECTORY and directories[DELAY_IMPORT_DIRECTORY][0]:
        offset = _rva_to_offset(directories[DELAY_IMPORT_DIRECTORY][0], sections)
        while True:
            _, name_rva, _, _, int_rva, _, _, _ = _unpack("<IIIIIIII", data, offset)
            if name_rva == 0:
                break
            name = _c_string(data, _rva_to_offset(name_rva, sections))
            imports.append(
                ImportedDll(name, True, _thunk_names(data, sections, int_rva, pe32_plus))
            )
            offset += 32

    return PEInfo(
        path=path,
        machine=MACHINES.get(machine, f"unknown({machine:#06x})"),
        is_pe32_plus=pe32_plus,
        is_dll=bool(characteristics & IMAGE_FILE_DLL),
        imports=tuple(imports),
    )


def _find_in(name: str, directories: Sequence[Path]) -> Path | None:
    wanted = name.lower()
    for directory in directories:
        if not directory.is_dir():
            continue
        for entry in directory.iterdir():
            if entry.name.lower() == wanted and entry.is_file():
                return entry
    return None


def resolve(info: PEInfo, directories: Sequence[Path], recursive: bool) -> Resolution:
    """Resolve the DLLs ``info`` imports in ``directories``.

    With ``recursive`` the DLLs found are parsed in turn, so a dependency of a
    dependency that is missing is reported too, with the DLL that needs it.
    """
    result = Resolution()
    queue: list[tuple[PEInfo, str]] = [(info, info.path.name)]
    seen: set[str] = set()
    while queue:
        current, label = queue.pop(0)
        for name in current.dll_names():
            key = name.lower()
            if is_system_dll(name):
                result.system.add(name)
                continue
            if key in seen:
                continue
            found = _find_in(name, directories)
            if found is None:
                result.missing.setdefault(name, []).append(label)
                continue
            seen.add(key)
            result.found[name] = found
            if recursive:
                try:
                    queue.append((parse_pe(found), found.name))
                except (OSError, PEError) as exc:
                    result.missing.setdefault(name, []).append(f"{label} (unreadable: {exc})")
    return result


def _describe(info: PEInfo) -> str:
    kind = "DLL" if info.is_dll else "executable"
    fmt = "PE32+" if info.is_pe32_plus else "PE32"
    return f"{info.path.name}: {fmt} {info.machine} {kind}"


def _render_text(info: PEInfo, functions: bool, res: Resolution | None) -> Iterable[str]:
    yield _describe(info)
    yield "imports:"
    for imp in info.imports:
        suffix = " (delay-loaded)" if imp.delay_loaded else ""
        if res is not None:
            if imp.name in res.found:
                suffix += f" -> {res.found[imp.name]}"
            elif imp.name in res.missing:
                suffix += " -> NOT FOUND"
            elif is_system_dll(imp.name):
                suffix += " -> system"
        yield f"  {imp.name}{suffix}"
        if functions:
            for func in imp.functions:
                yield f"      {func}"
    if res is not None:
        for name, needed_by in sorted(res.missing.items()):
            if name not in info.dll_names():
                yield f"  {name} -> NOT FOUND (needed by {', '.join(needed_by)})"
        if res.missing:
            yield f"missing: {len(res.missing)} DLL(s): {', '.join(sorted(res.missing))}"
        else:
            yield "all non-system DLLs resolved"


def _to_json(info: PEInfo, res: Resolution | None) -> str:
    doc: dict[str, object] = {
        "file": str(info.path),
        "machine": info.machine,
        "format": "PE32+" if info.is_pe32_plus else "PE32",
        "dll": info.is_dll,
        "imports": [
            {"name": i.name, "delay_loaded": i.delay_loaded, "functions": list(i.functions)}
            for i in info.imports
        ],
    }
    if res is not None:
        doc["resolved"] = {name: str(p) for name, p in sorted(res.found.items())}
        doc["system"] = sorted(res.system)
        doc["missing"] = {name: by for name, by in sorted(res.missing.items())}
    return json.dumps(doc, indent=2)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pe_imports",
        description="List the DLLs a PE file (.exe/.dll/.pyd) imports; optionally resolve them.",
    )
    parser.add_argument("file", type=Path, help="the .exe, .dll or .pyd to inspect")
    parser.add_argument(
        "--functions", action="store_true", help="also list the imported function names"
    )
    parser.add_argument(
        "--search",
        type=Path,
        action="append",
        default=[],
        metavar="DIR",
        help="directory to resolve imported DLLs in (repeatable, searched in order)",
    )
    parser.add_argument(
        "--recursive",
        action="store_true",
        help="with --search: also resolve the imports of every DLL found",
    )
    parser.add_argument(
        "--machine",
        choices=sorted(set(MACHINES.values())),
        help="fail (exit 4) unless the file targets this machine",
    )
    parser.add_argument("--json", action="store_true", help="print a JSON document")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        info = parse_pe(args.file)
    except OSError as exc:
        print(f"error: cannot read {args.file}: {exc.strerror or exc}", file=sys.stderr)
        print("hint: check the path; a wheel must be unzipped first", file=sys.stderr)
        return EXIT_UNREADABLE
    except PEError as exc:
        print(f"error: {args.file} is not a valid PE file: {exc}", file=sys.stderr)
        print("hint: pass the .pyd/.dll/.exe itself, not an import library (.lib)", file=sys.stderr)
        return EXIT_NOT_PE
    if args.machine and info.machine != args.machine:
        print(
            f"error: {info.path.name} targets {info.machine}, expected {args.machine}",
            file=sys.stderr,
        )
        print("hint: a 64-bit Python loads only x64 modules", file=sys.stderr)
        return EXIT_NOT_PE
    if args.recursive and not args.search:
        print("error: --recursive needs at least one --search DIR", file=sys.stderr)
        return EXIT_USAGE
    res = resolve(info, args.search, args.recursive) if args.search else None
    if args.json:
        print(_to_json(info, res))
    else:
        for line in _render_text(info, args.functions, res):
            print(line)
    return EXIT_UNRESOLVED if res is not None and res.missing else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
