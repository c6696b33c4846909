"""The Wine 10 harness does what the other cmd tests rely on (DESIGN.md 5.1, 5.2).

Each case is a behaviour where Debian 12's Wine 8 differs from Windows, or a harness promise
(same-path mounts, exit codes mod 256, doubles, isolation from the host).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from harness.wine import _mounts_below, windows_path

pytestmark = pytest.mark.wine


def bat(path: Path, *lines: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(("\r\n".join(["@echo off", *lines]) + "\r\n").encode("ascii"))
    return path


def test_and_or_follow_exit_codes(wine, tmp_path):
    script = bat(
        tmp_path / "andor.bat",
        "cmd /c exit 0 && echo and-after-success",
        "cmd /c exit 1 && echo and-after-failure",
        "cmd /c exit 1 || echo or-after-failure",
        "cmd /c exit 0 || echo or-after-success",
        "exit /b 0",
    )
    r = wine.run_batch(script)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["and-after-success", "or-after-failure"]


def test_call_propagates_exit_code(wine, tmp_path):
    bat(tmp_path / "inner.bat", "exit /b 7")
    script = bat(
        tmp_path / "outer.bat",
        'call "%~dp0inner.bat"',
        "set RC=%ERRORLEVEL%",
        "echo inner=%RC%",
        "exit /b %RC%",
    )
    r = wine.run_batch(script)
    assert r.stdout.strip() == "inner=7"
    assert r.returncode == 7


def test_exe_exit_code_and_argv_with_spaces(wine, doubles, tmp_path):
    d = doubles.make(tmp_path / "dir with space (x)", "tool", grammarless=True)
    d.configure("tool", "exit 42\n")
    r = wine.run(d.bin / "tool.exe", ["a b", "c&d", "100%"], cwd=tmp_path, env=d.env)
    assert r.returncode == 42
    (call,) = d.calls("tool")
    assert call["argv"] == ["a b", "c&d", "100%"]
    assert call["cwd"] == windows_path(tmp_path)


def test_exit_code_reaches_linux_mod_256(wine, doubles, tmp_path):
    d = doubles.make(tmp_path / "bin", "tool", grammarless=True)
    d.configure("tool", "exit 300\n")
    assert wine.run(d.bin / "tool.exe", env=d.env).returncode == 300 % 256


def test_batch_in_path_with_spaces_gets_its_arguments(wine, tmp_path):
    script = bat(
        tmp_path / "a b (c)" / "args.bat",
        "echo dp0=[%~dp0]",
        "echo one=[%~1]",
        "echo two=[%~2]",
        "exit /b 3",
    )
    r = wine.run_batch(script, ["x y", "z"])
    assert r.returncode == 3
    assert r.stdout.splitlines() == [
        f"dp0=[{windows_path(script.parent)}\\]",
        "one=[x y]",
        "two=[z]",
    ]


def test_double_rules_payload_and_system32_install(wine, doubles, tmp_path):
    """curl.exe stands in for Windows' inbox curl (not installable here): -o gets the payload."""
    d = doubles.make(tmp_path / "bin", "curl", grammarless=True)  # tests the rules, not curl
    payload = tmp_path / "payload.bin"
    payload.write_bytes(bytes(range(256)) * 10)
    d.configure(
        "curl",
        f"when --fail-here\nerr boom\nexit 22\nwhen -o\ncopy {windows_path(payload)}|{{after:-o}}\n"
        "out got {arg:1}\nexit 0\n",
    )
    wine.install(d.bin / "curl.exe", "C:\\Windows\\System32\\curl.exe")
    script = bat(
        tmp_path / "dl.bat",
        '"%SystemRoot%\\System32\\curl.exe" -fsSL -o "%~dp0out dir\\file.part" https://x/y',
        "if errorlevel 1 exit /b 1",
        '"%SystemRoot%\\System32\\curl.exe" --fail-here',
        "exit /b %ERRORLEVEL%",
    )
    r = wine.run_batch(script, env=d.env)
    assert r.returncode == 22
    assert r.stdout.strip() == "got -fsSL"
    assert (tmp_path / "out dir" / "file.part").read_bytes() == payload.read_bytes()
    assert [c["argv"][0] for c in d.calls("curl")] == ["-fsSL", "--fail-here"]
    wine.remove("C:\\Windows\\System32\\curl.exe")
    r = wine.run_batch(script, env=d.env)
    assert r.returncode == 1


def test_timeout_kills_and_session_recovers(wine, tmp_path):
    script = bat(tmp_path / "hang.bat", "ping -n 60 127.0.0.1 >nul", "exit /b 0")
    with pytest.raises(subprocess.TimeoutExpired):
        wine.run_batch(script, timeout=3)
    assert wine.run("cmd", ["/c", "exit 5"]).returncode == 5


def test_mounts_stay_inside_the_private_namespace(wine, tmp_path):
    wine.run("cmd", ["/c", "exit 0"], cwd=tmp_path)
    assert _mounts_below(wine.root.parent) == []
    assert not any(wine.root.iterdir()), "the overlay must be invisible from the host"


def test_installed_double_replaces_wine_builtin(wine, doubles, tmp_path):
    """certutil.exe stands in for Windows' certutil; Wine's own is a stub that must not run."""
    d = doubles.make(tmp_path / "bin", "certutil")
    d.configure("certutil", "out SHA256 hash of {arg:2}:\nout 00ff\nexit 0\n")
    wine.install(d.bin / "certutil.exe", "C:\\Windows\\System32\\certutil.exe")
    r = wine.run("cmd", ["/c", "certutil -hashfile x.bin SHA256"], env=d.env)
    assert r.returncode == 0
    assert r.stdout.split("\n")[:2] == ["SHA256 hash of x.bin:", "00ff"]


def test_wine_drops_percent_from_parameters(wine, tmp_path):
    """Known Wine 10 difference: % inside %~1 / %~dp0 values is expanded again (Windows keeps
    the value as is). Tests therefore cannot exercise % in paths; if this starts failing,
    Wine was fixed and the % cases belong back in test_build_channel.py."""
    script = bat(tmp_path / "p%x%q" / "pct.bat", "echo arg=[%~1]", "echo dp0=[%~dp0]", "exit /b 0")
    r = wine.run_batch(script, ["100%", "a%b%c"])
    assert r.stdout.splitlines()[0] == "arg=[100]"
    assert r.stdout.splitlines()[1] == f"dp0=[{windows_path(tmp_path)}\\pq\\]"


def test_negative_exit_codes_pass_or_and_miss_errorlevel_1(wine, doubles, tmp_path):
    """A crash exits with a negative NTSTATUS (0xC0000005 = -1073741819): ``||`` and a
    comparison with 0 see it, ``if errorlevel 1`` (errorlevel >= 1) does not - which is why
    build_channel.cmd compares %ERRORLEVEL% with 0."""
    d = doubles.make(tmp_path / "bin", "tool", grammarless=True)
    d.configure("tool", "exit -1073741819\n")
    tool = windows_path(d.bin / "tool.exe")
    script = bat(
        tmp_path / "neg.bat",
        f'"{tool}"',
        "echo level=%ERRORLEVEL%",
        f'"{tool}" || echo or-ran',
        f'"{tool}"',
        "if errorlevel 1 echo errorlevel-1",
        f'"{tool}"',
        'if not "%ERRORLEVEL%"=="0" echo not-zero',
        "exit /b 0",
    )
    r = wine.run_batch(script, env=d.env)
    assert r.stdout.split() == ["level=-1073741819", "or-ran", "not-zero"]


def test_wine_differences_the_scripts_avoid(wine, doubles, tmp_path):
    """Known Wine 10 cmd.exe differences from Windows; the scripts are written around them.
    If one of these starts failing, Wine changed and the workaround can be revisited.

    1. ``for /d %%d in ("dir\\pattern*")``: a quoted pattern matches nothing (Windows: the
       folders); the scripts list folders with ``dir /b /ad`` instead.
    2. ``!v:~n!`` with n past the end of the value is not empty (Windows: empty); the scripts
       take a length from a file's size instead of from substrings.
    3. cmd.exe opens a redirection target shareable, so a second ``9>>lock`` succeeds
       (Windows' cmd.exe opens it without write sharing, which is the lock build_channel.cmd
       uses); a program that holds the file without sharing does block it.
    """
    (tmp_path / "dirs" / "micromamba-1").mkdir(parents=True)
    holder = doubles.make(tmp_path / "bin", "holder", grammarless=True)
    lock = tmp_path / "x.lock"
    holder.configure("holder", f"hold {windows_path(lock)}|6000\n")
    script = bat(
        tmp_path / "diff.bat",
        'for /d %%d in ("%~dp0dirs\\micromamba-*") do echo quoted=%%~nxd',
        'for /f "delims=" %%d in (\'dir /b /ad "%~dp0dirs\\micromamba-*"\') do echo dirb=%%d',
        "setlocal EnableDelayedExpansion",
        'set "S=abc"',
        'if "!S:~5!"=="" echo past-end-empty',
        "endlocal",
        'set "L="',
        '9>>"%~dp0x.lock" call :inner',
        "echo nested=[%L%]",
        f'start "" /b "{windows_path(holder.bin / "holder.exe")}"',
        "ping -n 2 127.0.0.1 >nul",
        'set "L="',
        '9>>"%~dp0x.lock" call :mark',
        "echo held=[%L%]",
        "exit /b 0",
        ":inner",
        '9>>"%~dp0x.lock" call :mark',
        "exit /b 0",
        ":mark",
        'set "L=1"',
        "exit /b 0",
    )
    r = wine.run_batch(script, env=holder.env, timeout=60)
    out = r.stdout.split()
    assert "dirb=micromamba-1" in out and not any(o.startswith("quoted=") for o in out)
    assert "past-end-empty" not in out
    assert "nested=[1]" in out, "Wine: the redirection is shareable"
    assert "held=[]" in out, "a holder without sharing blocks the redirection"
    wine.restart()  # end the holder
