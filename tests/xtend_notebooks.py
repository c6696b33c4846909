"""Run fastxtend's own notebook tests (nbdev test cells) against the fastxtend on PYTHONPATH,
counting cells. A one-off tool, not part of the suite: the notebooks are in fastxtend's
GitHub repository (nbs/ at tag v0.1.7), not in its sdist, and CI cannot reach GitHub.

    python tests/xtend_notebooks.py NBS_DIR SETTINGS_INI [--timeout S] [--jobs N]

Needs, on PYTHONPATH, versions of 2023 that work with fastcore 1.7 (used: nbdev 2.3.13, the
repository's dev requirement is nbdev>=2.3.12; execnb 0.1.5; ghapi 1.0.4; IPython 8.14.0
with pickleshare, backcall, decorator; setuptools 80.9.0, since nbdev 2.3.13 imports
pkg_resources). With IPython 9, execnb 0.1.5's output capture breaks every cell that prints
through fastprogress ("argument of type 'function' is not iterable"), which is the harness
failing, not fastxtend.

Each notebook runs in its own process, as nbdev_test runs each in a worker, with nbdev's
rules (nbdev/test.py, test_nb): the notebook is skipped when its front matter says
skip_exec; a code cell is skipped when it carries a flag from settings.ini's tst_flags
(fastxtend: slow, cuda, example), `#| eval: false`, or calls nbdev_export; execution stops
at the first error. Printed per notebook: passed/failed/skipped cells, the skip reasons and
the first error; then the totals.
"""

from __future__ import annotations

import argparse
import configparser
import json
import os
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path


def skip_reason(cell: object, flags: set[str]) -> str | None:
    if cell.cell_type != "code":  # type: ignore[attr-defined]
        return "markdown"
    if "nbdev_export" + "(" in cell.source:  # type: ignore[attr-defined]
        return "nbdev_export"
    directives = getattr(cell, "directives_", {}) or {}
    if directives.get("eval:", [""])[0].lower() == "false":
        return "eval: false"
    hit = sorted(flags & directives.keys())
    return "flag " + "+".join(hit) if hit else None


def run_one(notebook: Path, flags: set[str]) -> dict:
    """Execute one notebook here, cell by cell (called in a child process)."""
    from execnb.shell import CaptureShell
    from fastcore.xtras import working_directory
    from nbdev.frontmatter import FrontmatterProc
    from nbdev.process import NBProcessor

    os.environ["IN_TEST"] = "1"
    nb = NBProcessor(notebook, procs=FrontmatterProc, process=True).nb
    front = getattr(nb, "frontmatter_", {})
    result: dict = {"notebook": notebook.name, "passed": 0, "failed": 0, "not_run": 0}
    skipped: Counter[str] = Counter()
    if str(front.get("skip_exec", False)).lower() in ("true", "1", "yes"):
        result["skipped_notebook"] = "skip_exec"
        return result
    shell = CaptureShell(notebook)
    with working_directory(notebook.parent):
        for index, cell in enumerate(nb.cells):
            reason = skip_reason(cell, flags)
            if reason == "markdown":
                continue
            if reason:
                skipped[reason] += 1
            elif result["failed"]:
                result["not_run"] += 1
            else:
                shell.cell(cell)
                if shell.exc:
                    result["failed"] += 1
                    etype, evalue = shell.exc[0], shell.exc[1]
                    result["error"] = f"cell {index}: {etype.__name__}: {evalue}"[:300]
                else:
                    result["passed"] += 1
    result["skipped"] = dict(skipped)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("nbs", type=Path)
    parser.add_argument("settings", type=Path)
    parser.add_argument("--timeout", type=int, default=900)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--one", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    config = configparser.ConfigParser()
    config.read(args.settings)
    flags = set(config["DEFAULT"].get("tst_flags", "").split())
    if args.one:
        print("NOTEBOOK " + json.dumps(run_one(args.one, flags)), flush=True)
        return 0

    def child(notebook: Path) -> dict:
        started = time.monotonic()
        command = [sys.executable, __file__, str(args.nbs), str(args.settings), "--one"]
        try:
            done = subprocess.run(
                [*command, str(notebook)],
                capture_output=True,
                text=True,
                timeout=args.timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return {"notebook": notebook.name, "timeout": args.timeout}
        lines = [ln for ln in done.stdout.splitlines() if ln.startswith("NOTEBOOK ")]
        if not lines:
            tail = (done.stdout + done.stderr).strip().splitlines()[-3:]
            return {"notebook": notebook.name, "crashed": done.returncode, "tail": tail}
        result = json.loads(lines[-1][len("NOTEBOOK ") :])
        result["seconds"] = round(time.monotonic() - started, 1)
        return result

    notebooks = sorted(args.nbs.glob("*.ipynb"))
    with ThreadPoolExecutor(args.jobs) as pool:
        results = list(pool.map(child, notebooks))
    totals: Counter[str] = Counter()
    for result in results:
        print(json.dumps(result))
        for key in ("passed", "failed", "not_run"):
            totals[key] += result.get(key, 0)
        for reason, count in result.get("skipped", {}).items():
            totals[f"skipped ({reason})"] += count
        if result.get("skipped_notebook"):
            totals["notebooks skipped (skip_exec)"] += 1
        if result.get("failed") or "crashed" in result or "timeout" in result:
            totals["notebooks failing"] += 1
    totals["notebooks"] = len(results)
    print("TOTALS " + json.dumps(dict(totals)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
