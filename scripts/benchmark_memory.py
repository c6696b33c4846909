"""Peak resident memory of the benchmark process and its child processes, per measured row.

A daemon thread samples every ``interval_s`` (20 ms) the resident set of this process and of
every process below it (the DataLoader's workers) and keeps, per row, the largest sum seen
while that row was being measured (``MemorySampler.section``). Two figures per sample, both
from psutil (``/proc/<pid>/statm`` on Linux, the working set on Windows):

* ``rss``: resident memory, anonymous and file-backed. File-backed includes the pages of a
  memory-mapped file that are in the page cache, so FFCV's ``os_cache=True`` (``np.memmap``)
  shows the part of the data set it has touched; the kernel can drop those pages at will.
* ``anon`` (Linux only): ``rss - shared``, i.e. RssAnon - the memory the process owns and the
  kernel cannot drop without swap: FFCV's process cache, decoded batches, the interpreter.
  ``anon_growth`` is the peak minus the figure at the start of the row's first measured epoch:
  what the row itself allocated (every row frees its buffers when its epoch ends).

All rows run in one process, so the RSS of a later row also holds the file pages that earlier
``os_cache=True`` Loaders still map (a page mapped by two Loaders counts twice); the anonymous
figures do not have that problem.

A sum over processes counts memory shared between them (torch's shared-memory batches, the
pages of shared libraries) once per process, as adding up Task Manager or ``ps`` would. On
Linux the exact peak of the main process alone (VmHWM, reset with ``/proc/self/clear_refs``
at every section start) is recorded too, to show how close the 20 ms sampling comes.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LINUX = sys.platform.startswith("linux")
CHILDREN_REFRESH_S = 0.5  # finding child processes scans /proc: not every sample


@dataclass
class MemoryPeak:
    """Largest figures seen while one row was measured, in bytes."""

    rss: int = 0
    anon: int | None = None
    main_hwm: int | None = None  # Linux: exact peak RSS of the main process alone
    baseline_rss: int | None = None  # at the start of the row's first measured section
    baseline_anon: int | None = None
    processes: int = 0
    samples: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "peak_rss_bytes": self.rss,
            "peak_anon_bytes": self.anon,
            "main_process_vmhwm_bytes": self.main_hwm,
            "baseline_rss_bytes": self.baseline_rss,
            "baseline_anon_bytes": self.baseline_anon,
            # what the row itself allocated: e.g. FFCV's process cache (Linux)
            "anon_growth_bytes": (
                None
                if self.anon is None or self.baseline_anon is None
                else self.anon - self.baseline_anon
            ),
            "processes": self.processes,
            "samples": self.samples,
        }


def _status_kib(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _reset_hwm() -> bool:
    """Linux >= 4.0: writing 5 to clear_refs resets VmHWM to the current RSS."""
    try:
        Path("/proc/self/clear_refs").write_text("5", encoding="ascii")
    except OSError:
        return False
    return True


class MemorySampler:
    """Samples the process tree in a thread; ``section(key)`` attributes samples to a row."""

    def __init__(self, interval_s: float = 0.02) -> None:
        import psutil

        self.interval_s = interval_s
        self._psutil = psutil
        self._me = psutil.Process()
        self._lock = threading.Lock()
        self._current: str | None = None
        self._peaks: dict[str, MemoryPeak] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="memory-sampler", daemon=True)
        self._children: list[Any] = []
        self._children_at = 0.0

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def peak(self, key: str) -> MemoryPeak | None:
        with self._lock:
            return self._peaks.get(key)

    @contextlib.contextmanager
    def section(self, key: str) -> Iterator[None]:
        """Measure ``key`` while the block runs; repeated sections of a key keep the max."""
        hwm_reset = LINUX and _reset_hwm()
        self._children_at = 0.0  # a new loader may have started workers
        rss, anon, count = self._sample()
        with self._lock:
            peak = self._peaks.setdefault(key, MemoryPeak())
            if peak.baseline_rss is None:
                peak.baseline_rss, peak.baseline_anon = rss, anon
            self._record(peak, rss, anon, count)
            self._current = key
        try:
            yield
        finally:
            rss, anon, count = self._sample()
            with self._lock:
                self._current = None
                self._record(peak, rss, anon, count)
                hwm = _status_kib("VmHWM") if hwm_reset else None
                if hwm is not None:
                    peak.main_hwm = max(peak.main_hwm or 0, hwm)

    def _record(self, peak: MemoryPeak, rss: int, anon: int | None, count: int) -> None:
        peak.rss = max(peak.rss, rss)
        if anon is not None:
            peak.anon = max(peak.anon or 0, anon)
        peak.processes = max(peak.processes, count)
        peak.samples += 1

    def _tree(self) -> list[Any]:
        now = time.monotonic()
        if now - self._children_at > CHILDREN_REFRESH_S:
            try:
                self._children = self._me.children(recursive=True)
            except self._psutil.Error:
                self._children = []
            self._children_at = now
        return [self._me, *self._children]

    def _sample(self) -> tuple[int, int | None, int]:
        rss = 0
        anon: int | None = 0 if LINUX else None
        count = 0
        for process in self._tree():
            try:
                info = process.memory_info()
            except self._psutil.Error:  # a worker that just exited
                continue
            count += 1
            rss += info.rss
            if anon is not None:
                anon += info.rss - info.shared
        return rss, anon, count

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            key = self._current
            if key is None:
                continue
            rss, anon, count = self._sample()
            with self._lock:
                if self._current == key:
                    self._record(self._peaks[key], rss, anon, count)
