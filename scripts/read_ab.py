"""A/B: does recipe patch 0002 (positional reads through the extension) cost anything?

    python scripts/read_ab.py [--out DIR] [--smoke] [--epochs N] [--workers N]

Loads the benchmark's data set (scripts/benchmark.py; made on first use, reused after) with
FFCV's process cache (`os_cache=False`, the only mode that reads through `read`), RANDOM
order, JPEG and raw, alternating per epoch between our binding (`ffcv.libffcv.read`, the
extension's `ffcv_pread`) and upstream FFCV 1.0.2's Linux binding (ctypes `libc.pread`,
argtypes as upstream declares them). It reports each binding's median images/s and the ratio
ours / upstream. POSIX only: upstream's Windows binding
(msvcrt._read) returns wrong data, so there is nothing to compare it with there.
"""

from __future__ import annotations

import argparse
import ctypes
import statistics
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchmark  # scripts/benchmark.py, next to this file


def upstream_posix_read() -> Any:
    """FFCV 1.0.2's own Linux binding of `read`, rebuilt from its declared ctypes types."""
    pread = ctypes.CDLL("libc.so.6").pread
    pread.argtypes = [ctypes.c_uint32, ctypes.c_void_p, ctypes.c_uint64, ctypes.c_uint64]

    def read(fileno: int, destination: np.ndarray, offset: int) -> int:
        return pread(fileno, destination.ctypes.data, destination.size, offset)

    return read


def set_read(binding: Any) -> None:
    """Point FFCV's page reader (the process cache's only reader) at `binding`."""
    from ffcv.memory_managers.process_cache import page_reader

    page_reader.read = binding


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("benchmark-results"))
    parser.add_argument("--epochs", type=int, default=7)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--smoke", action="store_true", help="tiny data set, 2 epochs")
    args = parser.parse_args(argv)
    if sys.platform == "win32":
        print("read_ab: POSIX only (upstream's Windows read is not a correct baseline)")
        return 2
    bench_args = ["--out", str(args.out), "--epochs", str(args.epochs)]
    if args.workers:
        bench_args += ["--workers", str(args.workers)]
    if args.smoke:
        bench_args.append("--smoke")
    settings = benchmark.settings_from(benchmark.build_parser().parse_args(bench_args))
    manifest = benchmark.prepare_data(settings, print)

    from ffcv.libffcv import read as ours

    bindings = {"ours": ours, "upstream": upstream_posix_read()}
    # One loader per data set; the binding changes between epochs in an ABBA pattern so
    # that neither binding always runs first (the first epoch after a switch of data set
    # or loader is slower whatever the binding).
    schedule = ["ours", "upstream", "upstream", "ours"] * ((settings.epochs + 1) // 2)
    for mode in ("jpg", "raw"):
        path = settings.out / "data" / manifest["betons"][mode]
        loader = benchmark.ffcv_loader(path, settings, False, "RANDOM", settings.batch_size)
        rates: dict[str, list[float]] = {name: [] for name in bindings}
        for epoch, name in enumerate(["ours"] * settings.warmup + schedule):
            set_read(bindings[name])
            timing = benchmark.time_epoch(loader, settings.images, settings.batch_size, name)
            if epoch >= settings.warmup:
                rates[name].append(timing.images_per_s)
        medians = {name: statistics.median(values) for name, values in rates.items()}
        for name, value in medians.items():
            print(
                f"{mode} os_cache=False RANDOM, {name + ' read':<14} {value:>10,.0f} images/s"
                f"  ({len(rates[name])} epochs)"
            )
        print(f"{mode}: ours / upstream = {medians['ours'] / medians['upstream']:.3f}")
    set_read(ours)
    return 0


if __name__ == "__main__":
    sys.exit(main())
