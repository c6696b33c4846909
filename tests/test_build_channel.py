"""build_channel.cmd under Wine 10 with test doubles (DESIGN.md 5.1, 5.2, 5.7).

Doubles stand in for programs that cannot exist on Linux CI, each because it is Windows-only or
unreachable here: curl.exe and certutil.exe (Windows inbox tools; Wine's certutil is a stub),
vswhere.exe (Visual Studio Installer), nvidia-smi.exe (NVIDIA driver), micromamba.exe (the
pinned download from GitHub, unreachable here; the curl double "downloads" the micromamba
double). The doubles log their argv, so each test asserts the exact program sequence.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
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
BUILD_SPEC = ["-c", "conda-forge", "python=3.12", "conda-build=26.3.0", "anaconda-client"]
SMI_ARGS = ["--query-gpu=driver_version,compute_cap", "--format=csv,noheader"]

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

    def run(
        self, *args: str, paths: bool = True, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        full = [*(self.default_args() if paths else []), *args]
        e = {**self.d.env, "NO_COLOR": "1", **(env or {})}
        return self.wine.run_batch(
            self.repo / "build_channel.cmd", full, env=e, mounts=[self.root], timeout=120
        )

    def run_typed(
        self, *args: str, env: dict[str, str] | None = None
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
        e = {**self.d.env, "NO_COLOR": "1", **(env or {})}
        return self.wine.run_batch(wrapper, env=e, cwd=self.repo, mounts=[self.root])

    def calls(self) -> list[tuple[str, list[str]]]:
        return [(str(c["prog"]), list(c["argv"])) for c in self.d.calls()]  # type: ignore[call-overload]

    def progs(self) -> list[str]:
        """Program names, with micromamba's subcommand: ``micromamba create``."""
        out = []
        for prog, argv in self.calls():
            out.append(f"{prog} {argv[0]}" if prog == "micromamba" else prog)
        return out


def make_repo(dest: Path) -> Path:
    """The files build_channel.cmd refers to, copied byte for byte."""
    dest.mkdir(parents=True)
    shutil.copyfile(SCRIPT, dest / "build_channel.cmd")
    (dest / "scripts").mkdir()
    for name in ("build_recipes.py", "verify_env.py"):
        src = REPO / "scripts" / name
        (dest / "scripts" / name).write_bytes(src.read_bytes() if src.exists() else b"")
    (dest / "env").mkdir()
    spec = REPO / "env" / "training.txt"
    (dest / "env" / "training.txt").write_bytes(spec.read_bytes() if spec.exists() else b"ffcv\n")
    (dest / "recipes").mkdir()
    return dest


def install_doubles(wine: WineChroot, d: DoubleSet) -> None:
    for name in ("curl", "certutil", "nvidia-smi"):
        wine.install(d.bin / f"{name}.exe", SYS32 + f"{name}.exe")
    wine.install(d.bin / "vswhere.exe", VSWHERE)


@pytest.fixture
def rig(wine: WineChroot, doubles: Doubles, tmp_path: Path) -> Rig:
    d = doubles.make(tmp_path / "doubles", "curl", "certutil", "vswhere", "nvidia-smi")
    shutil.copyfile(doubles.exe, d.bin / "micromamba.exe")  # the curl double's payload
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
    return ["--no-rc", "-r", windows_path(rig.cache / "mamba")]


# ---- happy paths -------------------------------------------------------------------------------
def test_happy_path_gpu_auto_picks_cuda13(rig: Rig):
    before = tree(rig.repo)
    r = rig.run()
    assert r.returncode == 0, r.stdout + r.stderr
    w = windows_path
    benv = w(rig.cache / "build-env")
    mm = mm_common(rig)
    assert rig.calls() == [
        ("vswhere", VSWHERE_ARGS),
        ("nvidia-smi", SMI_ARGS),
        ("curl", ["-fL", "--retry", "3", "--retry-delay", "2", "-o", w(rig.mm) + ".part", MM_URL]),
        ("certutil", ["-hashfile", w(rig.mm) + ".part", "SHA256"]),
        ("micromamba", ["create", "-y", *mm, "-p", benv, "--override-channels", *BUILD_SPEC]),
        (
            "micromamba",
            [
                *["run", *mm, "-p", benv, "python", "scripts\\build_recipes.py"],
                *["--recipes", "recipes", "--channel", w(rig.channel), "--python", "3.12"],
                *["--compiler", "vs2022"],
            ],
        ),
        ("certutil", ["-hashfile", "env\\training.txt", "SHA256"]),
        (
            "micromamba",
            [
                *["create", "-y", *mm, "-p", w(rig.prefix), "--override-channels"],
                *["-c", w(rig.channel), "-c", "conda-forge", "--strict-channel-priority"],
                *[
                    "--file",
                    "env\\training.txt",
                    "python=3.12",
                    "pytorch=*=cuda*",
                    "cuda-version=13.0",
                ],
            ],
        ),
        (
            "micromamba",
            [
                "run",
                *mm,
                "-p",
                w(rig.prefix),
                "python",
                "scripts\\verify_env.py",
                "--device",
                "cuda",
            ],
        ),
    ]
    # micromamba run starts in the repository, so relative script paths resolve there.
    assert {c["cwd"] for c in rig.d.calls("micromamba")} == {w(rig.repo)}
    assert rig.mm.read_bytes() == (rig.d.bin / "micromamba.exe").read_bytes()
    assert not rig.mm.with_name("micromamba.exe.part").exists()
    assert (rig.prefix / "ffcv-shell.bat").read_text().strip() == (
        f'@"{w(rig.mm)}" run --no-rc -r "{w(rig.cache / "mamba")}" -p "{w(rig.prefix)}" cmd.exe /k'
    )
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


def test_happy_path_cpu(rig: Rig):
    r = rig.run("--cuda", "cpu", "--python", "3.11")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "nvidia-smi" not in rig.progs()
    create_env, verify = rig.calls()[-2][1], rig.calls()[-1][1]
    assert create_env[-3:] == ["env\\training.txt", "python=3.11", "pytorch=*=cpu*"]
    assert verify[-2:] == ["--device", "cpu"]
    build = rig.calls()[-4][1]
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
    assert rig.progs() == ["nvidia-smi", "certutil", "micromamba create", "micromamba run"]
    assert rig.calls()[2][1][-1] == f"cuda-version={want}"


def test_vs2026_selects_its_compiler_variant(rig: Rig):
    rig.d.configure("vswhere", "out 18.0.11111.16\n")
    r = rig.run("--build-only")
    assert r.returncode == 0, r.stderr
    build = next(a for p, a in rig.calls() if p == "micromamba" and a[0] == "run")
    assert build[-2:] == ["--compiler", "vs2026"]


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
        "micromamba create",
        "micromamba run",
    ]


def test_changed_training_spec_recreates_the_env(rig: Rig):
    assert rig.run("--cuda", "cpu").returncode == 0
    rig.d.reset_log()
    rig.d.configure("certutil", "when ~training.txt\nout hash of spec:\nout ab cd ef\n")
    assert rig.run("--cuda", "cpu").returncode == 0
    assert rig.progs()[-3:] == ["certutil", "micromamba create", "micromamba run"]
    stamp = (rig.prefix / "conda-meta" / "ffcvwin-spec.txt").read_text().strip()
    assert stamp.endswith("pytorch=*=cpu* abcdef")


def test_usage(rig: Rig):
    for flag in ("/?", "--help"):
        r = rig.run(flag, paths=False)
        assert r.returncode == 0
        assert "Usage: build_channel.cmd" in r.stdout and "34 verification failed" in r.stdout
    assert rig.calls() == []


# ---- failures: exit code and message -----------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--frobnicate"], "unknown option or missing value: --frobnicate"),
        (["--prefix"], "unknown option or missing value: --prefix"),
        (["--cuda", "11.8"], "--cuda must be auto, 12.8, 13.0 or cpu (got 11.8)"),
        (["--python", "3.9"], "--python must be 3.10, 3.11, 3.12 or 3.13 (got 3.9)"),
        (["--build-only", "--env-only"], "--build-only and --env-only exclude each other"),
        (["--env-only", "--upload", "dev"], "--upload needs the build step"),
    ],
)
def test_usage_errors_exit_2(rig: Rig, args: list[str], message: str):
    r = rig.run(*args)
    assert r.returncode == 2
    assert f"ERROR: {message}" in r.stderr
    assert "fix: " in r.stderr
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
    else:
        rig.d.configure("nvidia-smi", f"out {setup}\n")
    r = rig.run(*args)
    assert r.returncode == code, r.stdout + r.stderr
    assert message in r.stderr
    assert "--cuda cpu" in r.stderr
    assert "curl" not in rig.progs()


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


def test_upload_without_token_exits_17(rig: Rig):
    r = rig.run("--upload", "dev")
    assert r.returncode == 17
    assert "ANACONDA_API_TOKEN" in r.stderr


def test_env_only_with_empty_channel_exits_18(rig: Rig):
    r = rig.run("--env-only")
    assert r.returncode == 18
    assert "holds no built packages" in r.stderr


# ---- download: failure, mismatch, interruption ---------------------------------------------------
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


def test_certutil_with_spaced_digest_is_accepted(rig: Rig):
    """Older certutil prints the digest in byte pairs; spaces are removed before comparing."""
    spaced = " ".join(MM_SHA[i : i + 2] for i in range(0, 64, 2)).upper()
    rig.d.configure("certutil", f"out SHA256 hash of x:\nout {spaced}\nout done\n")
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
    assert rig.progs() == ["vswhere", "micromamba create", "micromamba run"]


def test_foreign_conda_env_at_prefix_is_refused_and_kept(rig: Rig):
    (rig.prefix / "conda-meta").mkdir(parents=True)
    (rig.prefix / "conda-meta" / "history").write_text("someone else's env")
    r = rig.run()
    assert r.returncode == 16
    assert "is a conda environment that build_channel.cmd did not create" in r.stderr
    assert (rig.prefix / "conda-meta" / "history").read_text() == "someone else's env"
    assert "curl" not in rig.progs()


# ---- later steps fail ----------------------------------------------------------------------------
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


# ---- paths, colour, verbosity, secrets -----------------------------------------------------------
def test_repository_path_with_special_characters(rig: Rig, tmp_path: Path):
    """Spaces, & ( ) ! ^ in the repository path: the script itself copes.

    Not %: Wine 10's cmd drops % from %~dp0 and %~1 values (Windows keeps it; see
    test_wine_harness.py::test_wine_drops_percent_from_parameters), so Wine cannot show it.
    """
    odd = make_repo(tmp_path / "a b&c (d) e!f ^g" / "repo")
    r = rig.wine.run_batch(
        odd / "build_channel.cmd",
        rig.default_args(),
        env={**rig.d.env, "NO_COLOR": "1"},
        mounts=[rig.root],
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert {c["cwd"] for c in rig.d.calls("micromamba")} == {windows_path(odd)}
    # With the defaults (channel, env and cache inside that repository) it refuses early.
    rig.d.reset_log()
    r = rig.wine.run_batch(odd / "build_channel.cmd", env={**rig.d.env, "NO_COLOR": "1"})
    assert r.returncode == 16
    assert f"--channel {windows_path(odd / 'channel')} has characters" in r.stderr
    assert "[ & () ! ^]" in r.stderr
    assert rig.calls() == []


def test_colour_only_without_no_color(rig: Rig):
    e = rig.d.env
    r = rig.wine.run_batch(rig.repo / "build_channel.cmd", rig.default_args(), env=e)
    assert r.returncode == 0
    assert "\x1b[32mPASS\x1b[0m" in r.stdout
    r = rig.run("--no-color")
    assert "\x1b" not in r.stdout + r.stderr
    r = rig.run()  # NO_COLOR=1 in the environment
    assert "\x1b" not in r.stdout + r.stderr


def test_verbose_shows_tool_output(rig: Rig):
    r = rig.run("-v", "--cuda", "cpu")
    assert r.returncode == 0
    assert "micromamba double: created" in r.stdout


def test_upload_passes_label_and_never_prints_the_token(rig: Rig):
    secret = "tok-4f9a1c-SECRET"
    r = rig.run("--cuda", "cpu", "--upload", "dev", env={"ANACONDA_API_TOKEN": secret})
    assert r.returncode == 0, r.stderr
    build = next(a for p, a in rig.calls() if p == "micromamba" and a[0] == "run")
    assert build[-2:] == ["--upload-label", "dev"]
    logs = "".join(p.read_text() for p in (rig.cache / "logs").glob("*.log"))
    assert secret not in r.stdout + r.stderr + logs + rig.d.log.read_text()
