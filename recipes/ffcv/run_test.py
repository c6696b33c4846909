"""Round-trip test for the ffcv package: write a small .beton, read it back, compare pixels.

conda-build runs this file automatically after building the recipe (in the test env, on
Windows and Linux). The Linux test suite (tests/test_ffcv_roundtrip.py) runs the same file
with other orders and multiprocessing start methods.

Fields: raw RGB (must come back bit-exact), JPEG RGB (compared with an independent decode of
the very bytes FFCV stored, by OpenCV's decoder), and an int label equal to the sample index
(every index must appear exactly once per epoch). Both cache modes are read:
os_cache=True memory-maps the file; os_cache=False goes through the process-cache page
reader and its positional read, the code that was broken on Windows.

Spawn-safe: Windows starts FFCV's writer workers with "spawn", so all work happens under
`if __name__ == "__main__":` and the dataset is a picklable module-level class.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

HEIGHT, WIDTH = 48, 64
JPEG_QUALITY = 90
MIN_JPEG_PSNR_DB = 35.0  # a wrong image scores ~10 dB; FASTDCT vs OpenCV measured >= 45 dB


def make_image(index: int) -> np.ndarray:
    """A smooth, index-dependent RGB image (natural-ish content that JPEG handles well)."""
    rows, cols = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float64)
    phase = index * 0.7
    channels = [
        127 + 100 * np.sin(rows / (5 + index % 7) + phase),
        127 + 100 * np.cos(cols / (6 + index % 5) - phase),
        (rows * 3 + cols * 2 + index * 11) % 256,
    ]
    return np.clip(np.stack(channels, axis=-1), 0, 255).astype(np.uint8)


class SyntheticImages:
    """Dataset of (raw image, same image for JPEG, label) tuples for DatasetWriter."""

    def __init__(self, count: int) -> None:
        self.count = count

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray, int]:
        image = make_image(index)
        return image, image, index


def reference_jpeg_decode(index: int) -> np.ndarray:
    """Encode exactly as FFCV's writer does, then decode with OpenCV (not TurboJPEG)."""
    from ffcv.fields.rgb_image import encode_jpeg

    encoded = encode_jpeg(make_image(index), JPEG_QUALITY)
    decoded = cv2.imdecode(np.frombuffer(encoded.tobytes(), np.uint8), cv2.IMREAD_COLOR)
    return cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def write_dataset(path: Path, count: int, workers: int) -> None:
    from ffcv.fields import IntField, RGBImageField
    from ffcv.writer import DatasetWriter

    fields = {
        "raw": RGBImageField(write_mode="raw"),
        "jpeg": RGBImageField(write_mode="jpg", jpeg_quality=JPEG_QUALITY),
        "label": IntField(),
    }
    DatasetWriter(str(path), fields, num_workers=workers).from_indexed_dataset(
        SyntheticImages(count)
    )


def read_epochs(path: Path, count: int, os_cache: bool, order: str, epochs: int) -> list[str]:
    """Read `epochs` epochs; return a list of problems (empty when everything matched)."""
    from ffcv.fields.basics import IntDecoder
    from ffcv.fields.decoders import SimpleRGBImageDecoder
    from ffcv.loader import Loader, OrderOption

    loader = Loader(
        str(path),
        batch_size=7,
        num_workers=2,
        os_cache=os_cache,
        order=OrderOption[order],
        drop_last=False,
        seed=1234,
        pipelines={
            "raw": [SimpleRGBImageDecoder()],
            "jpeg": [SimpleRGBImageDecoder()],
            "label": [IntDecoder()],
        },
    )
    problems: list[str] = []
    for epoch in range(epochs):
        seen: list[int] = []
        for raw, jpeg, labels in loader:
            for i, label in enumerate(np.asarray(labels).reshape(-1).tolist()):
                seen.append(label)
                if not np.array_equal(np.asarray(raw[i]), make_image(label)):
                    problems.append(f"epoch {epoch}: raw image of sample {label} differs")
                quality = psnr(np.asarray(jpeg[i]), reference_jpeg_decode(label))
                if quality < MIN_JPEG_PSNR_DB:
                    problems.append(
                        f"epoch {epoch}: JPEG sample {label} PSNR {quality:.1f} dB "
                        f"< {MIN_JPEG_PSNR_DB} dB against OpenCV's decode"
                    )
        if sorted(seen) != list(range(count)):
            problems.append(f"epoch {epoch}: indices seen are not each index once: {seen}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=40)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--orders", nargs="+", default=["QUASI_RANDOM", "RANDOM"])
    parser.add_argument("--os-cache", nargs="+", default=["true", "false"])
    parser.add_argument("--start-method", default="spawn", help="fork, spawn or forkserver")
    parser.add_argument("--writer-workers", type=int, default=2)
    args = parser.parse_args(argv)

    multiprocessing.set_start_method(args.start_method, force=True)
    failures = 0
    with tempfile.TemporaryDirectory(prefix="ffcv-run-test-") as tmp:
        path = Path(tmp) / "roundtrip.beton"
        write_dataset(path, args.images, args.writer_workers)
        for order in args.orders:
            for cache in args.os_cache:
                os_cache = cache.lower() == "true"
                problems = read_epochs(path, args.images, os_cache, order, args.epochs)
                verdict = "PASS" if not problems else "FAIL"
                print(
                    f"{verdict} order={order} os_cache={os_cache} "
                    f"start={args.start_method} images={args.images} epochs={args.epochs}"
                )
                for problem in problems[:10]:
                    print(f"    {problem}")
                failures += bool(problems)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
