"""The doubles reject what the real programs reject (DESIGN.md 5.2).

Every double carries its program's grammar, taken from the program's source or manual and cited
in the grammar file (tests/doubles/grammars). Each test here runs a double on calls the real
program accepts and on calls it rejects - among them the old ``micromamba run --no-rc ...`` that
would have killed every first Windows run - and checks the exit code the real program gives.
Where the real program exists on this machine (curl, CPython), the same calls run through it too,
so the grammar cannot drift from the program. conda build and anaconda upload are checked
against the add_argument calls in their released source, re-read from the wheels.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from harness.wine import WineChroot, windows_path
from harness.wine_fixtures import DOUBLES, Doubles

sys.path.insert(0, str(DOUBLES))
import argparse_double

REPO = Path(__file__).resolve().parent.parent
CERTUTIL_E_INVALIDARG = -2147024809  # 0x80070057


def run_cases(
    wine: WineChroot, doubles: Doubles, tmp_path: Path, prog: str, cases: list[list[str]]
) -> tuple[list[int], list[dict[str, object]]]:
    """Run the double once per case from one batch file; return the full exit codes (cmd's
    %ERRORLEVEL%, not Linux's modulo 256) and the logged calls."""
    d = doubles.make(tmp_path / "bin", prog)
    lines = ["@echo off"]
    for i, argv in enumerate(cases):
        args = " ".join(f'"{a}"' if " " in a or not a else a for a in argv)
        lines += [
            f'"{windows_path(d.bin / (prog + ".exe"))}" {args} >nul 2>&1',
            f"echo {i}=%ERRORLEVEL%",
        ]
    script = tmp_path / "cases.bat"
    script.write_bytes(("\r\n".join([*lines, "exit /b 0"]) + "\r\n").encode("ascii"))
    r = wine.run_batch(script, env=d.env, cwd=tmp_path)
    codes = dict(line.split("=", 1) for line in r.stdout.split() if "=" in line)
    assert len(codes) == len(cases), r.stdout + r.stderr
    return [int(codes[str(i)]) for i in range(len(cases))], d.calls()


def check(
    wine: WineChroot,
    doubles: Doubles,
    tmp_path: Path,
    prog: str,
    cases: list[tuple[list[str], int]],
) -> list[dict[str, object]]:
    got, calls = run_cases(wine, doubles, tmp_path, prog, [argv for argv, _ in cases])
    for (argv, want), code, call in zip(cases, got, calls, strict=True):
        assert code == want, f"{prog} {argv}: exit {code}, the real program gives {want}"
        assert ("error" in call) is (want != 0), (argv, call)
    return calls


R, P = "C:\\r", "C:\\p"
MICROMAMBA_CASES = [
    # accepted: global options before the subcommand, the form build_channel.cmd uses
    (
        [
            "--no-rc",
            "-r",
            R,
            "create",
            "-y",
            "-p",
            P,
            "--no-shortcuts",
            "--override-channels",
            "-c",
            "conda-forge",
            "python=3.12",
            "conda-build=26.3.0",
        ],
        0,
    ),
    (["--no-rc", "-r", R, "run", "-p", P, "python", "scripts\\x.py", "--channel", "C:\\c"], 0),
    (["--no-rc", "-r", R, "run", "-p", P, "python", "-c", "import a, b"], 0),
    # create defines the general options itself, so after create they are valid too
    (["create", "-y", "--no-rc", "-r", R, "-p", P, "--override-channels", "-c", "x", "y"], 0),
    # after the command, words belong to the command
    (["-r", R, "run", "-p", P, "python", "--no-rc", "-q"], 0),
    # CLI11: combined short flags, attached values, --name=value
    (["create", "-yq", "-pC:\\p", "--file=env\\t.txt", "--channel-priority=strict", "x"], 0),
    # rejected: the old form - run has no --no-rc, so "--no-rc" is the program to run (cmd: 9009)
    (["run", "--no-rc", "-r", R, "-p", P, "python", "x.py"], 9009),
    (["run", "-p", P, "--no-rc", "python"], 9009),
    (["run", "-p", P, "-d", "python"], 9009),  # -d/--detach does not exist on Windows
    (["--no-rc", "-r", R, "run", "-p", P], 1),  # no command
    (["--no-rc", "create", "-p", P, "--frobnicate"], 109),  # CLI11 ExtrasError
    (["create", "-p", P, "--version"], 109),  # a top-level option after the subcommand
    (["--no-rc", "-r", R, "frobnicate"], 109),
    (["create", "-p"], 114),  # ArgumentMismatch: the value is missing
    (["create", "-p", P, "--channel-priority", "sideways"], 105),  # ValidationError
    (["--no-rc", "install", "-p", P, "x"], 199),  # exists, but its grammar is not transcribed
    # a one-value option twice in one app: MultiOptionPolicy::Throw; list options may repeat
    (["create", "-p", P, "-p", "C:\\q", "x"], 114),
    (["--no-rc", "-r", R, "-r", R, "create", "-p", P, "x"], 114),
    (["create", "-p", P, "--log-level", "info", "--log-level", "debug", "x"], 114),
    (["-r", R, "create", "-r", R, "-p", P, "-c", "a", "-c", "b", "-f", "t", "--file", "u"], 0),
]


def test_micromamba_double_rejects_what_micromamba_rejects(wine, doubles, tmp_path):
    calls = check(wine, doubles, tmp_path, "micromamba", MICROMAMBA_CASES)
    # run's command starts after run's own options: "python" here.
    assert calls[1]["rest_at"] == 7 and calls[4]["rest_at"] == 6


CURL_CASES = [
    (["-fL", "--retry", "3", "--retry-delay", "2", "-o", "{out}", "{url}"], 0),
    (["-fL", "--retry", "3", "--retry-delay", "2", "--ssl-no-revoke", "-o", "{out}", "{url}"], 0),
    (["-fsSLo{out}", "{url}"], 0),
    (["--frobnicate", "-o", "{out}", "{url}"], 2),
    (["-fL", "{url}", "-o"], 2),
    (["--retry", "x", "-o", "{out}", "{url}"], 2),
    (["--retry=3", "-o", "{out}", "{url}"], 2),  # curl has no --name=value form
]


def test_curl_double_agrees_with_the_real_curl(wine, doubles, tmp_path):
    src = tmp_path / "payload.bin"
    src.write_bytes(b"x" * 100)
    if shutil.which("curl") is None:
        pytest.fail("curl missing: bash tests/setup.sh installs it")
    for argv, want in CURL_CASES:  # the real curl, with a file:// URL
        real = [a.format(out=tmp_path / "real.out", url=src.as_uri()) for a in argv]
        r = subprocess.run(["curl", *real], capture_output=True, timeout=30)
        assert r.returncode == want, (argv, r.stderr)
    url = "https://example.invalid/micromamba-win-64"
    cases = [([a.format(out="C:\\x.part", url=url) for a in argv], w) for argv, w in CURL_CASES]
    check(wine, doubles, tmp_path, "curl", cases)


def test_certutil_double_rejects_what_certutil_rejects(wine, doubles, tmp_path):
    cases = [
        (["-hashfile", "C:\\f.part", "SHA256"], 0),
        (["/HashFile", "C:\\f.part", "sha256"], 0),
        (["-v", "-hashfile", "C:\\f.part"], 0),
        (["-hashfile"], CERTUTIL_E_INVALIDARG),
        (["-hashfile", "C:\\f.part", "SHA3"], CERTUTIL_E_INVALIDARG),
        (["-hashfle", "C:\\f.part", "SHA256"], CERTUTIL_E_INVALIDARG),
        (["-hashfile", "C:\\f.part", "SHA256", "extra"], CERTUTIL_E_INVALIDARG),
    ]
    check(wine, doubles, tmp_path, "certutil", cases)


def test_vswhere_double_rejects_what_vswhere_rejects(wine, doubles, tmp_path):
    req = "Microsoft.VisualStudio.Component.VC.Tools.x86.x64"
    cases = [
        (["-latest", "-products", "*", "-requires", req, "-property", "installationVersion"], 0),
        (["/LATEST", "/products", "*", "/requires", req, "/property", "installationPath"], 0),
        (["-latest", "-products", "-requires", req], 87),  # -products needs an argument
        (["-latest", "-frobnicate"], 87),
        (["-format", "yaml"], 87),
        (["-property"], 87),
        (["stray"], 87),
    ]
    check(wine, doubles, tmp_path, "vswhere", cases)


def test_nvidia_smi_double_rejects_what_nvidia_smi_rejects(wine, doubles, tmp_path):
    cases = [
        (["--query-gpu=driver_version,compute_cap", "--format=csv,noheader"], 0),
        (["--query-gpu=driver_version", "--format=csv,noheader"], 0),
        (["--query-gpu", "driver_version", "--format=csv"], 2),
        (["--query-gpu=driver_version,frobnication", "--format=csv"], 2),
        (["--query-gpu=driver_version", "--format=tsv"], 2),
        (["--frobnicate"], 2),
    ]
    check(wine, doubles, tmp_path, "nvidia-smi", cases)


def test_chcp_double_rejects_what_chcp_rejects(wine, doubles, tmp_path):
    cases = [([], 0), (["437"], 0), (["/?"], 0), (["437", "850"], 1), (["/x"], 1)]
    check(wine, doubles, tmp_path, "chcp", cases)


PYTHON_CASES = [
    (["-B", "-c", "pass", "--anything", "-z"], 0),  # after -c: the program's arguments
    (["-Bc", "pass"], 0),
    (["-I", "-W", "ignore", "-X", "utf8", "-c", "pass"], 0),
    (["{script}", "-z", "--x"], 0),
    (["-z", "-c", "pass"], 2),
    (["-c"], 2),
    (["-W"], 2),
]


def test_python_double_agrees_with_the_real_python(wine, doubles, tmp_path):
    script = tmp_path / "s.py"
    script.write_text("pass\n")
    for argv, want in PYTHON_CASES:
        real = [a.format(script=script) for a in argv]
        r = subprocess.run([sys.executable, *real], capture_output=True, timeout=60)
        assert r.returncode == want, (argv, r.stderr)
    cases = [([a.format(script="C:\\s.py") for a in argv], w) for argv, w in PYTHON_CASES]
    check(wine, doubles, tmp_path, "python", cases)
    cases = [(["-m", "pip", "install", ".", "--no-deps", "--no-build-isolation", "-vv"], 0)]
    check(wine, doubles, tmp_path / "bld", "python", cases)  # bld.bat's call


# ---- conda build and anaconda upload (argparse) ------------------------------------------------
def shim(bin_dir: Path, program: str) -> Path:
    """An executable ``program`` that is the argparse double."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    path = bin_dir / program
    path.write_text(
        f"#!{sys.executable}\nimport sys\nsys.path.insert(0, {str(DOUBLES)!r})\n"
        f"from argparse_double import main\nsys.exit(main({program!r}, sys.argv[1:]))\n"
    )
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


def double(program: str, argv: list[str], log: Path) -> int:
    env = {**os.environ, "DOUBLE_LOG": str(log)}
    r = subprocess.run(
        [sys.executable, str(DOUBLES / "argparse_double.py"), program, *argv],
        capture_output=True,
        text=True,
        env=env,
        cwd=log.parent,  # a conda build without --output-folder writes ./noarch here
        timeout=60,
    )
    return r.returncode


@pytest.mark.parametrize(
    ("program", "argv", "code"),
    [
        ("conda", ["build", "r", "--python", "3.12", "--python", "3.13", "-m", "a.yaml"], 0),
        ("conda", ["build", "r", "--pythn", "3.12"], 2),
        ("conda", ["build", "r", "--python"], 2),
        ("conda", ["build", "--output-folder", "c"], 2),  # RECIPE_PATH is required
        ("conda", ["bulid", "r"], 2),
        ("conda", ["build", "r", "--experimental", "frob"], 2),  # choices jlap, lock
        ("anaconda", ["upload", "--label", "main", "--skip-existing", "a.conda"], 0),
        ("anaconda", ["-t", "tok", "upload", "a.conda"], 0),
        ("anaconda", ["upload", "--label"], 2),
        ("anaconda", ["upload", "--label", "main"], 2),  # files are required
        ("anaconda", ["upload", "--skip-existing", "--force", "a.conda"], 2),  # exclusive
        ("anaconda", ["upload", "--lable", "main", "a.conda"], 2),
        ("anaconda", ["--label", "main", "upload", "a.conda"], 2),  # an upload option before
    ],
)
def test_argparse_doubles_reject_what_the_real_parsers_reject(
    tmp_path: Path, program: str, argv: list[str], code: int
):
    log = tmp_path / "calls.log"
    assert double(program, argv, log) == code
    (entry,) = [json.loads(line) for line in log.read_text().splitlines()]
    assert ("error" in entry) is (code != 0)


def test_build_recipes_calls_conda_build_and_anaconda_upload_correctly(tmp_path: Path):
    """scripts/build_recipes.py's real argv, through the strict doubles."""
    recipes = tmp_path / "recipes"
    for name, deps in {"zeta": "", "alpha": "    - zeta\n"}.items():
        (recipes / name).mkdir(parents=True)
        (recipes / name / "meta.yaml").write_text(
            f"package:\n  name: {name}\n  version: 1.0\nrequirements:\n  run:\n{deps}    - python\n"
        )
    (recipes / "conda_build_config.yaml").write_text("c_stdlib:\n  - vs\n")
    bin_dir = tmp_path / "bin"
    conda = shim(bin_dir, "conda")
    shim(bin_dir, "anaconda")
    log = tmp_path / "calls.log"
    env = {
        **os.environ,
        "DOUBLE_LOG": str(log),
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "ANACONDA_API_TOKEN": "tok",
    }
    cmd = [sys.executable, str(REPO / "scripts" / "build_recipes.py"), "--recipes", str(recipes)]
    # exactly what build_channel.cmd passes with --upload: every supported Python
    script = (REPO / "build_channel.cmd").read_text("ascii")
    pyargs = script.split('if defined LABEL set "PYARGS=', 1)[1].split('"', 1)[0].split()
    assert pyargs == [w for v in ("3.10", "3.11", "3.12", "3.13") for w in ("--python", v)]
    cmd += ["--channel", str(tmp_path / "channel"), *pyargs, "--compiler", "vs2022"]
    cmd += ["--work", str(tmp_path / "bld"), "--conda", str(conda), "--upload-label", "main"]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert [c["prog"] for c in calls] == ["conda", "conda", "anaconda"]
    assert all("error" not in c for c in calls), calls
    assert calls[2]["argv"][:4] == ["upload", "--label", "main", "--skip-existing"]
    # the Pythons reach conda-build through the last variant file (-m), all four of them
    argv = calls[0]["argv"]
    assert argv[-2] == "-m"
    variant = Path(argv[-1]).read_text()
    for version in ("3.10", "3.11", "3.12", "3.13"):
        assert f"  - {version}.* *_" in variant, variant


def grammar_sources(program: str) -> Path:
    if program == "conda":
        return argparse_double.CONDA_TOOLS
    return REPO / ".venv" / "wheels"


@pytest.mark.parametrize("program", ["conda", "anaconda"])
def test_stored_argparse_grammar_matches_the_released_source(program: str):
    """The grammar files are what the wheels' add_argument calls say (regenerate if not)."""
    wheel_dir = grammar_sources(program)
    wheels = argparse_double.SOURCES[program]["wheels"].values()
    missing = [w for w in wheels if not (wheel_dir / w).exists()]
    if missing:
        # conda-tools is provided outside the repository (DEVELOPERS.md); the anaconda-client
        # wheel is fetched by tests/setup.sh from PyPI.
        pytest.skip(f"released wheels not available here: {missing} in {wheel_dir}")
    if program == "anaconda":
        data = (wheel_dir / next(iter(wheels))).read_bytes()
        assert hashlib.sha256(data).hexdigest() == argparse_double.ANACONDA_SHA256
    assert argparse_double.extract(program, wheel_dir) == argparse_double.load(program)
