"""FFCV's throughput under each of numba's threading layers: tbb, omp and workqueue.

FFCV's per-batch loops are numba ``prange`` loops; numba runs them on one threading layer per
process, chosen at the first parallel call (``NUMBA_THREADING_LAYER``, default: the first of
tbb, omp, workqueue that loads). So each layer gets its own child process, started with
``NUMBA_THREADING_LAYER=<layer>``; all children build the same Loaders on the warm data set,
then the parent has them run one epoch each in turn (tbb, omp, workqueue, tbb, ...), so a
change in background load hits every layer alike. Only one child works at a time; the others
wait on their stdin.

Child protocol (``python benchmark_layers.py --child SPEC.json``): it prints one line
``@@ {"ready": true, "layer": ...}`` or ``@@ {"error": ...}`` once its Loaders exist and the
layer has started, then answers every ``epoch`` line on stdin with ``@@ {"rates": {...}}``.
Other output (FFCV and numba print a little) is passed through to stderr.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

LAYERS = ("tbb", "omp", "workqueue")
MARK = "@@ "
# (format, os_cache, order): the headline, the larger-than-RAM mode, and raw pixels (little
# work per image, so the layer's own scheduling cost shows most)
CONFIGS = (("jpg", True, "RANDOM"), ("jpg", False, "QUASI_RANDOM"), ("raw", True, "RANDOM"))


def config_key(mode: str, os_cache: bool, order: str) -> str:
    return f"{mode}_os_cache_{str(os_cache).lower()}_{order.lower()}"


def start_layer() -> str:
    """Run a tiny parallel loop so numba loads its threading layer now, in this thread
    (inside FFCV's epoch thread a failure to load would not surface); return its name."""
    import numba

    @numba.njit(parallel=True, cache=False)
    def total(n: int) -> int:
        s = 0
        for i in numba.prange(n):
            s += i
        return s

    total(64)
    return str(numba.threading_layer())


# --------------------------------------------------------------------------------------------
# Child
# --------------------------------------------------------------------------------------------


def _say(message: dict[str, Any]) -> None:
    sys.stdout.write(MARK + json.dumps(message) + "\n")
    sys.stdout.flush()


def child(spec_path: Path) -> int:
    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    real_stdout = sys.stdout
    sys.stdout = sys.stderr  # anything FFCV prints must not mix with the protocol
    try:
        import benchmark

        layer = start_layer()
        settings = benchmark.Settings(**{**spec["settings"], "out": Path(spec["settings"]["out"])})
        loaders = []
        for mode, os_cache, order in spec["configs"]:
            beton = Path(spec["betons"][mode])
            loaders.append(
                (
                    config_key(mode, os_cache, order),
                    benchmark.ffcv_loader(beton, settings, os_cache, order, settings.batch_size),
                )
            )
    except Exception as error:  # reported to the parent: this layer is unavailable
        sys.stdout = real_stdout
        _say({"error": f"{type(error).__name__}: {error}"})
        return 0
    sys.stdout = real_stdout
    _say({"ready": True, "layer": layer})
    for line in sys.stdin:
        if line.strip() != "epoch":
            break
        sys.stdout = sys.stderr
        rates = {}
        for key, loader in loaders:
            timing = benchmark.time_epoch(loader, settings.images, settings.batch_size, key)
            rates[key] = timing.images_per_s
        sys.stdout = real_stdout
        _say({"rates": rates})
    return 0


# --------------------------------------------------------------------------------------------
# Parent
# --------------------------------------------------------------------------------------------


@dataclass
class LayerRun:
    layer: str
    process: subprocess.Popen[str]
    loaded: str | None = None  # numba.threading_layer() in the child
    error: str | None = None
    rates: dict[str, list[float]] = field(default_factory=dict)

    def read(self) -> dict[str, Any]:
        stdout: IO[str] | None = self.process.stdout
        assert stdout is not None
        for line in stdout:
            if line.startswith(MARK):
                return dict(json.loads(line[len(MARK) :]))
            sys.stderr.write(line)
        return {"error": f"exited with status {self.process.wait()} before answering"}

    def command(self, text: str) -> None:
        stdin: IO[str] | None = self.process.stdin
        assert stdin is not None
        stdin.write(text + "\n")
        stdin.flush()


def compare_layers(
    settings: Any,
    betons: dict[str, Path],
    work: Path,
    log: Callable[[str], None],
    configs: Sequence[tuple[str, bool, str]] = CONFIGS,
) -> dict[str, Any]:
    """Measure every layer on ``configs``; return the JSON section (rates, medians, ratio to
    the best)."""
    spec_path = work / "layers-spec.json"
    spec = {
        "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(settings).items()},
        "betons": {mode: str(path) for mode, path in betons.items()},
        "configs": [list(config) for config in configs],
    }
    spec_path.write_text(json.dumps(spec), encoding="utf-8")
    runs = [
        LayerRun(
            layer,
            subprocess.Popen(
                [sys.executable, str(Path(__file__).resolve()), "--child", str(spec_path)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                env={**os.environ, "NUMBA_THREADING_LAYER": layer},
            ),
        )
        for layer in LAYERS
    ]
    try:
        for run in runs:
            answer = run.read()
            run.error = answer.get("error")
            run.loaded = answer.get("layer")
            log(f"  layer {run.layer}: " + (run.error or f"ready ({run.loaded})"))
        ready = [run for run in runs if run.error is None]
        for epoch in range(settings.warmup + settings.epochs):
            for run in ready:
                run.command("epoch")
                answer = run.read()
                if "rates" not in answer:
                    run.error = answer.get("error", "no answer")
                    continue
                if epoch >= settings.warmup:
                    for key, rate in answer["rates"].items():
                        run.rates.setdefault(key, []).append(rate)
            ready = [run for run in ready if run.error is None]
    finally:
        for run in runs:
            if run.process.poll() is None:
                if run.process.stdin is not None:
                    run.process.stdin.close()
                try:
                    run.process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    run.process.kill()
    return summarise(runs, configs)


def summarise(runs: Sequence[LayerRun], configs: Sequence[tuple[str, bool, str]]) -> dict[str, Any]:
    keys = [config_key(*config) for config in configs]
    medians = {
        run.layer: {k: statistics.median(run.rates[k]) for k in keys if run.rates.get(k)}
        for run in runs
    }
    best = {k: max((m[k] for m in medians.values() if k in m), default=None) for k in keys}
    layers = {}
    for run in runs:
        layers[run.layer] = {
            "loaded": run.loaded,
            "error": run.error,
            "epoch_images_per_s": run.rates,
            "images_per_s": medians[run.layer],
            "ratio_to_best": {
                k: medians[run.layer][k] / best[k]
                for k in keys
                if k in medians[run.layer] and best[k]
            },
        }
    return {"configs": keys, "layers": layers}


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        sys.exit(child(Path(sys.argv[2])))
    sys.exit("usage: benchmark_layers.py --child SPEC.json (started by benchmark.py)")
