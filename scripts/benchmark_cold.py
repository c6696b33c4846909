"""Reading a data set cold: its pages are dropped from the OS page cache before and during
every epoch, so each read goes to the disk, as when the data set is larger than RAM.

Linux offers this to any user for files they can open: ``posix_fadvise(POSIX_FADV_DONTNEED)``
drops the clean cached pages of a file. It leaves alone pages that a process has mapped, so
for FFCV's ``os_cache=True`` (``np.memmap``) this module first unmaps them from this process
with ``madvise(MADV_DONTNEED)`` on every mapping of the file listed in ``/proc/self/maps``
(the mapping stays valid; the next access faults the page in again, from the disk). Dirty
pages cannot be dropped either, so freshly written files are fsync'ed first (``flush``).

How, and why this way:

* FFCV ``.beton`` files: a background thread drops the whole file every ``interval_s``
  (default 0.1 s), and ``evict`` drops it before each epoch. FFCV reads from its own threads,
  so there is no "after each read" hook without patching FFCV; a timer hits every Loader
  configuration alike. A page fetched by read-ahead survives at most one interval. On a real
  machine with R bytes of page cache and a disk delivering D bytes/s it would survive about
  R/D seconds (tens of seconds), so the figures are those of a data set far larger than RAM:
  pessimistic where read-ahead neighbours get used soon, i.e. ``os_cache=True`` with
  ``QUASI_RANDOM``.
* One JPEG file per image (the DataLoader row): the worker that reads a file drops it right
  after reading (``read_and_drop``); a timer over tens of thousands of files would cost more
  CPU than the loading it measures. Each file is read once per epoch, so this is exact.

Windows has no unprivileged equivalent: ``FILE_FLAG_NO_BUFFERING`` bypasses the cache only
for reads through that handle (sector-aligned offsets, sizes and buffers; not for mapped
files), and emptying the standby list (Sysinternals RAMMap's "Empty Standby List") needs
administrator rights. There the cold rows run without eviction and are labelled so.
"""

from __future__ import annotations

import ctypes
import mmap
import os
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

SUPPORTED = sys.platform.startswith("linux") and hasattr(os, "posix_fadvise")
MADV_DONTNEED = 4  # linux/mman-common.h


def flush(paths: Iterable[Path]) -> None:
    """Write dirty pages back, so that they can be dropped."""
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _libc() -> ctypes.CDLL:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    libc.madvise.restype = ctypes.c_int
    libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
    libc.mincore.restype = ctypes.c_int
    libc.mmap.argtypes = [
        ctypes.c_void_p,
        ctypes.c_size_t,
        ctypes.c_int,
        ctypes.c_int,
        ctypes.c_int,
        ctypes.c_long,
    ]
    libc.mmap.restype = ctypes.c_void_p
    libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    libc.munmap.restype = ctypes.c_int
    return libc


_LIBC = _libc() if SUPPORTED else None


def _mappings(paths: set[str]) -> list[tuple[int, int]]:
    """(start, length) of this process's mappings of ``paths`` (real paths)."""
    found = []
    with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
        for line in maps:
            fields = line.split(maxsplit=5)
            if len(fields) == 6 and fields[5].rstrip("\n") in paths:
                start, end = (int(x, 16) for x in fields[0].split("-"))
                found.append((start, end - start))
    return found


def _still_maps(start: int, length: int, real: set[str]) -> bool:
    try:
        return os.readlink(f"/proc/self/map_files/{start:x}-{start + length:x}") in real
    except OSError:
        return False


def evict(paths: Sequence[Path], mappings: list[tuple[int, int]] | None = None) -> None:
    """Drop ``paths`` from the page cache, unmapping this process's views of them first
    (``mappings``: their (start, length) if already known, else read from /proc/self/maps)."""
    if _LIBC is None:
        return
    real = {os.path.realpath(p) for p in paths}
    for start, length in _mappings(real) if mappings is None else mappings:
        # A remembered range is used only while it still maps one of these files
        # (/proc/self/map_files names each mapping's file): MADV_DONTNEED on a shared
        # read-only file mapping loses nothing, on anything else it could.
        if mappings is not None and not _still_maps(start, length, real):
            continue
        _LIBC.madvise(start, length, MADV_DONTNEED)
    for path in real:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def read_and_drop(path: Path) -> bytes:
    """The file's bytes, read, then dropped from the page cache (where supported)."""
    with open(path, "rb") as handle:
        data = handle.read()
        if SUPPORTED:
            os.posix_fadvise(handle.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
    return data


def resident_fraction(path: Path) -> float | None:
    """Share of the file's pages in the page cache now: mincore on a fresh read-only map."""
    if _LIBC is None:
        return None
    size = path.stat().st_size
    if size == 0:
        return 0.0
    pages = (size + mmap.PAGESIZE - 1) // mmap.PAGESIZE
    vector = (ctypes.c_ubyte * pages)()
    fd = os.open(path, os.O_RDONLY)
    try:
        address = _LIBC.mmap(None, size, mmap.PROT_READ, mmap.MAP_SHARED, fd, 0)
        if address in (None, ctypes.c_void_p(-1).value):
            return None
        try:
            if _LIBC.mincore(address, size, vector) != 0:
                return None
        finally:
            _LIBC.munmap(address, size)
    finally:
        os.close(fd)
    return sum(v & 1 for v in vector) / pages


def read_ahead_kib(path: Path) -> int | None:
    """read_ahead_kb of the block device holding ``path`` (Linux), or None if unknown.

    A page fault in a memory map of a cold file reads that much around the faulting page
    (the kernel's mmap read-around, mm/filemap.c), so with ``os_cache=True`` every image read
    at random costs up to this many KiB from the disk. 128 is the kernel default; virtual
    disks often use more.
    """
    if not sys.platform.startswith("linux"):
        return None
    device = os.stat(path).st_dev
    base = Path(f"/sys/dev/block/{os.major(device)}:{os.minor(device)}")
    for queue in (base / "queue", base / ".." / "queue"):  # a partition's queue is its disk's
        try:
            return int((queue / "read_ahead_kb").read_text(encoding="ascii"))
        except (OSError, ValueError):
            continue
    return None


class Evictor:
    """Drops ``paths`` from the page cache every ``interval_s`` in a daemon thread.

    Reading /proc/self/maps costs more than the drop itself in a process that has torch
    loaded (a thousand mappings), so the list of the files' mappings is refreshed only every
    ``refresh_s``; FFCV maps a .beton once per Loader and keeps the map.
    """

    def __init__(self, paths: Sequence[Path], interval_s: float, refresh_s: float = 1.0) -> None:
        self.paths = list(paths)
        self.interval_s = interval_s
        self.refresh_s = refresh_s
        self.sweeps = 0
        self.busy_s = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="evictor", daemon=True)

    def __enter__(self) -> Evictor:
        if SUPPORTED:
            self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        real = {os.path.realpath(p) for p in self.paths}
        mappings: list[tuple[int, int]] = []
        refreshed = float("-inf")
        while not self._stop.wait(self.interval_s):
            now = time.perf_counter()
            cpu = time.thread_time()
            if now - refreshed > self.refresh_s:
                mappings, refreshed = _mappings(real), now
            evict(self.paths, mappings)
            self.busy_s += time.thread_time() - cpu  # CPU time, kernel work included
            self.sweeps += 1
