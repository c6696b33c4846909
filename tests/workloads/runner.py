"""Run a workload script in a subprocess and tell "raised" from "hangs" by observation.

A hang cannot be proven by waiting; it is observed: the script's output shows that the
error has happened (a *trigger* text such as the exception's message printed by a worker or
by Python's thread excepthook), and ``grace`` seconds later the process is still running
with nothing left to do. The process runs in its own session, so it and every worker it
started are killed together at the end. The same script and input run against our FFCV and
against the upstream control (``upstream_ffcv_site``) make the before/after pair.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from tools.build_ffcv import RECIPE
from tools.recipes import LINUX64, render
from tools.sources import patch_paths, prepare_source

WORKLOADS = Path(__file__).resolve().parent
TESTS = WORKLOADS.parent
SHIM = TESTS / "xtend_shim"
# The patches that make FFCV build on Windows and read correctly; the control keeps these.
BUILD_PATCHES = ("0001-", "0002-")


@dataclass(frozen=True)
class Outcome:
    """What a script did: ``returncode`` None means it was still running and was killed."""

    returncode: int | None
    output: str
    triggered: bool
    after_trigger: float | None  # seconds from the trigger to the exit (or to the kill)
    seconds: float

    @property
    def hung(self) -> bool:
        return self.returncode is None

    def result_line(self, prefix: str = "RESULT ") -> str:
        lines = [ln for ln in self.output.splitlines() if ln.startswith(prefix)]
        assert lines, f"no {prefix!r} line in the output:\n{self.output[-4000:]}"
        return lines[-1][len(prefix) :]


def script_env(ffcv_site: Path | None = None, extra: dict[str, str] | None = None) -> dict:
    """Environment for a workload script: the torchvision shim (tests/xtend_shim, see
    DESIGN.md section 6) and, for the control, the upstream FFCV first on the path."""
    env = dict(os.environ)
    paths = [str(SHIM)] + ([str(ffcv_site)] if ffcv_site else [])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env["FFCVWIN_TORCHVISION_SHIM"] = "1"
    env["FFCVWIN_TESTS_DIR"] = str(TESTS)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


def run_script(
    args: list[str],
    env: dict[str, str],
    trigger: str | None,
    grace: float,
    startup: float = 420.0,
    cwd: Path | None = None,
) -> Outcome:
    """Run ``python args...``; once ``trigger`` appears in its output, allow ``grace`` s.

    Without a trigger the whole run gets ``startup + grace`` seconds.
    """
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        env=env,
        cwd=cwd,
        start_new_session=True,
    )
    lines: list[str] = []
    seen = threading.Event()
    seen_at: list[float] = []

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if trigger and not seen.is_set() and trigger in line:
                seen_at.append(time.monotonic())
                seen.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    deadline = started + startup + (0 if trigger else grace)
    while proc.poll() is None and not seen.is_set() and time.monotonic() < deadline:
        time.sleep(0.05)
    if seen.is_set():
        deadline = seen_at[0] + grace
    while proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    ended = time.monotonic()
    returncode = proc.poll()
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()
    reader.join(timeout=10)
    after = ended - seen_at[0] if seen_at else None
    return Outcome(returncode, "".join(lines), bool(seen_at), after, ended - started)


def _installed_ffcv() -> Path:
    spec = importlib.util.find_spec("ffcv")
    assert spec is not None and spec.submodule_search_locations, "ffcv is not installed"
    return Path(next(iter(spec.submodule_search_locations)))


def upstream_ffcv_site(work: Path) -> Path:
    """A folder to put first on PYTHONPATH so that ``import ffcv`` is upstream's code.

    It is the installed (fully patched) ffcv package with every Python file that a patch
    after 0002 changes replaced by its version from the sdist with only patches 0001-0002,
    the ones that make FFCV build and read correctly. The compiled extension is kept (our
    later patches change no C++). So the control differs from our build in exactly the
    files our later patches touch.
    """
    source = render(RECIPE, LINUX64)["source"]
    patches = [RECIPE / p for p in source["patches"]]
    build = [p for p in patches if p.name.startswith(BUILD_PATCHES)]
    later = [p for p in patches if p not in build]
    src = prepare_source(source["url"], source["sha256"], build, work / "src")
    site = work / "site"
    shutil.rmtree(site, ignore_errors=True)
    shutil.copytree(_installed_ffcv(), site / "ffcv", ignore=shutil.ignore_patterns("__pycache__"))
    for patch in later:
        for name in {p.split("/", 1)[1] for p in patch_paths(patch)}:
            if not name.endswith(".py"):
                continue
            assert name.startswith("ffcv/"), f"{patch.name} changes {name}"
            if (src / name).is_file():
                shutil.copyfile(src / name, site / name)
            else:  # a file our patch adds
                (site / name).unlink(missing_ok=True)
    return site
