"""Data-loading benchmark: FFCV ``Loader`` against torch ``DataLoader`` + PIL and the decode
ceiling, with the data in RAM and with a data set larger than RAM, plus numba's threading
layers compared.

Run it inside the training environment (Windows or Linux)::

    python scripts/benchmark.py             # everything: about 7 minutes on 2 idle cores
    python scripts/benchmark.py --smoke     # tiny size: checks that everything runs
    python scripts/benchmark.py --scenarios warm    # only the page-cache scenario (1.5 min)

Three scenarios (``--scenarios``, default all):

* **warm** - the data sits in the page cache (it was just written), so the figures measure
  the CPU side of loading. FFCV ``Loader`` on a JPEG and a raw ``.beton`` with ``os_cache=True``
  (memory map, page cache shared) and ``os_cache=False`` (FFCV's own process cache, filled by
  positional reads) in ``RANDOM`` and ``QUASI_RANDOM`` order; torch ``DataLoader`` + PIL (one
  JPEG file per image, decoded as torchvision's default loader does) with the same batch size
  and worker count; the single-thread JPEG decode rate of libjpeg-turbo through FFCV's own
  ``ffcv.libffcv.imdecode`` (``tjDecompress2`` with ``TJFLAG_FASTDCT``, what the Loader calls
  per image), of ``cv2.imdecode`` and of PIL. The *decode ceiling* is that FFCV rate times
  the worker count: a loader that spends all its workers on decoding reaches 100 %.
* **cold** - a data set larger than RAM, emulated: bigger .beton files (``--cold-jpg-mib``,
  ``--cold-raw-mib``) read at ``--cold-batch-size`` 8, so that QUASI_RANDOM's window of
  2 x batch x 8 MiB pages is a small part of each file, with the files dropped from the page
  cache before every epoch and during it (benchmark_cold.py says how, and what Windows
  offers), so every read goes to the disk. The same FFCV configurations and DataLoader + PIL.
* **layers** - FFCV's parallel loops run on numba's threading layer; the headline, the
  larger-than-RAM configuration and raw pixels run under tbb, omp and workqueue, one child
  process per layer, epochs interleaved (benchmark_layers.py).

Every loader row also reports the peak resident memory of the loading process and its worker
processes while it was measured, all of it (``peak RSS``, which counts the pages of a memory
mapped file that sit in the page cache) and the anonymous part (``anon``, Linux: memory the
kernel cannot drop without swap, e.g. FFCV's process cache); benchmark_memory.py says how.

Every figure is the median images/s of the measured epochs (``--epochs``, ``--cold-epochs``)
after ``--warmup`` epochs (the first includes numba's compilation and filling the caches);
configurations of one group run their epochs in turn, so a change in background load hits them
alike. Loader rows also report a steady-state rate (batch size / median time between batches),
which leaves out the fixed cost of starting and ending an epoch.

Images are synthetic but natural-looking (occluding ellipses with a power-law size distribution,
the "dead leaves" model of natural-image statistics, over 1/f texture), 256x256 RGB, JPEG quality
90, fully determined by ``--seed``; the cold sets repeat them. The results go to
``<out>/benchmark.json`` and ``<out>/benchmark.png``; a table is printed.

Exit codes: 0 done (whether or not the goals were met: they are reported, not enforced),
2 bad command line, 3 a required package is missing, 4 the output folder is unusable,
5 a self-check failed (wrong image count, decode error, decoded pixels differ from the source).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import functools
import gc
import hashlib
import io
import itertools
import json
import multiprocessing
import os
import platform
import shutil
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:  # the benchmark_* modules beside this file, however it is loaded
    sys.path.insert(0, HERE)
import benchmark_cold  # noqa: E402
import benchmark_layers  # noqa: E402
import benchmark_memory  # noqa: E402
from benchmark_report import format_table, write_chart  # noqa: E402

SCHEMA = "ffcv-benchmark/2"
DATA_VERSION = 2  # bump when the file layout changes (a changed generator is caught by its digest)
IMAGE_SIZE = 256
JPEG_QUALITY = 90
NUM_CLASSES = 10
MARKER = ".ffcv-benchmark-data"  # only a data folder holding this file is ever deleted

# Goals from issue 6; reported against, never asserted.
GOAL_FFCV_OVER_DATALOADER = 3.0
GOAL_FFCV_OVER_CEILING = 0.90
GOAL_NO_OS_CACHE_OVER_OS_CACHE = 0.95

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_MISSING_PACKAGE = 3
EXIT_OUTPUT = 4
EXIT_SELF_CHECK = 5

REQUIRED_PACKAGES = ("ffcv", "numba", "torch", "cv2", "PIL", "matplotlib", "psutil")
SCENARIOS = ("warm", "cold", "layers")


class BenchmarkError(Exception):
    """An error with its own exit code and a hint that tells the user what to do."""

    exit_code = EXIT_SELF_CHECK

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.hint = hint


class MissingPackageError(BenchmarkError):
    exit_code = EXIT_MISSING_PACKAGE


class OutputDirError(BenchmarkError):
    exit_code = EXIT_OUTPUT


class SelfCheckError(BenchmarkError):
    exit_code = EXIT_SELF_CHECK


@dataclass(frozen=True)
class Settings:
    images: int
    epochs: int
    warmup: int
    workers: int
    batch_size: int
    decode_images: int
    seed: int
    out: Path
    start_method: str
    smoke: bool
    scenarios: tuple[str, ...] = SCENARIOS
    # the cold (larger-than-RAM) scenario
    cold_batch_size: int = 8
    cold_jpg_mib: int = 512
    cold_raw_mib: int = 1024
    cold_epochs: int = 3
    evict_ms: int = 100
    cold_epoch_s: float = 10.0


class Timing(NamedTuple):
    images_per_s: float
    steady_images_per_s: float | None
    images: int  # delivered: fewer than the epoch's only when the epoch was capped


@dataclass
class Row:
    """One measured configuration. ``images_per_s`` is the median of ``epoch_images_per_s``."""

    key: str
    label: str
    kind: str  # "loader" (end-to-end loading) or "decode" (single-thread decode rate)
    images_per_s: float
    epoch_images_per_s: list[float]
    params: dict[str, Any] = field(default_factory=dict)
    # loaders only: median over epochs of batch size / median time between batches
    steady_images_per_s: float | None = None
    # loaders only: peak resident memory while measured (benchmark_memory.MemoryPeak)
    memory: dict[str, Any] | None = None


# --------------------------------------------------------------------------------------------
# Synthetic data
# --------------------------------------------------------------------------------------------


def synth_image(index: int, seed: int, size: int = IMAGE_SIZE) -> np.ndarray:
    """Return image ``index`` of the synthetic set: ``(size, size, 3)`` uint8 RGB.

    The content depends only on ``(seed, index)``: numpy's PCG64 stream seeded with both, OpenCV's
    integer ellipse rasteriser, and a fixed blur. Dead-leaves model: 320 opaque ellipses whose radii
    follow p(r) ~ r^-3 (scale invariance, as in natural images), colours drawn around one scene
    colour with log-normal brightness, then 1/f ("pink") luminance texture and a slight blur.
    """
    import cv2

    rng = np.random.default_rng([seed, index])
    base = rng.uniform(50.0, 200.0, 3)
    img = np.empty((size, size, 3), np.uint8)
    img[:] = base.astype(np.uint8)
    count = 320
    r_min, r_max = 2.0, 0.6 * size
    u = rng.random(count)
    radii = (r_min**-2 - u * (r_min**-2 - r_max**-2)) ** -0.5  # inverse CDF of p(r) ~ r^-3
    centres = rng.uniform(0.0, size, (count, 2))
    aspect = rng.uniform(0.3, 1.0, count)
    angles = rng.uniform(0.0, 180.0, count)
    brightness = rng.lognormal(0.0, 0.35, count)[:, None]
    colours = np.clip(base * brightness + rng.normal(0.0, 18.0, (count, 3)), 0.0, 255.0)
    for k in range(count):
        axes = (max(1, int(radii[k])), max(1, int(radii[k] * aspect[k])))
        centre = (int(centres[k, 0]), int(centres[k, 1]))
        cv2.ellipse(
            img, centre, axes, float(angles[k]), 0.0, 360.0, colours[k].tolist(), -1, cv2.LINE_AA
        )
    fy = np.fft.fftfreq(size)[:, None]
    fx = np.fft.rfftfreq(size)[None, :]
    freq = np.hypot(fx, fy)
    freq[0, 0] = 1.0
    spectrum = (rng.standard_normal(freq.shape) + 1j * rng.standard_normal(freq.shape)) / freq
    spectrum[0, 0] = 0.0
    texture = np.fft.irfft2(spectrum, s=(size, size)).astype(np.float32)
    texture *= np.float32(14.0 / float(texture.std()))
    out = img.astype(np.float32)
    out += texture[..., None]
    out = cv2.GaussianBlur(out, (0, 0), 0.5)
    return np.clip(out + 0.5, 0.0, 255.0).astype(np.uint8)


def synth_label(index: int) -> int:
    return index % NUM_CLASSES


def sample_digest(seed: int, count: int = 8) -> str:
    """sha256 of the first ``count`` images' pixels: identifies the data set in the JSON."""
    digest = hashlib.sha256()
    for index in range(count):
        digest.update(synth_image(index, seed).tobytes())
    return digest.hexdigest()


class PixelFile:
    """Map-style data set over the generated pixels (``pixels.npy``) for FFCV's ``DatasetWriter``.

    Sample ``i`` is image ``i % base`` of the file (``base`` = all of it by default): the cold
    data sets repeat the generated images, since what is measured there is the reading, and
    every copy still occupies its own bytes of the file. Picklable (it holds a path, and opens
    the memory map lazily in each process) so the writer's worker processes can use it under
    the ``spawn`` start method (Windows).
    """

    def __init__(self, path: Path, count: int, base: int | None = None) -> None:
        self.path = path
        self.count = count
        self.base = base or count
        self._pixels: np.ndarray | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path, "count": self.count, "base": self.base, "_pixels": None}

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> tuple[np.ndarray, int]:
        if self._pixels is None:
            self._pixels = np.load(self.path, mmap_mode="r")
        return np.ascontiguousarray(self._pixels[index % self.base]), synth_label(index)


def jpeg_name(index: int) -> str:
    return f"{index:07d}.jpg"


def encode_jpeg_like_ffcv(image: np.ndarray) -> np.ndarray:
    """JPEG-encode an RGB image as FFCV's ``RGBImageField(write_mode="jpg")`` does.

    FFCV 1.0.2 (``ffcv/fields/rgb_image.py``, ``encode_jpeg``) converts RGB to BGR and calls
    ``cv2.imencode(".jpg", ..., [IMWRITE_JPEG_QUALITY, q])``. Doing the same here keeps the
    generator's worker processes free of the ``ffcv`` import (torch, numba: seconds per process
    under ``spawn``); ``prepare_data`` checks that the bytes equal FFCV's own encoder's.
    """
    import cv2

    ok, blob = cv2.imencode(
        ".jpg",
        cv2.cvtColor(image, cv2.COLOR_RGB2BGR),
        [int(cv2.IMWRITE_JPEG_QUALITY), JPEG_QUALITY],
    )
    if not ok:
        raise SelfCheckError("cv2.imencode failed", "check the OpenCV installation")
    return blob.reshape(-1)


def _generate_chunk(pixels_path: str, jpeg_dir: str, seed: int, indices: Sequence[int]) -> int:
    """Worker: generate images, store pixels, and write each as a JPEG file."""
    pixels = np.load(pixels_path, mmap_mode="r+")
    total = 0
    for index in indices:
        image = synth_image(index, seed)
        pixels[index] = image
        blob = encode_jpeg_like_ffcv(image)
        (Path(jpeg_dir) / jpeg_name(index)).write_bytes(blob.tobytes())
        total += int(blob.size)
    pixels.flush()
    return total


def write_beton(
    path: Path, mode: str, dataset: PixelFile, settings: Settings, log: Callable[[str], None]
) -> str:
    """Write ``dataset`` as a .beton with FFCV's writer (default page size, 8 MiB)."""
    from ffcv.fields import IntField, RGBImageField
    from ffcv.writer import DatasetWriter

    log(f"writing {path.name} ({len(dataset)} images)")
    writer = DatasetWriter(
        str(path),
        {"image": RGBImageField(write_mode=mode, jpeg_quality=JPEG_QUALITY), "label": IntField()},
        # --smoke: one writer process per file (under spawn each one imports torch afresh)
        num_workers=1 if settings.smoke else settings.workers,
    )
    writer.from_indexed_dataset(dataset)
    return path.name


def prepare_data(settings: Settings, log: Callable[[str], None]) -> dict[str, Any]:
    """Create (or reuse) the data set under ``<out>/data``: JPEG files, two .beton files and
    the source pixels."""
    from ffcv.fields.rgb_image import encode_jpeg

    data_dir = settings.out / "data"
    manifest_path = data_dir / "manifest.json"
    wanted = {
        "version": DATA_VERSION,
        "images": settings.images,
        "seed": settings.seed,
        "size": IMAGE_SIZE,
        "jpeg_quality": JPEG_QUALITY,
        "sample_sha256": sample_digest(settings.seed),  # a changed generator invalidates the cache
    }
    if manifest_path.is_file():
        with contextlib.suppress(ValueError, OSError, KeyError, TypeError, AttributeError):
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
            files = [data_dir / name for name in manifest["betons"].values()]
            files.append(data_dir / manifest["jpeg_dir"] / jpeg_name(settings.images - 1))
            files.append(data_dir / manifest["pixels"])
            if all(manifest.get(k) == v for k, v in wanted.items()) and all(
                f.is_file() for f in files
            ):
                log(f"reusing the data set in {data_dir}")
                return manifest
    marker = data_dir / MARKER
    if data_dir.exists():
        if not marker.is_file():
            raise OutputDirError(
                f"{data_dir} exists and was not made by this benchmark; not touching it",
                "pass another --out, or delete that folder yourself",
            )
        shutil.rmtree(data_dir)
    jpeg_dir = data_dir / "jpeg"
    jpeg_dir.mkdir(parents=True)
    marker.write_text("made by scripts/benchmark.py; deleted and rebuilt as needed\n")
    pixels_path = data_dir / "pixels.npy"
    shape = (settings.images, IMAGE_SIZE, IMAGE_SIZE, 3)
    np.lib.format.open_memmap(pixels_path, mode="w+", dtype=np.uint8, shape=shape).flush()

    started = time.perf_counter()
    log(f"generating {settings.images} images ({IMAGE_SIZE}x{IMAGE_SIZE}, JPEG q{JPEG_QUALITY})")
    chunks = [
        list(range(start, min(start + 64, settings.images)))
        for start in range(0, settings.images, 64)
    ]
    context = multiprocessing.get_context()
    # ProcessPoolExecutor refuses more than 61 workers on Windows
    processes = min(settings.workers, 61)
    with ProcessPoolExecutor(max_workers=processes, mp_context=context) as pool:
        futures = [
            pool.submit(_generate_chunk, str(pixels_path), str(jpeg_dir), settings.seed, chunk)
            for chunk in chunks
        ]
        jpeg_bytes = sum(future.result() for future in futures)
    first = np.array(np.load(pixels_path, mmap_mode="r")[0])  # a copy: no map left open
    if encode_jpeg_like_ffcv(first).tobytes() != encode_jpeg(first, JPEG_QUALITY).tobytes():
        raise SelfCheckError(
            "the JPEG files differ from what FFCV's encoder writes into the .beton",
            "FFCV's encode_jpeg changed: update encode_jpeg_like_ffcv in this script",
        )

    dataset = PixelFile(pixels_path, settings.images)
    betons = {
        mode: write_beton(data_dir / f"synthetic_{mode}.beton", mode, dataset, settings, log)
        for mode in ("jpg", "raw")
    }
    manifest = dict(wanted)
    manifest.update(
        {
            "jpeg_dir": "jpeg",
            "pixels": pixels_path.name,  # kept: the cold data sets are made from it
            "betons": betons,
            "mean_jpeg_bytes": jpeg_bytes / settings.images,
            "generated_in_s": round(time.perf_counter() - started, 1),
        }
    )
    manifest_path.write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return manifest


RAW_IMAGE_BYTES = IMAGE_SIZE * IMAGE_SIZE * 3


def cold_counts(settings: Settings, manifest: dict[str, Any]) -> dict[str, int]:
    """Images in the cold sets: as many as make each .beton about its target size."""
    return {
        "jpg": max(1, round(settings.cold_jpg_mib * 2**20 / manifest["mean_jpeg_bytes"])),
        "raw": max(1, round(settings.cold_raw_mib * 2**20 / RAW_IMAGE_BYTES)),
    }


def prepare_cold_data(
    settings: Settings, manifest: dict[str, Any], log: Callable[[str], None]
) -> dict[str, Any]:
    """Create (or reuse) the cold data sets under ``<out>/data/cold``: a JPEG and a raw .beton
    of about ``--cold-jpg-mib`` / ``--cold-raw-mib``, and one JPEG file per image of the JPEG
    set, made by repeating the generated images (see PixelFile)."""
    data_dir = settings.out / "data"
    cold_dir = data_dir / "cold"
    manifest_path = cold_dir / "manifest.json"
    counts = cold_counts(settings, manifest)
    wanted = {
        "version": DATA_VERSION,
        "base_images": settings.images,
        "base_sample_sha256": manifest["sample_sha256"],
        "images": counts,
    }
    if manifest_path.is_file():
        with contextlib.suppress(ValueError, OSError, KeyError, TypeError, AttributeError):
            cold = json.loads(manifest_path.read_text(encoding="utf-8"))
            files = [cold_dir / name for name in cold["betons"].values()]
            files.append(cold_dir / cold["jpeg_dir"] / jpeg_name(counts["jpg"] - 1))
            if all(cold.get(k) == v for k, v in wanted.items()) and all(f.is_file() for f in files):
                log(f"reusing the cold data sets in {cold_dir}")
                return cold
    if cold_dir.exists():
        shutil.rmtree(cold_dir)  # inside the benchmark's own (marked) data folder
    jpeg_dir = cold_dir / "jpeg"
    jpeg_dir.mkdir(parents=True)
    started = time.perf_counter()
    pixels = data_dir / manifest["pixels"]
    betons = {
        mode: write_beton(
            cold_dir / f"cold_{mode}.beton",
            mode,
            PixelFile(pixels, counts[mode], base=settings.images),
            settings,
            log,
        )
        for mode in ("jpg", "raw")
    }
    log(f"writing {counts['jpg']} JPEG files for the DataLoader")
    source = data_dir / manifest["jpeg_dir"]
    blobs = [(source / jpeg_name(i)).read_bytes() for i in range(settings.images)]
    for index in range(counts["jpg"]):
        (jpeg_dir / jpeg_name(index)).write_bytes(blobs[index % settings.images])
    cold = dict(wanted)
    cold.update(
        {
            "jpeg_dir": "jpeg",
            "betons": betons,
            "beton_bytes": {
                mode: (cold_dir / name).stat().st_size for mode, name in betons.items()
            },
            "jpeg_file_bytes": sum(len(blobs[i % settings.images]) for i in range(counts["jpg"])),
            "generated_in_s": round(time.perf_counter() - started, 1),
        }
    )
    manifest_path.write_text(json.dumps(cold, indent=2), encoding="utf-8")
    return cold


# --------------------------------------------------------------------------------------------
# Loaders
# --------------------------------------------------------------------------------------------


class JpegFiles:
    """Map-style data set for torch's DataLoader: one JPEG file per image, decoded by PIL.

    Decoding follows torchvision's default loader (``Image.open`` then ``convert("RGB")``); the
    array goes to the default collate function, which stacks it into a uint8 tensor. With
    ``drop_after_read`` (the cold scenario) the worker reads the file, drops it from the page
    cache (benchmark_cold.read_and_drop) and decodes the bytes.
    """

    def __init__(self, folder: Path, count: int, drop_after_read: bool = False) -> None:
        self.folder = folder
        self.count = count
        self.drop_after_read = drop_after_read

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> tuple[np.ndarray, int]:
        from PIL import Image

        path = self.folder / jpeg_name(index)
        source: Any = path
        if self.drop_after_read:
            source = io.BytesIO(benchmark_cold.read_and_drop(path))
        with Image.open(source) as image:
            pixels = np.array(image.convert("RGB"))  # a writable copy, as PILToTensor makes
        return pixels, synth_label(index)


def ffcv_loader(path: Path, settings: Settings, os_cache: bool, order: str, batch_size: int) -> Any:
    from ffcv.fields.basics import IntDecoder
    from ffcv.fields.rgb_image import SimpleRGBImageDecoder
    from ffcv.loader import Loader, OrderOption
    from ffcv.transforms import ToTensor

    return Loader(
        str(path),
        batch_size=batch_size,
        num_workers=settings.workers,
        order=OrderOption[order],
        os_cache=os_cache,
        drop_last=False,
        seed=settings.seed,
        pipelines={
            "image": [SimpleRGBImageDecoder(), ToTensor()],
            "label": [IntDecoder(), ToTensor()],
        },
    )


def torch_loader(folder: Path, settings: Settings, plan: Plan, cold: bool = False) -> Any:
    import torch
    from torch.utils.data import DataLoader

    return DataLoader(
        JpegFiles(folder, plan.images, drop_after_read=cold),
        batch_size=plan.batch_size,
        shuffle=True,
        num_workers=settings.workers,
        persistent_workers=settings.workers > 0,
        drop_last=False,
        generator=torch.Generator().manual_seed(settings.seed),
    )


def time_epoch(
    loader: Iterable[Any], expected: int, batch_size: int, name: str, cap_s: float | None = None
) -> Timing:
    """Iterate one epoch; return its images/s, whole epoch and steady state (batch size over the
    median time between batches: what the loader sustains without epoch start-up and tail).

    With ``cap_s`` the epoch stops after that many seconds (``Timing.images`` says how far it
    got); an FFCV epoch is then closed and its producer thread joined, so that it does not run
    on into the next measurement."""
    seen = 0
    stamps: list[float] = []
    started = time.perf_counter()
    iterator = iter(loader)
    for images, _labels in iterator:
        seen += int(images.shape[0])
        stamps.append(time.perf_counter())
        if cap_s is not None and stamps[-1] - started > cap_s:
            break
    elapsed = time.perf_counter() - started
    if seen < expected and hasattr(iterator, "close") and hasattr(iterator, "join"):
        iterator.close()  # FFCV's EpochIterator: stops its producer thread
        iterator.join(timeout=60)
    capped = cap_s is not None and seen < expected
    if seen != expected and not capped:
        raise SelfCheckError(
            f"{name}: an epoch delivered {seen} images, expected {expected}",
            "a loader that drops or repeats samples gives meaningless figures; report this "
            "with the JSON and the FFCV version",
        )
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    median_gap = statistics.median(gaps) if gaps else 0.0
    return Timing(seen / elapsed, batch_size / median_gap if median_gap > 0 else None, seen)


class Plan(NamedTuple):
    """How one group of loaders is measured."""

    images: int
    batch_size: int
    epochs: int
    cap_s: float | None = None  # stop an epoch after this long (cold rows; see Measured)


class Measured(NamedTuple):
    key: str
    label: str
    loader: Iterable[Any]
    # The plan's epoch cap applies to this loader: only where memory does not depend on how
    # far an epoch got (os_cache=True, DataLoader), never to FFCV's process cache, whose
    # RANDOM peak comes at the end of the epoch.
    capped: bool = False


def time_epochs(
    loaders: Sequence[Measured],
    settings: Settings,
    plan: Plan,
    sampler: benchmark_memory.MemorySampler,
    before_epoch: Callable[[], None] | None = None,
) -> list[tuple[list[float], list[float], list[int]]]:
    """``warmup + plan.epochs`` epochs of each loader, interleaved (one epoch of each in turn)
    so that a change in background load hits every configuration alike; per loader, return
    the measured epochs' images/s, steady-state images/s and images delivered. Measured
    epochs run inside the memory sampler's section for the loader's key; ``before_epoch``
    (the cold scenario's eviction) runs before every epoch, outside the timing."""
    results: list[tuple[list[float], list[float], list[int]]] = [([], [], []) for _ in loaders]
    for epoch in range(settings.warmup + plan.epochs):
        for measured, (rates, steady, counts) in zip(loaders, results, strict=True):
            if before_epoch is not None:
                before_epoch()
            gc.collect()  # the previous epoch's buffers go now, not inside the next section
            measuring = epoch >= settings.warmup
            section = sampler.section(measured.key) if measuring else contextlib.nullcontext()
            cap = plan.cap_s if measured.capped else None
            with section:
                timing = time_epoch(
                    measured.loader, plan.images, plan.batch_size, measured.label, cap
                )
            if measuring:
                counts.append(timing.images)
                rates.append(timing.images_per_s)
                if timing.steady_images_per_s is not None:
                    steady.append(timing.steady_images_per_s)
    return results


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0.0 else 10.0 * float(np.log10(255.0**2 / mse))


def check_fidelity(data_dir: Path, manifest: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """Decode the first images through FFCV (both .betons) and PIL; compare with the source."""
    count = min(16, settings.images)
    sources = [synth_image(index, settings.seed) for index in range(count)]
    result: dict[str, Any] = {"images": count}
    for mode in ("jpg", "raw"):
        loader = ffcv_loader(
            data_dir / manifest["betons"][mode], settings, True, "SEQUENTIAL", count
        )
        images, labels = next(iter(loader))
        images = images.numpy()
        if labels.numpy().reshape(-1).tolist() != [synth_label(i) for i in range(count)]:
            raise SelfCheckError(
                f"FFCV {mode} .beton returned wrong labels",
                "the .beton or the FFCV build is broken; delete the data folder and re-run",
            )
        if mode == "raw":
            exact = all(np.array_equal(images[i], sources[i]) for i in range(count))
            if not exact:
                raise SelfCheckError(
                    "FFCV raw .beton returned pixels that differ from the source images",
                    "a wrong read path (e.g. an offset ignored by the file read) gives wrong "
                    "pixels; check the FFCV build",
                )
            result["raw_exact"] = True
        else:
            result["ffcv_jpeg_min_psnr_db"] = min(psnr(images[i], sources[i]) for i in range(count))
    dataset = JpegFiles(data_dir / manifest["jpeg_dir"], settings.images)
    result["pil_jpeg_min_psnr_db"] = min(psnr(dataset[i][0], sources[i]) for i in range(count))
    for key in ("ffcv_jpeg_min_psnr_db", "pil_jpeg_min_psnr_db"):
        if result[key] < 30.0:
            raise SelfCheckError(
                f"{key} = {result[key]:.1f} dB (JPEG q{JPEG_QUALITY} gives > 30 dB)",
                "the decoder returns wrong pixels; check the libjpeg-turbo the build links",
            )
    return result


# --------------------------------------------------------------------------------------------
# Single-thread decode rates
# --------------------------------------------------------------------------------------------


def read_blobs(folder: Path, count: int) -> list[np.ndarray]:
    return [np.fromfile(folder / jpeg_name(index), dtype=np.uint8) for index in range(count)]


def decode_ffcv(blobs: Sequence[np.ndarray]) -> Iterator[None]:
    from ffcv.libffcv import imdecode

    destination = np.empty((IMAGE_SIZE, IMAGE_SIZE, 3), np.uint8)
    s = IMAGE_SIZE
    while True:
        for blob in blobs:
            if imdecode(blob, destination, s, s, s, s, 0, 0, 1, 1, False, False) != 0:
                raise SelfCheckError(
                    "ffcv.libffcv.imdecode failed (tjDecompress2 returned an error)",
                    "the FFCV extension's libjpeg-turbo cannot decode these files",
                )
        yield


def decode_ffcv_threads(blobs: Sequence[np.ndarray], threads: int) -> Iterator[None]:
    """``threads`` Python threads decoding disjoint shares of ``blobs`` with FFCV's imdecode.

    ctypes releases the GIL for the duration of each foreign call, so the threads decode in
    parallel: this is the decode rate the CPUs really give right now (it drops, like the
    Loader's, when other work competes), next to the single-thread rate times the workers.
    """
    from concurrent.futures import ThreadPoolExecutor

    shares = [list(blobs[i::threads]) for i in range(threads)]
    with ThreadPoolExecutor(max_workers=threads) as pool:
        decoders = [decode_ffcv(share) for share in shares]
        while True:
            for future in [pool.submit(next, decoder) for decoder in decoders]:
                future.result()
            yield


def decode_cv2(blobs: Sequence[np.ndarray]) -> Iterator[None]:
    import cv2

    flag = getattr(cv2, "IMREAD_COLOR_RGB", cv2.IMREAD_COLOR)  # RGB output where OpenCV has it
    while True:
        for blob in blobs:
            if cv2.imdecode(blob, flag) is None:
                raise SelfCheckError("cv2.imdecode failed", "OpenCV cannot decode these files")
        yield


def decode_pil(blobs: Sequence[np.ndarray]) -> Iterator[None]:
    import io

    from PIL import Image

    raw = [blob.tobytes() for blob in blobs]
    while True:
        for data in raw:
            with Image.open(io.BytesIO(data)) as image:
                np.asarray(image.convert("RGB"))
        yield


def time_decoder(decoder: Iterator[None], count: int, settings: Settings) -> list[float]:
    rates: list[float] = []
    for epoch in range(settings.warmup + settings.epochs):
        started = time.perf_counter()
        next(decoder)
        elapsed = time.perf_counter() - started
        if epoch >= settings.warmup:
            rates.append(count / elapsed)
    return rates


# --------------------------------------------------------------------------------------------
# Running, reporting
# --------------------------------------------------------------------------------------------

ORDERS = ("RANDOM", "QUASI_RANDOM")


def ffcv_key(mode: str, os_cache: bool, order: str, cold: bool = False) -> str:
    prefix = "cold_" if cold else ""
    return f"{prefix}ffcv_{mode}_os_cache_{str(os_cache).lower()}_{order.lower()}"


FFCV_CONFIGS = tuple((os_cache, order) for os_cache in (True, False) for order in ORDERS)


class Run:
    """The rows measured so far, and the sampler that gives them their memory figures."""

    def __init__(
        self,
        settings: Settings,
        sampler: benchmark_memory.MemorySampler,
        log: Callable[[str], None],
    ) -> None:
        self.settings = settings
        self.sampler = sampler
        self.log = log
        self.rows: list[Row] = []
        self.sweeps = 0  # the cold scenario's background evictions, and their cost
        self.sweep_s = 0.0
        # Loaders stay referenced until the end: numba complains (harmlessly, but loudly) when
        # a Loader's compiled pipeline is garbage-collected while others are still in use.
        self.keep: list[Any] = []

    def add(
        self,
        key: str,
        label: str,
        kind: str,
        rates: list[float],
        steady: list[float] | None = None,
        **params: Any,
    ) -> None:
        median_steady = statistics.median(steady) if steady else None
        peak = self.sampler.peak(key) if kind == "loader" else None
        memory = peak.as_json() if peak is not None else None
        row = Row(key, label, kind, statistics.median(rates), rates, params, median_steady, memory)
        self.rows.append(row)
        note = ""
        if peak is not None:
            note = f"  peak RSS {mib(peak.rss)}" + (
                f", anon {mib(peak.anon)}" if peak.anon is not None else ""
            )
        self.log(f"  {label:<50} {row.images_per_s:>10,.0f} images/s{note}")

    def loaders(
        self,
        measured: Sequence[Measured],
        plan: Plan,
        params: dict[str, dict[str, Any]],
        before_epoch: Callable[[], None] | None = None,
    ) -> None:
        """Measure ``measured`` interleaved; ``params[key]`` are the rows' parameters."""
        results = time_epochs(measured, self.settings, plan, self.sampler, before_epoch)
        for item, (rates, steady, counts) in zip(measured, results, strict=True):
            extra = {}
            if item.capped and plan.cap_s is not None:
                extra = {"epoch_cap_s": plan.cap_s, "images_per_epoch_measured": counts}
            self.add(item.key, item.label, "loader", rates, steady, **params[item.key], **extra)


def mib(count: int | None) -> str:
    return "-" if count is None else f"{count / 2**20:,.0f} MiB"


def measure_dataloader(
    run: Run, folder: Path, plan: Plan, cold: bool, before_epoch: Callable[[], None] | None
) -> None:
    settings = run.settings
    key = "cold_dataloader_pil" if cold else "dataloader_pil"
    label = ("cold " if cold else "") + "torch DataLoader + PIL (JPEG files)"
    loader: Any = torch_loader(folder, settings, plan, cold=cold)
    params = {
        "format": "jpg",
        "shuffle": True,
        "persistent_workers": settings.workers > 0,
        "batch_size": plan.batch_size,
        "images": plan.images,
    }
    run.loaders([Measured(key, label, loader, capped=cold)], plan, {key: params}, before_epoch)
    del loader  # shuts its worker processes down
    gc.collect()


def measure_decoders(run: Run, data_dir: Path, manifest: dict[str, Any]) -> None:
    settings = run.settings
    decode_count = min(settings.decode_images, settings.images)
    blobs = read_blobs(data_dir / manifest["jpeg_dir"], decode_count)
    decoders: list[tuple[str, str, Callable[[Sequence[np.ndarray]], Iterator[None]]]] = [
        ("decode_ffcv_imdecode", "decode 1 thread: ffcv imdecode (FASTDCT)", decode_ffcv),
        ("decode_cv2", "decode 1 thread: cv2.imdecode", decode_cv2),
        ("decode_pil", "decode 1 thread: PIL", decode_pil),
    ]
    for key, label, make in decoders:
        run.add(
            key,
            label,
            "decode",
            time_decoder(make(blobs), decode_count, settings),
            threads=1,
            images_per_pass=decode_count,
        )
    single = run.rows[-len(decoders)]
    run.add(
        "decode_ceiling",
        f"decode ceiling (ffcv imdecode x {settings.workers})",
        "ceiling",
        [rate * settings.workers for rate in single.epoch_images_per_s],
        workers=settings.workers,
    )
    run.add(
        "decode_ffcv_imdecode_threads",
        f"decode {settings.workers} threads: ffcv imdecode",
        "decode",
        time_decoder(decode_ffcv_threads(blobs, settings.workers), decode_count, settings),
        threads=settings.workers,
        images_per_pass=decode_count,
    )


def measure_ffcv(
    run: Run, betons: dict[str, Path], plans: dict[str, Plan], cold: bool, evict_ms: int = 0
) -> None:
    """Every (os_cache, order) configuration of each format, the configurations of one
    format interleaved. Cold (where the platform allows): the format's .beton is dropped from
    the page cache before every epoch and, by a background thread, every ``evict_ms``."""
    for mode in ("jpg", "raw"):
        plan = plans[mode]
        measured = [
            Measured(
                ffcv_key(mode, os_cache, order, cold),
                f"{'cold ' if cold else ''}FFCV {mode} os_cache={os_cache} {order}",
                ffcv_loader(betons[mode], run.settings, os_cache, order, plan.batch_size),
                capped=cold and os_cache,
            )
            for os_cache, order in FFCV_CONFIGS
        ]
        run.keep.extend(measured)
        params = {
            item.key: {
                "format": mode,
                "os_cache": os_cache,
                "order": order,
                "batch_size": plan.batch_size,
                "images": plan.images,
            }
            for item, (os_cache, order) in zip(measured, FFCV_CONFIGS, strict=True)
        }
        if not (cold and benchmark_cold.SUPPORTED):
            run.loaders(measured, plan, params)
            continue
        files = [betons[mode]]
        with benchmark_cold.Evictor(files, evict_ms / 1000) as evictor:
            run.loaders(measured, plan, params, functools.partial(benchmark_cold.evict, files))
        run.sweeps += evictor.sweeps
        run.sweep_s += evictor.busy_s


class ColdData(NamedTuple):
    manifest: dict[str, Any]
    betons: dict[str, Path]
    jpeg_dir: Path
    plans: dict[str, Plan]
    info: dict[str, Any]


def cold_setup(run: Run, manifest: dict[str, Any]) -> ColdData:
    """Prepare the cold data sets, make sure their pages can be dropped, describe them."""
    from ffcv.reader import Reader

    settings = run.settings
    cold = prepare_cold_data(settings, manifest, run.log)
    cold_dir = settings.out / "data" / "cold"
    betons = {mode: cold_dir / name for mode, name in cold["betons"].items()}
    jpeg_dir = cold_dir / cold["jpeg_dir"]
    plans = {
        mode: Plan(
            cold["images"][mode],
            settings.cold_batch_size,
            settings.cold_epochs,
            settings.cold_epoch_s,
        )
        for mode in ("jpg", "raw")
    }
    page_size = int(Reader(str(betons["jpg"])).page_size)
    window = 2 * settings.cold_batch_size * page_size
    info: dict[str, Any] = {
        "evicted": benchmark_cold.SUPPORTED,
        "eviction": (
            f"posix_fadvise(DONTNEED) (+ madvise(DONTNEED) of this process's maps) of each "
            f".beton before every epoch and every {settings.evict_ms} ms; each DataLoader "
            "worker drops a JPEG file right after reading it, and all files are dropped "
            "before every epoch"
            if benchmark_cold.SUPPORTED
            else "none: this platform has no posix_fadvise (see scripts/benchmark_cold.py)"
        ),
        "batch_size": settings.cold_batch_size,
        "epoch_cap_s": settings.cold_epoch_s,
        "read_ahead_kib": benchmark_cold.read_ahead_kib(betons["jpg"]),
        "page_size": page_size,
        "quasi_random_window_bytes": window,
        "files": {},
    }
    for mode, path in betons.items():
        size = path.stat().st_size
        info["files"][mode] = {
            "path": str(path),
            "bytes": size,
            "images": cold["images"][mode],
            "window_over_file": window / size,
        }
    info["files"]["jpeg_files"] = {
        "bytes": cold["jpeg_file_bytes"],
        "images": cold["images"]["jpg"],
    }
    if benchmark_cold.SUPPORTED:
        paths = [*betons.values(), *sorted(jpeg_dir.iterdir())]
        benchmark_cold.flush(paths)
        benchmark_cold.evict(paths)
        info["resident_after_evict"] = {
            mode: benchmark_cold.resident_fraction(path) for mode, path in betons.items()
        }
    for mode, entry in info["files"].items():
        if "window_over_file" in entry:
            run.log(
                f"cold {mode}: {entry['images']} images, .beton {mib(entry['bytes'])}; "
                f"QUASI_RANDOM window 2 x {settings.cold_batch_size} x {mib(page_size)} = "
                f"{mib(window)} = {entry['window_over_file']:.2f} of the file"
            )
    return ColdData(cold, betons, jpeg_dir, plans, info)


def drop_jpeg_files(folder: Path) -> Callable[[], None]:
    files = sorted(folder.iterdir())
    return functools.partial(benchmark_cold.evict, files)


def run_all(settings: Settings, log: Callable[[str], None]) -> dict[str, Any]:
    """Prepare the data, measure every row of the chosen scenarios, return the report (the
    JSON's content).

    Order matters on Linux: the DataLoaders fork their workers before FFCV has started any
    numba/TBB threads (forking a process that runs TBB threads can deadlock the child).
    """
    started_utc = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    load_at_start = [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None
    started = time.perf_counter()
    manifest = prepare_data(settings, log)
    data_dir = settings.out / "data"
    warm = "warm" in settings.scenarios
    warm_betons = {mode: data_dir / name for mode, name in manifest["betons"].items()}
    warm_plan = Plan(settings.images, settings.batch_size, settings.epochs)
    report: dict[str, Any] = {}
    with benchmark_memory.MemorySampler() as sampler:
        run = Run(settings, sampler, log)
        cold = cold_setup(run, manifest) if "cold" in settings.scenarios else None
        log(f"measuring: {settings.warmup} warm-up + {settings.epochs} epochs per warm row")
        if warm:
            measure_dataloader(run, data_dir / manifest["jpeg_dir"], warm_plan, False, None)
        if cold is not None:
            log(f"cold rows: {settings.warmup} warm-up + {settings.cold_epochs} epochs each")
            drop = drop_jpeg_files(cold.jpeg_dir) if cold.info["evicted"] else None
            measure_dataloader(run, cold.jpeg_dir, cold.plans["jpg"], True, drop)

        log("checking decoded pixels against the source images")
        fidelity = check_fidelity(data_dir, manifest, settings)
        if warm:
            measure_decoders(run, data_dir, manifest)
            measure_ffcv(run, warm_betons, {"jpg": warm_plan, "raw": warm_plan}, False)
        if cold is not None:
            measure_ffcv(run, cold.betons, cold.plans, cold=True, evict_ms=settings.evict_ms)
            cold.info["background_sweeps"] = run.sweeps
            cold.info["background_sweep_cpu_s"] = round(run.sweep_s, 2)
            report["cold"] = cold.info
    if "layers" in settings.scenarios:
        log("threading layers: one child process per layer, epochs interleaved")
        # smoke: only the headline configuration (each costs a compilation per child)
        configs = benchmark_layers.CONFIGS[:1] if settings.smoke else benchmark_layers.CONFIGS
        report["threading_layers"] = benchmark_layers.compare_layers(
            settings, warm_betons, settings.out, log, configs
        )

    order_of = {key: i for i, key in enumerate(DISPLAY_ORDER)}
    rows = sorted(run.rows, key=lambda row: order_of[row.key])
    by_key = {row.key: row for row in rows}
    versions = package_versions()
    report.update(
        {
            "schema": SCHEMA,
            "smoke": settings.smoke,
            "started_utc": started_utc,
            "duration_s": round(time.perf_counter() - started, 1),
            "machine": {**machine_info(), "load_average_at_start": load_at_start},
            "versions": versions,
            "settings": {
                k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(settings).items()
            },
            "dataset": manifest,
            "fidelity": fidelity,
            "rows": [asdict(row) for row in rows],
            "ratios": ratios(by_key),
            "diagnostics": diagnostics(by_key),
            "cold_ratios": cold_ratios(by_key, report.get("cold")),
        }
    )
    report["warnings"] = warnings(by_key, settings, load_at_start, report)
    return report


HEADLINE = ffcv_key("jpg", True, "RANDOM")


def diagnostics(by_key: dict[str, Row]) -> dict[str, Any]:
    """Ratios with no goal that tell a slow loader from a busy or poorly scaling machine."""
    if HEADLINE not in by_key:
        return {}
    headline = by_key[HEADLINE].images_per_s
    threads = by_key["decode_ffcv_imdecode_threads"].images_per_s
    return {
        "ffcv_over_measured_thread_decode": {
            "value": headline / threads,
            "what": "FFCV jpg os_cache=True RANDOM / measured N-thread imdecode rate",
        },
        "ffcv_steady_over_decode_ceiling": {
            "value": (by_key[HEADLINE].steady_images_per_s or 0.0)
            / by_key["decode_ceiling"].images_per_s,
            "what": "FFCV jpg os_cache=True RANDOM steady state (no epoch start/end) / ceiling",
        },
        "thread_decode_over_ceiling": {
            "value": threads / by_key["decode_ceiling"].images_per_s,
            "what": "measured N-thread imdecode rate / decode ceiling (CPU scaling, contention)",
        },
    }


def cold_ratios(by_key: dict[str, Row], cold: dict[str, Any] | None) -> dict[str, Any]:
    """Ratios for the larger-than-RAM scenario (no goals): speed of the two bounded ways to
    read such a data set, and how the process cache's memory compares with the file."""
    if cold is None:
        return {}
    result: dict[str, Any] = {}
    for mode in ("jpg", "raw"):
        quasi = by_key[ffcv_key(mode, False, "QUASI_RANDOM", cold=True)]
        mapped = by_key[ffcv_key(mode, True, "RANDOM", cold=True)]
        result[f"quasi_random_process_cache_over_os_cache_{mode}"] = {
            "value": quasi.images_per_s / mapped.images_per_s,
            "what": f"cold {mode}: os_cache=False QUASI_RANDOM / os_cache=True RANDOM",
        }
        size = cold["files"][mode]["bytes"]
        for order in ORDERS:
            grown = (by_key[ffcv_key(mode, False, order, cold=True)].memory or {}).get(
                "anon_growth_bytes"
            )
            if grown is not None:
                result[f"process_cache_growth_over_file_{mode}_{order.lower()}"] = {
                    "value": grown / size,
                    "what": f"cold {mode} os_cache=False {order}: anon memory growth / file size",
                }
    result["ffcv_over_dataloader_pil"] = {
        "value": by_key[ffcv_key("jpg", False, "QUASI_RANDOM", cold=True)].images_per_s
        / by_key["cold_dataloader_pil"].images_per_s,
        "what": "cold: FFCV jpg os_cache=False QUASI_RANDOM / torch DataLoader + PIL",
    }
    return result


def warnings(
    by_key: dict[str, Row],
    settings: Settings,
    load_at_start: list[float] | None,
    report: dict[str, Any],
) -> list[str]:
    """Signs that the figures, or the build, are not what they should be."""
    found: list[str] = []
    if "decode_ffcv_imdecode" in by_key:
        ffcv_rate = by_key["decode_ffcv_imdecode"].images_per_s
        cv2_rate = by_key["decode_cv2"].images_per_s
        # FFCV decodes with TJFLAG_FASTDCT through libjpeg-turbo; opencv-python's wheels bundle
        # a SIMD libjpeg-turbo. A slower FFCV decode suggests a libjpeg-turbo without SIMD.
        if ffcv_rate < 0.8 * cv2_rate:
            found.append(
                f"FFCV's JPEG decode ({ffcv_rate:,.0f}/s) is slower than cv2.imdecode "
                f"({cv2_rate:,.0f}/s): the libjpeg-turbo FFCV links may lack SIMD"
            )
    cpus = os.cpu_count() or 1
    if settings.workers > cpus:
        found.append(
            f"{settings.workers} workers on {cpus} CPUs: the decode ceiling assumes one CPU each"
        )
    # the 1-minute load average before the run started: other work on the machine
    if load_at_start is not None and load_at_start[0] > 0.25 * cpus + 0.5:
        found.append(
            f"load average {load_at_start[0]:.1f} on {cpus} CPUs when the run started: other "
            "work competed with the benchmark, figures are low and noisy (the multi-threaded "
            "FFCV rows suffer most); re-run on a quiet machine"
        )
    cold = report.get("cold")
    if cold is not None and not cold["evicted"]:
        found.append(
            "cold rows were NOT read cold: this platform cannot drop a file from the page "
            "cache without administrator rights; their speed is that of cached data (their "
            "memory figures still hold)"
        )
    if cold is not None:
        for mode, fraction in (cold.get("resident_after_evict") or {}).items():
            if fraction is not None and fraction > 0.05:
                found.append(
                    f"{fraction:.0%} of the cold {mode} .beton stayed in the page cache after "
                    "eviction (a file system such as tmpfs keeps its pages): the cold rows "
                    "read cached data; pass an --out on a disk"
                )
        read_ahead = cold.get("read_ahead_kib")
        if read_ahead is not None and read_ahead > 512:
            found.append(
                f"the disk holding --out reads ahead {read_ahead} KiB (read_ahead_kb): a page "
                "fault in a memory map reads that much around it, so cold os_cache=True rows "
                f"read up to {read_ahead} KiB per image at random; desktop disks usually use "
                "128 KiB, so expect os_cache=True to do better there"
            )
        for mode in ("jpg", "raw"):
            share = cold["files"][mode]["window_over_file"]
            if share > 0.5:
                found.append(
                    f"QUASI_RANDOM's window is {share:.2f} of the cold {mode} .beton: too "
                    "small a file to show the larger-than-RAM behaviour (raise "
                    f"--cold-{mode}-mib or lower --cold-batch-size)"
                )
    for layer, entry in (report.get("threading_layers") or {}).get("layers", {}).items():
        if entry["error"]:
            found.append(f"numba threading layer {layer} could not start: {entry['error']}")
    if settings.smoke:
        found.append("--smoke size: the figures check that everything runs, they mean nothing")
    return found


DISPLAY_ORDER = (
    *(ffcv_key(m, c, o) for m in ("jpg", "raw") for c in (True, False) for o in ORDERS),
    "dataloader_pil",
    "decode_ceiling",
    "decode_ffcv_imdecode_threads",
    "decode_ffcv_imdecode",
    "decode_cv2",
    "decode_pil",
    *(ffcv_key(m, c, o, cold=True) for m in ("jpg", "raw") for c in (True, False) for o in ORDERS),
    "cold_dataloader_pil",
)


def ratios(by_key: dict[str, Row]) -> dict[str, Any]:
    """Ratios the issue reports against; FFCV headline = JPEG, os_cache=True, RANDOM."""
    if HEADLINE not in by_key:
        return {}
    headline = by_key[HEADLINE].images_per_s

    def entry(value: float, goal: float, what: str) -> dict[str, Any]:
        return {"value": value, "goal": goal, "met": value >= goal, "what": what}

    result: dict[str, Any] = {
        "ffcv_over_dataloader_pil": entry(
            headline / by_key["dataloader_pil"].images_per_s,
            GOAL_FFCV_OVER_DATALOADER,
            "FFCV jpg os_cache=True RANDOM / torch DataLoader + PIL",
        ),
        "ffcv_over_decode_ceiling": entry(
            headline / by_key["decode_ceiling"].images_per_s,
            GOAL_FFCV_OVER_CEILING,
            "FFCV jpg os_cache=True RANDOM / (single-thread ffcv imdecode rate x workers)",
        ),
    }
    for mode in ("jpg", "raw"):
        for order in ORDERS:
            off = by_key[ffcv_key(mode, False, order)].images_per_s
            on = by_key[ffcv_key(mode, True, order)].images_per_s
            result[f"os_cache_false_over_true_{mode}_{order.lower()}"] = entry(
                off / on,
                GOAL_NO_OS_CACHE_OVER_OS_CACHE,
                f"FFCV {mode} {order}: os_cache=False / os_cache=True",
            )
    return result


def machine_info() -> dict[str, Any]:
    info: dict[str, Any] = {
        "system": platform.system(),
        "release": platform.release(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "cpu_model": platform.processor() or None,
    }
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                info["cpu_model"] = line.split(":", 1)[1].strip()
                break
    if hasattr(os, "sched_getaffinity"):
        info["usable_cpus"] = len(os.sched_getaffinity(0))
    if hasattr(os, "getloadavg"):
        info["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    if hasattr(os, "nice"):
        info["niceness"] = os.nice(0)  # > 0: the run yielded the CPUs to other work
    try:
        import psutil

        info["memory_gib"] = round(psutil.virtual_memory().total / 2**30, 1)
    except ImportError:
        pass
    return info


def package_versions() -> dict[str, str | None]:
    from importlib import metadata

    versions: dict[str, str | None] = {}
    for dist in ("ffcv", "numpy", "numba", "torch", "opencv-python", "pillow", "matplotlib"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = None  # conda-forge's opencv/pillow may register no pip metadata
    import cv2
    import numba
    import PIL

    versions["cv2.__version__"] = cv2.__version__
    versions["PIL.__version__"] = PIL.__version__
    versions["loaded_native_libraries"] = loaded_libraries()
    try:  # the layer FFCV's parallel loops ran on (tbb, omp or workqueue)
        versions["numba_threading_layer"] = numba.threading_layer()
    except ValueError:  # no parallel region has run yet
        versions["numba_threading_layer"] = None
    return versions


def loaded_libraries() -> list[str] | None:
    """Files of the JPEG/OpenCV/threading libraries mapped into this process (which
    turbojpeg the FFCV extension really uses: a wrong or non-SIMD one shows here).
    psutil reads /proc/<pid>/smaps on Linux and the module list on Windows."""
    import re

    try:
        import psutil

        maps = psutil.Process().memory_maps()
    except (ImportError, OSError, AttributeError):
        return None
    pattern = re.compile(r"jpeg|opencv_(core|imgproc)|tbb|gomp|iomp|vcomp|_libffcv|pthread", re.I)
    return sorted({m.path for m in maps if pattern.search(Path(m.path).name)})


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------

SMOKE = {
    "images": 96,
    "epochs": 2,
    "warmup": 1,
    "batch_size": 16,
    "decode_images": 96,
    "cold_batch_size": 2,
    "cold_jpg_mib": 16,
    "cold_raw_mib": 24,
    "cold_epochs": 2,
}


def scenario_list(text: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(name.strip() for name in text.split(",") if name.strip()))
    unknown = [name for name in names if name not in SCENARIOS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown scenario {', '.join(unknown) or '(none)'}; choose from {','.join(SCENARIOS)}"
        )
    return names


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="benchmark.py",
        description="Measure FFCV Loader throughput against torch DataLoader + PIL and the "
        "JPEG decode ceiling, on a synthetic 256x256 image set.",
    )
    parser.add_argument("--images", type=positive, default=4000, help="images in the set (4000)")
    parser.add_argument("--epochs", type=positive, default=7, help="measured epochs (7)")
    parser.add_argument("--warmup", type=non_negative, default=1, help="warm-up epochs (1)")
    parser.add_argument(
        "--workers",
        type=positive,
        default=os.cpu_count() or 1,
        help="FFCV threads = DataLoader worker processes (all CPUs)",
    )
    parser.add_argument("--batch-size", type=positive, default=64, help="batch size (64)")
    parser.add_argument(
        "--decode-images",
        type=positive,
        default=1000,
        help="images per single-thread decode pass (1000)",
    )
    parser.add_argument("--seed", type=non_negative, default=0, help="data set and order seed (0)")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("benchmark-results"),
        help="output folder: data/, benchmark.json, benchmark.png (./benchmark-results)",
    )
    parser.add_argument(
        "--start-method",
        choices=multiprocessing.get_all_start_methods(),
        default=None,
        help="multiprocessing start method (platform default; Windows has only 'spawn')",
    )
    parser.add_argument(
        "--scenarios",
        type=scenario_list,
        default=SCENARIOS,
        help="comma-separated subset of: warm (data in the page cache: the CPU side), cold "
        "(larger than RAM: page cache dropped before and during every epoch), layers (numba "
        "threading layers compared); default: all",
    )
    cold = parser.add_argument_group("cold scenario")
    cold.add_argument(
        "--cold-batch-size",
        type=positive,
        default=8,
        help="batch size (8: QUASI_RANDOM's window is 2 x batch x 8 MiB = 128 MiB)",
    )
    cold.add_argument(
        "--cold-jpg-mib", type=positive, default=512, help="size of the JPEG .beton (512 MiB)"
    )
    cold.add_argument(
        "--cold-raw-mib", type=positive, default=1024, help="size of the raw .beton (1024 MiB)"
    )
    cold.add_argument("--cold-epochs", type=positive, default=3, help="measured epochs (3)")
    cold.add_argument(
        "--cold-epoch-s",
        type=positive,
        default=10,
        help="stop an os_cache=True or DataLoader epoch after N s (10): their memory does not "
        "depend on it, and random page faults can be very slow (see the read-ahead warning)",
    )
    cold.add_argument(
        "--evict-ms",
        type=positive,
        default=100,
        help="drop the .beton files from the page cache every N ms during epochs (100)",
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="tiny size to check that everything runs: "
        + ", ".join(f"{k.replace('_', '-')} {v}" for k, v in SMOKE.items()),
    )
    return parser


def settings_from(args: argparse.Namespace) -> Settings:
    values = {
        "images": args.images,
        "epochs": args.epochs,
        "warmup": args.warmup,
        "batch_size": args.batch_size,
        "decode_images": args.decode_images,
        "cold_batch_size": args.cold_batch_size,
        "cold_jpg_mib": args.cold_jpg_mib,
        "cold_raw_mib": args.cold_raw_mib,
        "cold_epochs": args.cold_epochs,
    }
    if args.smoke:
        values.update(SMOKE)
    return Settings(
        workers=args.workers,
        seed=args.seed,
        out=args.out.resolve(),
        start_method=args.start_method or multiprocessing.get_start_method(),
        smoke=args.smoke,
        scenarios=args.scenarios,
        evict_ms=args.evict_ms,
        cold_epoch_s=float(args.cold_epoch_s),
        **values,
    )


def check_packages() -> None:
    import importlib

    for name in REQUIRED_PACKAGES:
        try:
            importlib.import_module(name)
        except ImportError as error:
            raise MissingPackageError(
                f"cannot import {name}: {error}",
                "run this script with the training environment's python (activate it first)",
            ) from error


def check_output(settings: Settings) -> None:
    try:
        settings.out.mkdir(parents=True, exist_ok=True)
        probe = settings.out / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise OutputDirError(
            f"cannot write to the output folder {settings.out}: {error}",
            "pass a writable folder with --out",
        ) from error
    # pixels.npy + raw .beton + JPEG .beton + JPEG files, with room to spare; cold: two
    # .beton files and the JPEG files (as large as the JPEG .beton)
    need = settings.images * RAW_IMAGE_BYTES * 2.3
    if "cold" in settings.scenarios:
        need += (2 * settings.cold_jpg_mib + settings.cold_raw_mib) * 2**20 * 1.1
    free = shutil.disk_usage(settings.out).free
    if free < need:
        raise OutputDirError(
            f"{settings.out} has {free / 2**30:.1f} GiB free; the data sets need about "
            f"{need / 2**30:.1f} GiB",
            "pass smaller --images / --cold-*-mib, or an --out on a disk with more space",
        )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.start_method:
        multiprocessing.set_start_method(args.start_method, force=True)
    settings = settings_from(args)

    started = time.perf_counter()

    def log(message: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f} s] {message}", flush=True)

    try:
        check_packages()
        check_output(settings)
        report = run_all(settings, log)
        json_path = settings.out / "benchmark.json"
        chart_path = settings.out / "benchmark.png"
        json_path.write_text(json.dumps(report, indent=2), encoding="utf-8")
        write_chart(report, chart_path)
    except BenchmarkError as error:
        print(f"error: {error}\nhint: {error.hint}", file=sys.stderr)
        return error.exit_code
    print()
    print(format_table(report))
    for warning in report["warnings"]:
        print(f"warning: {warning}")
    print(f"\nwrote {json_path} and {chart_path} ({report['duration_s']:.0f} s)")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
