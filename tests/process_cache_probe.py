"""Create FFCV Loaders and report the warnings they raise, as JSON on stdout.

Run by tests/test_process_cache_warning.py in a fresh interpreter:

    python tests/process_cache_probe.py SPEC.json [--spawn]

SPEC.json is a list of runs ``{"case": NAME, "beton": PATH, "fraction": TEXT or null}``;
each run sets FFCV_PROCESS_CACHE_WARN_FRACTION (FFCV reads it whenever a Loader is created)
and creates the Loaders of CASES[NAME]. Runs that must not share FFCV's once-per-file memory
use different files. With --spawn the runs happen in a child process started with the
``spawn`` method (what Windows uses) and the findings come back through a queue. Warnings
are recorded with the "always" filter, so anything deduplicated was deduplicated by FFCV,
not by Python's warning registry.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

VARIABLE = "FFCV_PROCESS_CACHE_WARN_FRACTION"

# (os_cache, order name, distributed) for each Loader a case creates, in order
CASES: dict[str, list[tuple[bool, str, bool]]] = {
    "random_twice": [(False, "RANDOM", False), (False, "RANDOM", False)],
    "bounded_orders": [
        (False, "QUASI_RANDOM", False),
        (False, "SEQUENTIAL", False),
        (True, "RANDOM", False),
    ],
    "distributed": [(False, "RANDOM", True)],
}


def run_case(beton: str, case: str) -> list[dict[str, Any]]:
    from ffcv.loader import Loader, OrderOption

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for os_cache, order, distributed in CASES[case]:
            Loader(
                beton,
                batch_size=4,
                num_workers=1,
                os_cache=os_cache,
                order=OrderOption[order],
                distributed=distributed,
                seed=0,
            )
    return [
        {
            "category": type(w.message).__name__,
            "module": type(w.message).__module__,
            "message": str(w.message),
            "filename": w.filename,
        }
        for w in caught
    ]


def run_spec(spec: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if any(run["case"] == "distributed" for run in spec):
        import torch.distributed as dist

        rendezvous = Path(tempfile.mkdtemp()) / "rendezvous"
        dist.init_process_group("gloo", init_method=rendezvous.as_uri(), rank=0, world_size=1)
    results = []
    for run in spec:
        if run["fraction"] is None:
            os.environ.pop(VARIABLE, None)
        else:
            os.environ[VARIABLE] = run["fraction"]
        try:
            results.append({**run, "warnings": run_case(run["beton"], run["case"])})
        except Exception as error:  # reported for the test to judge
            results.append({**run, "error": f"{type(error).__name__}: {error}"})
    return results


def _child(spec: list[dict[str, Any]], queue: Any) -> None:
    queue.put(run_spec(spec))


def main(argv: list[str]) -> int:
    spec = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    if "--spawn" in argv:
        context = multiprocessing.get_context("spawn")
        queue = context.Queue()
        child = context.Process(target=_child, args=(spec, queue))
        child.start()
        results = queue.get(timeout=240)
        child.join(timeout=60)
    else:
        results = run_spec(spec)
    print(json.dumps({"start_method": "spawn" if "--spawn" in argv else None, "runs": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
