"""build_channel.cmd under Wine 10 with test doubles (DESIGN.md 5.1, 5.2, 5.7).

Doubles stand in for programs that cannot exist on Linux CI, each because it is Windows-only or
unreachable here: curl.exe and certutil.exe (Windows inbox tools; Wine's certutil is a stub),
vswhere.exe (Visual Studio Installer), nvidia-smi.exe (NVIDIA driver), micromamba.exe (the
pinned download from GitHub, unreachable here; the curl double "downloads" the micromamba
double), chcp.com where a test needs a real code page. Every double carries its program's
grammar (tests/doubles/grammars) and rejects what the real program rejects; each run here also
asserts that no call build_channel.cmd made was rejected. The doubles log their argv, so each
test asserts the exact program sequence.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.wine import WineChroot, windows_path
from harness.wine_fixtures import Doubles, DoubleSet

pytestmark = pytest.mark.wine

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "build_channel.cmd"
TEXT = SCRIPT.read_bytes().decode("ascii")
MM_VER = re.search(r'set "MM_VER=([^"]+)"', TEXT)[1]  # type: ignore[index]
MM_SHA = re.search(r'set "MM_SHA256=([0-9a-f]{64})"', TEXT)[1]  # type: ignore[index]
MM_URL = (
    f"https://github.com/mamba-org/micromamba-releases/releases/download/{MM_VER}/micromamba-win-64"
)
SYS32 = "C:\\Windows\\System32\\"
VSWHERE = "C:\\Program Files (x86)\\Microsoft Visual Studio\\Installer\\vswhere.exe"
VSWHERE_ARGS = [
    "-latest",
    "-products",
    "*",
    "-requires",
    "Microsoft.VisualStudio.Component.VC.Tools.x86.x64",
    "-property",
    "installationVersion",
]
BUILD_SPEC = ["-c", "conda-forge", "python=3.12", "conda-build=26.3.0", "anaconda-client=1.14"]
SMI_ARGS = ["--query-gpu=driver_version,compute_cap", "--format=csv,noheader"]
USABLE = ["python", "-c", "import conda_build.cli.main_build, binstar_client"]
LONG_PATHS_KEY = "HKLM\\SYSTEM\\CurrentControlSet\\Control\\FileSystem"
EXPLORER = 'C:\\windows\\system32\\cmd.exe /c ""{script}" "'
PAUSE_LINE = "Press any key to close this window."

MICROMAMBA_HAPPY = """\
when create
out micromamba double: created {after:-p}
write {after:-p}\\conda-meta\\history|created by the micromamba double
when run ~build_recipes.py
out build_recipes double: channel {after:--channel}
write {after:--channel}\\noarch\\repodata.json|{}
when run ~verify_env.py
out verify_env: PASS (double)
"""


@dataclass
class Rig:
    """One scenario: a copy of the repo, doubles installed, default paths outside the repo."""

    wine: WineChroot
    root: Path
    repo: Path
    d: DoubleSet

    @property
    def cache(self) -> Path:
        return self.root / "cache"

    @property
    def channel(self) -> Path:
        return self.root / "channel"

    @property
    def prefix(self) -> Path:
        return self.root / "env"

    @property
    def mm(self) -> Path:
        return self.cache / f"micromamba-{MM_VER}" / "micromamba.exe"

    def default_args(self) -> list[str]:
        return [
            "--cache",
            windows_path(self.cache),
            "--channel",
            windows_path(self.channel),
            "--prefix",
            windows_path(self.prefix),
        ]

    def env(self, extra: dict[str, str | None] | None) -> dict[str, str]:
        """The doubles' variables, NO_COLOR, and no disk-space check (the host's free space is
        not the test's business; test_too_little_disk_space checks it); None removes one."""
        env: dict[str, str | None] = {**self.d.env, "NO_COLOR": "1", "FFCVWIN_MIN_FREE_GB": "0"}
        env.update(extra or {})
        return {k: v for k, v in env.items() if v is not None}

    def checked(self, r: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
        """Every call the script made must be one the real program accepts."""
        rejected = [c for c in self.d.calls() if "error" in c]
        assert not rejected, f"a double rejected a call: {rejected}"
        return r

    def run(
        self, *args: str, paths: bool = True, env: dict[str, str | None] | None = None
    ) -> subprocess.CompletedProcess[str]:
        full = [*(self.default_args() if paths else []), *args]
        r = self.wine.run_batch(
            self.repo / "build_channel.cmd",
            full,
            env=self.env(env),
            mounts=[self.root],
            timeout=120,
        )
        return self.checked(r)

    def run_typed(
        self, *args: str, env: dict[str, str | None] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run as a user types it in cmd.exe: every argument in double quotes.

        Wine quotes an argument only when it has a space, so ``&`` or ``(`` would reach cmd.exe
        bare; a wrapper batch file carries the quotes instead (its ``%`` doubled).
        """
        line = " ".join(f'"{a}"' for a in [*self.default_args(), *args]).replace("%", "%%")
        wrapper = self.root / "typed.bat"
        script = windows_path(self.repo / "build_channel.cmd").replace("%", "%%")
        wrapper.write_bytes(
            f'@echo off\r\n"{script}" {line}\r\n'.encode()  # no call: one % expansion only
        )
        r = self.wine.run_batch(wrapper, env=self.env(env), cwd=self.repo, mounts=[self.root])
        return self.checked(r)

    def calls(self) -> list[tuple[str, list[str]]]:
        return [(str(c["prog"]), list(c["argv"])) for c in self.d.calls()]  # type: ignore[call-overload]

    def progs(self) -> list[str]:
        """Program names, with micromamba's subcommand: ``micromamba create``."""
        out = []
        for prog, argv in self.calls():
            sub = next((a for a in argv if a in ("create", "run")), "?")
            out.append(f"{prog} {sub}" if prog == "micromamba" else prog)
        return out

    def runs(self) -> list[list[str]]:
        """The commands micromamba run was asked to run (after run's own options)."""
        return [
            list(c["argv"])[int(c["rest_at"]) - 1 :]  # type: ignore[call-overload]
            for c in self.d.calls("micromamba")
            if "rest_at" in c
        ]

    def log_text(self) -> str:
        return "".join(p.read_text() for p in sorted((self.cache / "logs").glob("*.log")))


def make_repo(dest: Path) -> Path:
    """The files build_channel.cmd refers to, copied byte for byte."""
    dest.mkdir(parents=True)
    shutil.copyfile(SCRIPT, dest / "build_channel.cmd")
    (dest / "scripts").mkdir()
    for name in ("build_recipes.py", "verify_env.py"):
        src = REPO / "scripts" / name
        (dest / "scripts" / name).write_bytes(src.read_bytes() if src.exists() else b"")
    shutil.copytree(REPO / "env", dest / "env")
    (dest / "recipes").mkdir()
    return dest


def install_doubles(wine: WineChroot, d: DoubleSet) -> None:
    for name in ("curl", "certutil", "nvidia-smi"):
        wine.install(d.bin / f"{name}.exe", SYS32 + f"{name}.exe")
    wine.install(d.bin / "vswhere.exe", VSWHERE)


def set_long_paths(wine: WineChroot, value: int) -> None:
    """LongPathsEnabled in the Wine prefix's registry (Windows' default is 0)."""
    args = ["add", LONG_PATHS_KEY, "/v", "LongPathsEnabled", "/t", "REG_DWORD"]
    r = wine.run("reg", [*args, "/d", str(value), "/f"])
    assert r.returncode == 0, r.stderr


@pytest.fixture(scope="module", autouse=True)
def long_paths_enabled(wine: WineChroot) -> Iterator[None]:
    """Test folders are deep (pytest's tmp_path): most scenarios run with long paths on."""
    set_long_paths(wine, 1)
    yield


@pytest.fixture
def rig(wine: WineChroot, doubles: Doubles, tmp_path: Path) -> Rig:
    d = doubles.make(
        tmp_path / "doubles", "curl", "certutil", "vswhere", "nvidia-smi", "micromamba"
    )
    d.configure("curl", f"when -o\ncopy {windows_path(d.bin / 'micromamba.exe')}|{{after:-o}}\n")
    d.configure(
        "certutil",
        f"out SHA256 hash of {{arg:2}}:\nout {MM_SHA}\n"
        "out CertUtil: -hashfile command completed successfully.\n",
    )
    d.configure("vswhere", "out 17.14.36310.24\n")
    d.configure("nvidia-smi", "out 581.57, 8.6\n")
    d.configure("micromamba", MICROMAMBA_HAPPY)
    install_doubles(wine, d)
    return Rig(wine, tmp_path, make_repo(tmp_path / "repo"), d)


def tree(path: Path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in path.rglob("*") if p.is_file()}


def mm_common(rig: Rig) -> list[str]:
    """micromamba's global options: before the subcommand (run has no --no-rc)."""
    return ["--no-rc", "-r", windows_path(rig.cache / "mamba")]


# ---- happy paths --------------------------------------------------------------------------------
def test_happy_path_gpu_auto_picks_cuda13(rig: Rig):
    before = tree(rig.repo)
    r = rig.run()
    assert r.returncode == 0, r.stdout + r.stderr
    w = windows_path
    benv = w(rig.cache / "build-env")
    mm = mm_common(rig)
    create = ["create", "-y"]
    variant = "env\\variant-cuda-13.0.txt"
    assert rig.calls() == [
        ("vswhere", VSWHERE_ARGS),
        ("nvidia-smi", SMI_ARGS),
        ("curl", ["-fL", "--retry", "3", "--retry-delay", "2", "-o", w(rig.mm) + ".part", MM_URL]),
        ("certutil", ["-hashfile", w(rig.mm) + ".part", "SHA256"]),
        (
            "micromamba",
            [*mm, *create, "-p", benv, "--no-shortcuts", "--override-channels", *BUILD_SPEC],
        ),
        ("micromamba", [*mm, "run", "-p", benv, *USABLE]),
        (
            "micromamba",
            [
                *[*mm, "run", "-p", benv, "python", "scripts\\build_recipes.py"],
                *["--recipes", "recipes", "--channel", w(rig.channel), "--python", "3.12"],
                *["--compiler", "vs2022"],
            ],
        ),
        ("certutil", ["-hashfile", "env\\training.txt", "SHA256"]),
        ("certutil", ["-hashfile", variant, "SHA256"]),
        (
            "micromamba",
            [
                *[*mm, *create, "-p", w(rig.prefix), "--no-shortcuts", "--override-channels"],
                *["-c", w(rig.channel), "-c", "conda-forge", "--strict-channel-priority"],
                *["--file", "env\\training.txt", "--file", variant, "python=3.12"],
            ],
        ),
        (
            "micromamba",
            [
                *mm,
                "run",
                "-p",
                w(rig.prefix),
                "python",
                "scripts\\verify_env.py",
                "--device",
                "cuda",
            ],
        ),
    ]
    assert [c[0] for c in rig.runs()] == ["python", "python", "python"]
    # micromamba run starts in the repository, so relative script paths resolve there.
    assert {c["cwd"] for c in rig.d.calls("micromamba")} == {w(rig.repo)}
    assert rig.mm.read_bytes() == (rig.d.bin / "micromamba.exe").read_bytes()
    assert not rig.mm.with_name("micromamba.exe.part").exists()
    assert "CUDA 13.0 chosen from the driver" in r.stdout
    assert "verify_env: PASS (double)" in r.stdout
    assert re.search(r"^PASS  channel: .*channel\s*$", r.stdout, re.MULTILINE)
    log = rig.cache / "logs" / "build_channel-1.log"
    assert "micromamba double: created" in log.read_text()  # tool output goes to the log
    assert "micromamba double: created" not in r.stdout
    assert tree(rig.repo) == before, "nothing may be written into the repository"
    assert sorted(p.name for p in rig.root.iterdir()) == [
        "cache",
        "channel",
        "doubles",
        "env",
        "repo",
    ]
    assert PAUSE_LINE not in r.stdout, "started from a console: no pause"


def test_ffcv_shell_bat_runs_micromamba_with_a_valid_command_line(rig: Rig):
    assert rig.run("--cuda", "cpu").returncode == 0
    shell = rig.prefix / "ffcv-shell.bat"
    text = shell.read_bytes().decode("ascii")
    assert "\r\n" in text and "\n" not in text.replace("\r\n", "")
    rig.d.reset_log()
    r = rig.wine.run_batch(shell, env=rig.d.env, mounts=[rig.root])
    rig.checked(r)
    assert r.returncode == 0, r.stdout + r.stderr
    assert rig.calls() == [
        ("micromamba", [*mm_common(rig), "run", "-p", windows_path(rig.prefix), "cmd.exe", "/k"])
    ]


def test_happy_path_cpu(rig: Rig):
    r = rig.run("--cuda", "cpu", "--python", "3.11")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "nvidia-smi" not in rig.progs()
    create_env, verify = rig.calls()[-2][1], rig.calls()[-1][1]
    assert create_env[-5:] == [
        "--file",
        "env\\training.txt",
        "--file",
        "env\\variant-cpu.txt",
        "python=3.11",
    ]
    assert verify[-2:] == ["--device", "cpu"]
    build = rig.runs()[1]
    assert build[build.index("--python") + 1] == "3.11"


@pytest.mark.parametrize(
    ("smi", "want"),
    [("560.94, 8.9", "12.8"), ("581.57, 6.1", "12.8"), ("590.10, 12.0", "13.0")],
)
def test_auto_cuda_follows_driver_and_gpu(rig: Rig, smi: str, want: str):
    """13.0 needs driver >= 580 and compute capability >= 7.5 (DESIGN 3); else 12.8."""
    rig.d.configure("nvidia-smi", f"out {smi}\n")
    r = rig.run("--build-only")
    assert r.returncode == 0, r.stderr
    assert "nvidia-smi" not in rig.progs(), "--build-only needs no driver"
    rig.d.reset_log()
    r = rig.run("--env-only")
    assert r.returncode == 0, r.stderr
    assert rig.progs() == [
        "nvidia-smi",
        "certutil",
        "certutil",
        "micromamba create",
        "micromamba run",
    ]
    assert f"env\\variant-cuda-{want}.txt" in rig.calls()[3][1]


def test_vs2026_selects_its_compiler_variant(rig: Rig):
    rig.d.configure("vswhere", "out 18.0.11111.16\n")
    r = rig.run("--build-only")
    assert r.returncode == 0, r.stderr
    assert rig.runs()[1][-2:] == ["--compiler", "vs2026"]


def test_second_run_downloads_and_creates_nothing(rig: Rig):
    assert rig.run().returncode == 0
    rig.d.reset_log()
    r = rig.run()
    assert r.returncode == 0, r.stderr
    assert rig.progs() == [
        "vswhere",
        "nvidia-smi",
        "micromamba run",
        "certutil",
        "certutil",
        "micromamba run",
    ]
    assert (rig.cache / "logs" / "build_channel-2.log").exists()


def test_changed_cuda_recreates_only_the_training_env(rig: Rig):
    assert rig.run("--cuda", "cpu").returncode == 0
    rig.d.reset_log()
    assert rig.run("--cuda", "12.8").returncode == 0
    assert rig.progs() == [
        "vswhere",
        "nvidia-smi",
        "micromamba run",
        "certutil",
        "certutil",
        "micromamba create",
        "micromamba run",
    ]


def test_changed_training_spec_recreates_the_env(rig: Rig):
    assert rig.run("--cuda", "cpu").returncode == 0
    rig.d.reset_log()
    rig.d.configure(
        "certutil",
        "when ~training.txt\nout hash of spec:\nout ab cd ef\nwhen -hashfile\nout x\nout 12\n",
    )
    assert rig.run("--cuda", "cpu").returncode == 0
    assert rig.progs()[-4:] == ["certutil", "certutil", "micromamba create", "micromamba run"]
    stamp = (rig.prefix / "conda-meta" / "ffcvwin-spec.txt").read_text().strip()
    assert stamp.endswith("python=3.12 abcdef-12")


def test_usage(rig: Rig):
    for flag in ("/?", "--help"):
        r = rig.run(flag, paths=False)
        assert r.returncode == 0
        assert "Usage: build_channel.cmd" in r.stdout and "34 verification failed" in r.stdout
    assert rig.calls() == []


# ---- failures: exit code and message ------------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--frobnicate"], "unknown option or missing value: --frobnicate"),
        (["--prefix"], "unknown option or missing value: --prefix"),
        (["--cuda", "11.8"], "--cuda must be auto, 12.8, 13.0 or cpu (got 11.8)"),
        (["--python", "3.9"], "--python must be 3.10, 3.11, 3.12 or 3.13 (got 3.9)"),
        (["--build-only", "--env-only"], "--build-only and --env-only exclude each other"),
        (["--env-only", "--upload", "dev"], "--upload needs the build step"),
        (["--upload", "dev/x"], "--upload label has characters other than"),
    ],
)
def test_usage_errors_exit_2(rig: Rig, args: list[str], message: str):
    r = rig.run(*args)
    assert r.returncode == 2
    assert f"ERROR: {message}" in r.stderr
    assert "fix: " in r.stderr
    assert rig.calls() == []


# Not %: Wine's cmd drops it from %~1 (test_wine_harness.py), Windows keeps it (and refuses).
@pytest.mark.parametrize("label", ["a&b", "a b", "main(x)", "c^d", "lab!el", "dev/x"])
def test_upload_label_with_shell_characters_exits_2(rig: Rig, label: str):
    r = rig.run_typed("--upload", label, env={"ANACONDA_API_TOKEN": "tok"})
    assert r.returncode == 2, r.stdout + r.stderr
    assert "--upload label has characters other than letters, digits and . _ -" in r.stderr
    assert rig.calls() == []


def test_missing_curl_exits_10(rig: Rig):
    rig.wine.remove(SYS32 + "curl.exe")
    r = rig.run()
    assert r.returncode == 10
    assert re.search(r"ERROR: C:\\windows\\System32\\curl\.exe not found", r.stderr, re.I)


def test_missing_certutil_exits_11(rig: Rig):
    rig.wine.remove(SYS32 + "certutil.exe")
    r = rig.run()
    assert r.returncode == 11
    assert "certutil.exe not found" in r.stderr


@pytest.mark.parametrize(
    ("setup", "code", "message"),
    [
        ("no-vswhere", 12, "no MSVC C++ build tools found"),
        ("no-vc-tools", 12, "no MSVC C++ build tools found"),
        ("vs2019", 13, "Visual Studio 16.x is not supported"),
    ],
)
def test_msvc_preflight(rig: Rig, setup: str, code: int, message: str):
    if setup == "no-vswhere":
        rig.wine.remove(VSWHERE)
    elif setup == "no-vc-tools":
        rig.d.configure("vswhere", "exit 0\n")  # vswhere prints nothing when -requires fails
    else:
        rig.d.configure("vswhere", "out 16.11.34601.136\n")
    r = rig.run()
    assert r.returncode == code
    assert message in r.stderr
    assert "install Visual Studio 2022" in r.stderr
    assert "curl" not in rig.progs()
    assert rig.run("--env-only", "--cuda", "cpu").returncode == 18, "env-only needs no MSVC"


@pytest.mark.parametrize(
    ("setup", "args", "code", "message"),
    [
        ("no-smi", [], 14, "no working NVIDIA driver"),
        ("smi-fails", [], 14, "no working NVIDIA driver"),
        ("smi-crashes", [], 14, "no working NVIDIA driver"),
        ("470.82, 7.5", [], 15, "CUDA 12.8 needs driver >= 525, found 470"),
        ("560.94, 8.9", ["--cuda", "13.0"], 15, "CUDA 13.0 needs driver >= 580"),
        ("581.57, 6.1", ["--cuda", "13.0"], 15, "compute capability >= 7.5, found 581 / 61"),
    ],
)
def test_driver_preflight(rig: Rig, setup: str, args: list[str], code: int, message: str):
    if setup == "no-smi":
        rig.wine.remove(SYS32 + "nvidia-smi.exe")
    elif setup == "smi-fails":
        rig.d.configure("nvidia-smi", "err NVIDIA-SMI has failed\nexit 9\n")
    elif setup == "smi-crashes":  # an access violation: a negative exit code
        rig.d.configure("nvidia-smi", "out 999.99, 9.0\nexit -1073741819\n")
    else:
        rig.d.configure("nvidia-smi", f"out {setup}\n")
    r = rig.run(*args)
    assert r.returncode == code, r.stdout + r.stderr
    assert message in r.stderr
    assert "--cuda cpu" in r.stderr
    assert "curl" not in rig.progs()


def test_old_driver_without_compute_cap_is_asked_again(rig: Rig):
    """Before compute_cap existed, nvidia-smi rejects that field (exit 2, its grammar)."""
    rig.d.configure(
        "nvidia-smi",
        "when ~compute_cap\nerr Field is not valid\nexit 2\n"
        "when --format=csv,noheader\nout 470.82\n",
    )
    r = rig.run()
    assert r.returncode == 15, r.stdout + r.stderr
    assert [a for p, a in rig.calls() if p == "nvidia-smi"] == [
        SMI_ARGS,
        ["--query-gpu=driver_version", "--format=csv,noheader"],
    ]


@pytest.mark.parametrize(
    ("option", "bad"),
    [
        ("--prefix", "with space"),
        ("--prefix", "amp&er"),
        ("--channel", "paren(x)"),
        ("--channel", "bang!x"),
        ("--cache", "caret^x"),
        ("--prefix", "caf\u00e9"),
    ],
)
def test_bad_path_characters_exit_16(rig: Rig, option: str, bad: str):
    r = rig.run_typed(option, windows_path(rig.root / bad))
    assert r.returncode == 16, r.stdout + r.stderr
    shown = windows_path(rig.root / bad) if bad.isascii() else option
    assert f"ERROR: {option} " in r.stderr and shown in r.stderr
    assert "has characters that break conda's batch scripts" in r.stderr
    assert rig.calls() == []


def test_prefix_that_is_not_a_conda_env_exits_16(rig: Rig):
    rig.prefix.mkdir()
    (rig.prefix / "precious.txt").write_text("user data")
    r = rig.run()
    assert r.returncode == 16
    assert "exists and is not a conda environment" in r.stderr
    assert (rig.prefix / "precious.txt").read_text() == "user data"


@pytest.mark.parametrize(
    ("token", "message"),
    [
        (None, "--upload needs the ANACONDA_API_TOKEN environment variable"),
        ("$(ANACONDA_API_TOKEN)", "ANACONDA_API_TOKEN holds an unexpanded pipeline macro"),
    ],
)
def test_upload_token_preflight_exits_17(rig: Rig, token: str | None, message: str):
    env = {} if token is None else {"ANACONDA_API_TOKEN": token}
    r = rig.run("--upload", "dev", env=env)
    assert r.returncode == 17, r.stdout + r.stderr
    assert message in r.stderr
    assert "curl" not in rig.progs()


def test_env_only_with_empty_channel_exits_18(rig: Rig):
    r = rig.run("--env-only")
    assert r.returncode == 18
    assert "holds no built packages" in r.stderr


# ---- download: failure, mismatch, interruption --------------------------------------------------
def test_curl_failure_exits_20_and_promotes_nothing(rig: Rig):
    rig.d.configure("curl", "err curl: (6) Could not resolve host\nexit 6\n")
    r = rig.run()
    assert r.returncode == 20
    assert f"download of {MM_URL} failed" in r.stderr
    assert not rig.mm.exists()
    assert "certutil" not in rig.progs()


def test_checksum_mismatch_exits_21_and_removes_the_part_file(rig: Rig):
    rig.d.configure("certutil", "out SHA256 hash of x:\nout " + "0" * 64 + "\nout done\n")
    r = rig.run()
    assert r.returncode == 21
    assert f"got {'0' * 64}, expected {MM_SHA}" in r.stderr
    assert not rig.mm.exists()
    assert not rig.mm.with_name("micromamba.exe.part").exists()
    assert "micromamba" not in rig.progs()


@pytest.mark.parametrize("spaced", [True, False], ids=["older-windows-10", "newer-windows"])
def test_certutil_digest_with_or_without_spaces_is_accepted(rig: Rig, spaced: bool):
    """Older Windows 10 certutil prints the digest in byte pairs, newer ones without spaces."""
    digest = " ".join(MM_SHA[i : i + 2] for i in range(0, 64, 2)).upper() if spaced else MM_SHA
    rig.d.configure("certutil", f"out SHA256 hash of x:\nout {digest}\nout done\n")
    assert rig.run("--build-only").returncode == 0


def test_interrupted_download_restarts_cleanly(rig: Rig):
    payload = (rig.d.bin / "micromamba.exe").read_bytes()
    # 1: the connection drops after 4 KiB (curl exit 18, partial file).
    rig.d.configure(
        "curl",
        f"when -o\ncopy {windows_path(rig.d.bin / 'micromamba.exe')}|{{after:-o}}|4096\nexit 18\n",
    )
    assert rig.run().returncode == 20
    part = rig.mm.with_name("micromamba.exe.part")
    assert part.stat().st_size == 4096 and not rig.mm.exists()
    # 2: the next run starts the download afresh and completes.
    rig.d.configure(
        "curl", f"when -o\ncopy {windows_path(rig.d.bin / 'micromamba.exe')}|{{after:-o}}\n"
    )
    rig.d.reset_log()
    r = rig.run()
    assert r.returncode == 0, r.stderr
    assert hashlib.sha256(rig.mm.read_bytes()).digest() == hashlib.sha256(payload).digest()
    assert not part.exists()


# ---- environments are recorded as done only once proven usable ----------------------------------
def test_interrupted_env_create_is_redone(rig: Rig):
    """A create that dies midway leaves conda-meta without our marker: remove, create again."""
    rig.d.configure(
        "micromamba",
        "when create\nwrite {after:-p}\\conda-meta\\history|partial\n"
        "write {after:-p}\\half-extracted.txt|x\nexit 1\n",
    )
    assert rig.run("--build-only").returncode == 30
    benv = rig.cache / "build-env"
    assert (benv / "half-extracted.txt").exists()
    rig.d.configure("micromamba", MICROMAMBA_HAPPY)
    rig.d.reset_log()
    assert rig.run("--build-only").returncode == 0
    assert not (benv / "half-extracted.txt").exists()
    assert (benv / "conda-meta" / "ffcvwin-spec.txt").exists()
    assert rig.progs() == ["vswhere", "micromamba create", "micromamba run", "micromamba run"]


@pytest.mark.parametrize(
    "create",
    [
        "exit 0",  # micromamba returns 0 when Ctrl-C interrupts it (micromamba/src/main.cpp)
        "exit -1073741819",  # a crash: NTSTATUS access violation, negative; errorlevel 1 misses it
    ],
    ids=["ctrl-c-exit-0", "crash-negative-exit"],
)
def test_unusable_build_env_is_never_recorded(rig: Rig, create: str):
    rig.d.configure(
        "micromamba",
        f"when create\nwrite {{after:-p}}\\conda-meta\\history|partial\n{create}\n"
        "when run ~conda_build.cli.main_build\n"
        "err ModuleNotFoundError: No module named conda_build\nexit 1\n" + MICROMAMBA_HAPPY,
    )
    r = rig.run("--build-only")
    assert r.returncode == 30, r.stdout + r.stderr
    benv = rig.cache / "build-env"
    assert not (benv / "conda-meta" / "ffcvwin-spec.txt").exists()
    assert "build_recipes.py" not in " ".join(" ".join(c) for c in rig.runs())
    rig.d.configure("micromamba", MICROMAMBA_HAPPY)
    rig.d.reset_log()
    assert rig.run("--build-only").returncode == 0
    assert rig.progs()[1] == "micromamba create", "the unproven env is made again"


def test_training_env_is_recorded_only_after_verification_passes(rig: Rig):
    rig.d.configure(
        "micromamba",
        "when run ~verify_env.py\nout verify_env: FAIL import\nexit 1\n" + MICROMAMBA_HAPPY,
    )
    r = rig.run("--cuda", "cpu")
    assert r.returncode == 34, r.stdout + r.stderr
    assert "the env will be re-created next time" in r.stderr
    assert not (rig.prefix / "conda-meta" / "ffcvwin-spec.txt").exists()
    rig.d.configure("micromamba", MICROMAMBA_HAPPY)
    rig.d.reset_log()
    assert rig.run("--cuda", "cpu").returncode == 0
    assert rig.progs()[-2:] == ["micromamba create", "micromamba run"]
    assert (rig.prefix / "conda-meta" / "ffcvwin-spec.txt").exists()
    rig.d.reset_log()
    assert rig.run("--cuda", "cpu").returncode == 0
    assert "micromamba create" not in rig.progs(), "a verified env is kept"


def test_foreign_conda_env_at_prefix_is_refused_and_kept(rig: Rig):
    (rig.prefix / "conda-meta").mkdir(parents=True)
    (rig.prefix / "conda-meta" / "history").write_text("someone else's env")
    r = rig.run()
    assert r.returncode == 16
    assert "is a conda environment that build_channel.cmd did not create" in r.stderr
    assert (rig.prefix / "conda-meta" / "history").read_text() == "someone else's env"
    assert "curl" not in rig.progs()


# ---- later steps fail ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("rule", "code", "message"),
    [
        ("when create\nexit 1\n", 30, "micromamba create -p"),
        ("when run ~build_recipes.py\nexit 31\n", 31, "building the recipes failed (exit 31)"),
        ("when run ~build_recipes.py\nexit 32\n", 32, "upload to anaconda.org failed"),
        ("when create ~training.txt\nexit 1\n", 33, "micromamba create -p"),
        ("when run ~verify_env.py\nout verify_env: FAIL dlls\nexit 1\n", 34, ""),
    ],
)
def test_later_step_failures(rig: Rig, rule: str, code: int, message: str):
    rig.d.configure("micromamba", rule + MICROMAMBA_HAPPY)  # the first matching rule wins
    r = rig.run("--cuda", "cpu")
    assert r.returncode == code, r.stdout + r.stderr
    assert message in r.stderr
    if code == 34:
        assert "verify_env: FAIL dlls" in r.stdout, "the verification summary is shown"
        assert "verification FAILED" in r.stderr


# ---- one run per cache, long paths, disk space --------------------------------------------------
def test_second_run_on_the_same_cache_is_refused(rig: Rig, doubles: Doubles):
    """A run holds <cache>\\build_channel.lock open; a second run's open of it fails.

    The first run is played by a program holding the file without sharing (Wine's cmd.exe opens
    redirections shareable, Windows' does not, so two Wine cmd.exe would not conflict). Windows
    releases the handle when the holder dies, so a crashed run leaves no stale lock.
    """
    holder = doubles.make(rig.d.bin, "holder", grammarless=True)  # stands for a running script
    rig.cache.mkdir()
    holder.configure("holder", f"hold {windows_path(rig.cache / 'build_channel.lock')}|8000\n")
    script = windows_path(rig.repo / "build_channel.cmd")
    wrapper = rig.root / "two.bat"
    args = " ".join(rig.default_args())
    wrapper.write_bytes(
        (
            "@echo off\r\n"
            f'start "" /b "{windows_path(holder.bin / "holder.exe")}"\r\n'
            "ping -n 2 127.0.0.1 >nul\r\n"
            f'call "{script}" {args}\r\n'
            "exit /b %ERRORLEVEL%\r\n"
        ).encode()
    )
    r = rig.wine.run_batch(wrapper, env=rig.env(None), mounts=[rig.root])
    assert r.returncode == 19, r.stdout + r.stderr
    assert "another build_channel.cmd is running with the cache" in r.stderr
    assert rig.progs() == ["holder"] and not list((rig.cache / "logs").glob("*.log"))
    # Once the holder is gone the lock is free again.
    rig.wine.restart()
    assert rig.run("--cuda", "cpu").returncode == 0


@pytest.fixture
def long_paths_off(wine: WineChroot) -> Iterator[None]:
    set_long_paths(wine, 0)
    try:
        yield
    finally:
        set_long_paths(wine, 1)


@pytest.mark.usefixtures("long_paths_off")
def test_long_paths_disabled_refuses_deep_folders_early(rig: Rig):
    r = rig.run()  # pytest's tmp_path is far deeper than 25 characters
    assert r.returncode == 23, r.stdout + r.stderr
    assert "is too long" in r.stderr and "LongPathsEnabled" in r.stderr
    assert "curl" not in rig.progs()


@pytest.mark.usefixtures("long_paths_off")
def test_long_paths_disabled_accepts_short_folders(rig: Rig):
    short = Path(f"/tmp/lp{rig.root.name[-6:]}")
    short.mkdir()
    try:
        args = ["--cache", windows_path(short / "c"), "--prefix", windows_path(short / "e")]
        args += ["--channel", windows_path(rig.channel), "--cuda", "cpu"]
        r = rig.wine.run_batch(
            rig.repo / "build_channel.cmd", args, env=rig.env(None), mounts=[rig.root, short]
        )
        rig.checked(r)
        assert r.returncode == 0, r.stdout + r.stderr
    finally:
        shutil.rmtree(short)


@pytest.mark.parametrize(
    ("folder", "limit"),
    [("prefix", 73), ("cache", 25)],
)
@pytest.mark.usefixtures("long_paths_off")
def test_long_path_limits(rig: Rig, folder: str, limit: int):
    """259 - 185 (the env's longest file) - 1 for the prefix; 45 and \\p\\ less for the cache."""
    short = Path(f"/tmp/lq{rig.root.name[-6:]}")
    base = windows_path(short)  # Z:\tmp\lqXXXXXX
    short.mkdir()
    try:
        paths = {"prefix": base + "\\e", "cache": base + "\\c"}
        for length, ok in ((limit, True), (limit + 1, False)):
            paths[folder] = base + "\\" + "x" * (length - len(base) - 1)
            assert len(paths[folder]) == length
            args = ["--cache", paths["cache"], "--prefix", paths["prefix"], "--env-only"]
            args += ["--channel", windows_path(rig.channel), "--cuda", "cpu"]
            r = rig.wine.run_batch(
                rig.repo / "build_channel.cmd", args, env=rig.env(None), mounts=[rig.root, short]
            )
            # --env-only on an empty channel stops at 18 once the path checks passed.
            assert r.returncode == (18 if ok else 23), (length, r.stdout + r.stderr)
    finally:
        shutil.rmtree(short)


def test_too_little_disk_space_is_reported_before_any_download(rig: Rig):
    rig.cache.mkdir()
    rig.wine.mount(rig.root)  # first: a later bind of the parent would hide the tmpfs
    rig.wine.mount_tmpfs(rig.cache, "64m")
    r = rig.run("--cuda", "cpu", env={"FFCVWIN_MIN_FREE_GB": None})  # the real figure
    assert r.returncode == 22, r.stdout + r.stderr
    assert "only 0 GB free on the drive of" in r.stderr and "needs about 4 GB" in r.stderr
    assert "curl" not in rig.progs()


# ---- paths, colour, verbosity, code page, Explorer, secrets -------------------------------------
def test_repository_path_with_special_characters(rig: Rig, tmp_path: Path):
    """Spaces, & ( ) ! ^ in the repository path: the script itself copes.

    Not %: Wine 10's cmd drops % from %~dp0 and %~1 values (Windows keeps it; see
    test_wine_harness.py::test_wine_drops_percent_from_parameters), so Wine cannot show it.
    """
    odd = make_repo(tmp_path / "a b&c (d) e!f ^g" / "repo")
    r = rig.wine.run_batch(
        odd / "build_channel.cmd", rig.default_args(), env=rig.env(None), mounts=[rig.root]
    )
    rig.checked(r)
    assert r.returncode == 0, r.stdout + r.stderr
    assert {c["cwd"] for c in rig.d.calls("micromamba")} == {windows_path(odd)}
    # With the defaults (channel, env and cache inside that repository) it refuses early.
    rig.d.reset_log()
    r = rig.wine.run_batch(odd / "build_channel.cmd", env=rig.env(None))
    assert r.returncode == 16
    assert f"--channel {windows_path(odd / 'channel')} has characters" in r.stderr
    assert "[ & () ! ^]" in r.stderr
    assert rig.calls() == []


def test_colour_only_on_the_console_never_in_the_log(rig: Rig):
    colour = rig.env({"NO_COLOR": None})
    r = rig.wine.run_batch(
        rig.repo / "build_channel.cmd", rig.default_args(), env=colour, mounts=[rig.root]
    )
    rig.checked(r)
    assert r.returncode == 0
    assert "\x1b[32mPASS\x1b[0m" in r.stdout
    assert "\x1b" not in rig.log_text() and "PASS  channel:" in rig.log_text()
    rig.d.configure("micromamba", "when run ~verify_env.py\nexit 1\n" + MICROMAMBA_HAPPY)
    r = rig.wine.run_batch(
        rig.repo / "build_channel.cmd", rig.default_args(), env=colour, mounts=[rig.root]
    )
    assert r.returncode == 34 and "\x1b[31mERROR\x1b[0m" in r.stderr
    assert "\x1b" not in rig.log_text() and "ERROR: verification FAILED" in rig.log_text()
    r = rig.run("--no-color")
    assert "\x1b" not in r.stdout + r.stderr
    r = rig.run()  # NO_COLOR=1 in the environment
    assert "\x1b" not in r.stdout + r.stderr


def test_verbose_shows_tool_output(rig: Rig):
    r = rig.run("-v", "--cuda", "cpu")
    assert r.returncode == 0
    assert "micromamba double: created" in r.stdout


def test_programs_started_see_a_clean_environment(rig: Rig):
    """What the script's own variables and the user's shell could leak into micromamba run and,
    through it, conda-build and MSVC: CL (cl prepends it to its arguments), CC and RC (CMake),
    CONDA_BAT (micromamba run would activate through a user's conda), TEMP outside the cache."""
    names = ("CL", "CC", "RC", "CONDA_BAT", "DIRCMD", "MAMBA_NO_RC", "TEMP", "TMP")
    shown = " ".join(f"{n}=[{{env:{n}}}]" for n in names)
    rig.d.configure("micromamba", f"when run ~verify_env.py\nout env: {shown}\n" + MICROMAMBA_HAPPY)
    user = {"CONDA_BAT": "C:\\u\\condabin\\conda.bat", "DIRCMD": "/b /p", "CL": "/DUSER"}
    r = rig.run("--cuda", "cpu", env=user)
    assert r.returncode == 0, r.stdout + r.stderr
    line = next(x for x in r.stdout.splitlines() if x.startswith("env: "))
    tmp = windows_path(rig.cache / "tmp")
    want = "CL=[/DUSER] CC=[] RC=[] CONDA_BAT=[] DIRCMD=[] MAMBA_NO_RC=[true] "
    want += f"TEMP=[{tmp}] TMP=[{tmp}]"
    assert line == "env: " + want, "the user's own CL passes; nothing of the script's leaks"


def test_code_page_is_restored_after_every_micromamba_run(rig: Rig, doubles: Doubles):
    """micromamba run's wrapper .bat switches the console to 65001 (libmamba core/util.cpp)."""
    chcp = doubles.make(rig.d.bin, "chcp")
    chcp.configure("chcp", "out Active code page: 437\nwhen 437\nexit 0\n")
    rig.wine.install(chcp.bin / "chcp.exe", SYS32 + "chcp.com")
    try:
        assert rig.run("--cuda", "cpu").returncode == 0
    finally:
        rig.wine.remove(SYS32 + "chcp.com")
    seq = [(p, a) for p, a in rig.calls() if p in ("chcp", "micromamba")]
    assert seq[0] == ("chcp", []), "the code page is read first"
    runs = [i for i, (p, a) in enumerate(seq) if p == "micromamba" and "run" in a]
    assert len(runs) == 3
    for i in runs:
        assert seq[i + 1] == ("chcp", ["437"]), seq


@pytest.mark.parametrize(
    ("env", "pauses"),
    [({}, True), ({"TF_BUILD": "True"}, False), ({"CI": "true"}, False)],
    ids=["explorer", "azure", "ci"],
)
def test_started_from_explorer_the_window_waits_for_a_key(
    rig: Rig, env: dict[str, str], pauses: bool
):
    explorer = EXPLORER.format(script=windows_path(rig.repo / "build_channel.cmd"))
    e = rig.env({"CMDCMDLINE": explorer, **env})  # Explorer's command line (cmd.exe /c)
    # Double-clicked, the defaults apply: the repository's own folders.
    r = rig.wine.run_batch(rig.repo / "build_channel.cmd", env=e, mounts=[rig.root])
    rig.checked(r)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (PAUSE_LINE in r.stdout) is pauses
    # An early refusal is shown too (a bad option: no log yet).
    r = rig.wine.run_batch(rig.repo / "build_channel.cmd", ["--cuda", "9"], env=e)
    assert r.returncode == 2 and (PAUSE_LINE in r.stdout) is pauses


def test_upload_builds_every_python_and_never_prints_the_token(rig: Rig):
    secret = "tok-4f9a1c-SECRET"
    rig.d.configure(
        "micromamba",
        "when run ~build_recipes.py\nwrite {after:--channel}\\noarch\\repodata.json|{}\n"
        "write {after:--channel}\\seen-binstar.txt|[{env:BINSTAR_API_TOKEN}]\n" + MICROMAMBA_HAPPY,
    )
    env = {"ANACONDA_API_TOKEN": secret, "BINSTAR_API_TOKEN": "stale-old-token"}
    r = rig.run("--cuda", "cpu", "--upload", "dev", env=env)
    assert r.returncode == 0, r.stderr
    build = rig.runs()[1]
    pythons = [build[i + 1] for i, a in enumerate(build) if a == "--python"]
    assert pythons == ["3.10", "3.11", "3.12", "3.13"]
    assert build[-2:] == ["--upload-label", "dev"]
    assert (rig.channel / "seen-binstar.txt").read_text().strip() == "[]", "stale token removed"
    logs = rig.log_text()
    assert secret not in r.stdout + r.stderr + logs + rig.d.log.read_text()
    rig.d.reset_log()
    assert rig.run("--cuda", "cpu").returncode == 0
    build = rig.runs()[0]
    assert [a for a in build if a.startswith("3.")] == ["3.12"], "a local build: one Python"


# ---- ci/lint_recipes.cmd ------------------------------------------------------------------------
def test_lint_recipes_reuses_only_a_completed_lint_env(rig: Rig):
    lint_repo = rig.root / "lintrepo"
    (lint_repo / "ci").mkdir(parents=True)
    shutil.copyfile(REPO / "ci" / "lint_recipes.cmd", lint_repo / "ci" / "lint_recipes.cmd")
    (lint_repo / "recipes" / "ffcv").mkdir(parents=True)
    mm_dir = lint_repo / ".cache" / f"micromamba-{MM_VER}"
    mm_dir.mkdir(parents=True)
    shutil.copyfile(rig.d.bin / "micromamba.exe", mm_dir / "micromamba.exe")
    lint = lint_repo / "ci" / "lint_recipes.cmd"
    root = windows_path(lint_repo / ".cache" / "mamba")
    lintenv = windows_path(lint_repo / ".cache" / "lint-env")
    # 1: the create is interrupted (exit 0, nothing usable): no marker, exit 1.
    rig.d.configure(
        "micromamba",
        "when create\nwrite {after:-p}\\conda-meta\\history|partial\n"
        "when --version\nerr conda-smithy: not found\nexit 1\n",
    )
    r = rig.checked(rig.wine.run_batch(lint, env=rig.d.env, mounts=[rig.root]))
    assert r.returncode == 1 and "conda-smithy does not run" in r.stderr
    # 2: the next run starts the env again, proves it, lints.
    rig.d.configure("micromamba", "when create\nwrite {after:-p}\\conda-meta\\history|ok\n")
    rig.d.reset_log()
    r = rig.checked(rig.wine.run_batch(lint, env=rig.d.env, mounts=[rig.root]))
    assert r.returncode == 0, r.stdout + r.stderr
    recipe = windows_path(lint_repo / "recipes" / "ffcv")
    assert rig.calls() == [
        (
            "micromamba",
            [
                "--no-rc",
                "-r",
                root,
                "create",
                "-y",
                "-p",
                lintenv,
                "--no-shortcuts",
                "--override-channels",
                "-c",
                "conda-forge",
                "conda-smithy=2026.8.5",
            ],
        ),
        ("micromamba", ["--no-rc", "-r", root, "run", "-p", lintenv, "conda-smithy", "--version"]),
        (
            "micromamba",
            ["--no-rc", "-r", root, "run", "-p", lintenv, "conda-smithy", "recipe-lint", recipe],
        ),
    ]
    # 3: completed: reused.
    rig.d.reset_log()
    assert rig.checked(rig.wine.run_batch(lint, env=rig.d.env, mounts=[rig.root])).returncode == 0
    assert rig.progs() == ["micromamba run"]
