"""The check table and loop the workload scripts share (stdlib only: each script imports
this from its own folder, also in spawned workers).

A script names its checks ``check_<name>``; ``checks_in(globals())`` turns them into
``{"<name-with-dashes>": function}`` in name order, and ``run_checks`` runs the chosen ones
against one context object, printing one ``CHECK {json}`` line each (name, ok, detail or the
error with its traceback, seconds), so an error in one check never stops the others.
"""

from __future__ import annotations

import json
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from typing import Any


def checks_in(namespace: Mapping[str, Any]) -> dict[str, Callable[..., Any]]:
    return {
        name[len("check_") :].replace("_", "-"): fn
        for name, fn in sorted(namespace.items())
        if name.startswith("check_") and callable(fn)
    }


def run_checks(
    checks: Mapping[str, Callable[[Any], str]], context: Any, names: Iterable[str]
) -> int:
    for name in names:
        started = time.monotonic()
        try:
            detail, ok = checks[name](context), True
        except Exception as error:
            detail, ok = f"{type(error).__name__}: {error}\n{traceback.format_exc()}", False
        seconds = round(time.monotonic() - started, 2)
        line = {"name": name, "ok": ok, "detail": detail, "seconds": seconds}
        print("CHECK " + json.dumps(line), flush=True)
    return 0
