"""Verify a training environment built from our channel: FFCV, fastxtend, fastai, PyTorch.

Run inside the environment (the driver does this after ``micromamba create``)::

    python scripts/verify_env.py --device cpu
    python scripts/verify_env.py --device cuda

Each check prints one line, ``PASS <name>: ...``, ``FAIL <name>: ...`` or ``N/A <name>: ...``
(a check that cannot apply on this platform is reported as N/A, never as a pass), then a summary
line. Exit status: 0 all checks passed, 1 a check failed, 2 bad command line.

The script is spawn-safe (Windows starts worker processes with ``spawn``): all work happens under
``if __name__ == "__main__":`` and the dataset objects handed to FFCV's writer are module-level,
picklable classes.
"""

from __future__ import annotations

import argparse
import ctypes
import importlib
import importlib.metadata
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

# Images of the synthetic datasets: small, so the whole run stays well under two minutes on
# two CPU cores.
IMAGE_SIZE = 32
ROUNDTRIP_SAMPLES = 96
TRAIN_SAMPLES = 1024
VALID_SAMPLES = 256
BATCH_SIZE = 32
# The learnable task has two classes drawn at random per image: chance accuracy is about 0.5.
MIN_ACCURACY = 0.75


@dataclass(frozen=True)
class CheckResult:
    """Outcome of one check: ``status`` is PASS, FAIL or N/A."""

    name: str
    status: str
    detail: str


class CheckFailed(Exception):
    """A check found the environment broken; the message says what and how."""


# --------------------------------------------------------------------------------------------
# Synthetic datasets (module level so that spawned writer processes can unpickle them)
# --------------------------------------------------------------------------------------------
def roundtrip_image(index: int) -> np.ndarray:
    """Deterministic HxWx3 uint8 image for sample ``index`` of the round-trip dataset."""
    rng = np.random.default_rng(1000 + index)
    return rng.integers(0, 256, size=(IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8)


def halves_image(index: int, seed: int, size: int = IMAGE_SIZE) -> tuple[np.ndarray, int]:
    """Image and label of the learnable task: label 1 when the left half is the brighter one."""
    rng = np.random.default_rng(seed * 100_003 + index)
    label = int(rng.integers(0, 2))
    image = rng.integers(0, 150, size=(size, size, 3), dtype=np.int16)
    half = size // 2
    if label == 1:
        image[:, :half] += 100
    else:
        image[:, half:] += 100
    return image.astype(np.uint8), label


class RoundTripDataset:
    """Indexable dataset of (image, index) pairs for FFCV's own writer."""

    def __len__(self) -> int:
        return ROUNDTRIP_SAMPLES

    def __getitem__(self, index: int) -> tuple[np.ndarray, int]:
        return roundtrip_image(index), index


class HalvesDataset:
    """Indexable dataset of (image, label) pairs for fastxtend's writer."""

    def __init__(self, length: int, seed: int) -> None:
        self.length = length
        self.seed = seed

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> tuple[np.ndarray, int]:
        return halves_image(index, self.seed)


# --------------------------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------------------------
def check_imports(_: argparse.Namespace) -> str:
    versions = []
    for module in ("torch", "cv2", "ffcv", "ffcv._libffcv", "fastai", "fastxtend"):
        try:
            mod = importlib.import_module(module)
        except Exception as exc:
            raise CheckFailed(
                f"import {module} failed: {exc!r}; recreate the environment from the channel"
            ) from exc
        if "." in module:
            continue
        try:  # the distribution's version: FFCV 1.0.2's __version__ still says 0.0.3rc1
            version = importlib.metadata.version(module)
        except importlib.metadata.PackageNotFoundError:
            version = getattr(mod, "__version__", "?")
        versions.append(f"{module} {version}")
    importlib.import_module("fastxtend.ffcv.all")
    return ", ".join(versions)


def check_dlls(_: argparse.Namespace) -> str | None:
    """Every DLL that FFCV's extension imports must load (Windows only; N/A elsewhere).

    The import table is read with tools/pe_imports.py (this repository's PE reader), then each
    named DLL is loaded with ctypes from this process, which has the same DLL search path the
    extension's import had (conda's python adds Library\\bin at start-up).
    """
    if os.name != "nt":
        return None
    import ffcv._libffcv as ext

    sys.path.insert(0, str(REPO))
    try:
        from tools.pe_imports import parse_pe
    except ImportError as exc:
        raise CheckFailed(
            f"cannot import tools/pe_imports.py from {REPO}: run scripts/verify_env.py from "
            "the repository checkout it came with"
        ) from exc

    ext_path = Path(ext.__file__ or "")
    names = parse_pe(ext_path).dll_names()
    missing = []
    for name in names:
        try:
            ctypes.WinDLL(name)  # type: ignore[attr-defined]
        except OSError as exc:
            missing.append(f"{name} ({exc})")
    if missing:
        raise CheckFailed(
            f"{ext_path.name} imports DLLs that do not load: {', '.join(missing)}; "
            "they belong in the environment's Library\\bin (reinstall ffcv from the channel)"
        )
    return f"{ext_path.name} imports {len(names)} DLLs, all load: {', '.join(names)}"


_ROUNDTRIP_WRITTEN: set[Path] = set()


def roundtrip_beton(args: argparse.Namespace) -> Path:
    """The round-trip dataset as a raw-pixel .beton, written by FFCV's own writer on the
    first call of a run (the round-trip check, or whichever check runs first under
    --checks) and read by every check that needs it. A failed write raises and is not
    remembered, so the next check writes again."""
    path = args.workdir / "roundtrip.beton"
    if path in _ROUNDTRIP_WRITTEN:
        return path
    from ffcv.fields import IntField, RGBImageField
    from ffcv.writer import DatasetWriter

    writer = DatasetWriter(
        str(path),
        {"image": RGBImageField(write_mode="raw"), "label": IntField()},
        num_workers=args.workers,
    )
    writer.from_indexed_dataset(RoundTripDataset())
    _ROUNDTRIP_WRITTEN.add(path)
    return path


def check_roundtrip(args: argparse.Namespace) -> str:
    """Write a raw-pixel .beton with FFCV and read it back in both cache modes and orders."""
    from ffcv.fields.decoders import IntDecoder, SimpleRGBImageDecoder
    from ffcv.loader import Loader, OrderOption

    path = roundtrip_beton(args)
    checked = []
    for os_cache in (True, False):
        for order in (OrderOption.SEQUENTIAL, OrderOption.RANDOM):
            loader = Loader(
                str(path),
                batch_size=16,
                num_workers=args.workers,
                os_cache=os_cache,
                order=order,
                drop_last=False,
                seed=0,
                pipelines={"image": [SimpleRGBImageDecoder()], "label": [IntDecoder()]},
            )
            seen: list[int] = []
            for images, labels in loader:
                for image, label in zip(images, labels.reshape(-1), strict=True):
                    index = int(label)
                    if not np.array_equal(np.asarray(image), roundtrip_image(index)):
                        raise CheckFailed(
                            f"os_cache={os_cache} order={order.name}: sample {index} pixels "
                            "differ from what was written"
                        )
                    seen.append(index)
            if sorted(seen) != list(range(ROUNDTRIP_SAMPLES)):
                raise CheckFailed(
                    f"os_cache={os_cache} order={order.name}: read {len(seen)} samples, "
                    f"{len(set(seen))} distinct, expected each of {ROUNDTRIP_SAMPLES} once"
                )
            checked.append(f"os_cache={os_cache}/{order.name}")
    return f"{ROUNDTRIP_SAMPLES} images pixel-exact in " + ", ".join(checked)


LAYERS = ("tbb", "omp", "workqueue")
EPOCH_TIMEOUT_S = 120


def _probe_layer(layer: str) -> bool:
    """Whether numba can start ``layer`` here: a tiny prange loop in a fresh interpreter."""
    code = (
        "import numba\n"
        "@numba.njit(parallel=True)\n"
        "def f(n):\n"
        "    s = 0\n"
        "    for i in numba.prange(n):\n"
        "        s += i\n"
        "    return s\n"
        "f(64)\n"
        "print(numba.threading_layer())\n"
    )
    env = {**os.environ, "NUMBA_THREADING_LAYER": layer}
    try:
        result = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
        )
    except subprocess.TimeoutExpired:
        return False
    return result.returncode == 0 and result.stdout.strip() == layer


def check_threading_layer(args: argparse.Namespace) -> str:
    """FFCV's parallel loops run on numba's threading layer: start it, run a Loader on it.

    numba picks the layer at the first parallel call (NUMBA_THREADING_LAYER, default: the
    first of tbb, omp, workqueue that loads); FFCV makes that call when it is imported
    (ffcv/pipeline/compiler.py runs set_num_threads(1)). The layer is started here before
    FFCV is imported, so that one that cannot load fails this check with numba's reason.
    Then one epoch of a RANDOM os_cache=False Loader with --workers threads must deliver
    every image within EPOCH_TIMEOUT_S. Which other layers this environment can start is
    reported too (each probed in a fresh interpreter).
    """
    import threading

    import numba

    requested = os.environ.get("NUMBA_THREADING_LAYER", "default")

    @numba.njit(parallel=True)
    def total(n: int) -> int:
        s = 0
        for i in numba.prange(n):
            s += i
        return s

    try:
        total(64)
    except ValueError as exc:  # numba: "No threading layer could be loaded" and why
        raise CheckFailed(
            f"numba cannot start threading layer {requested!r}: {exc}; unset "
            "NUMBA_THREADING_LAYER or install what that layer needs (tbb: the tbb package)"
        ) from exc
    layer = numba.threading_layer()
    from ffcv.fields.decoders import IntDecoder, SimpleRGBImageDecoder
    from ffcv.loader import Loader, OrderOption

    path = roundtrip_beton(args)
    loader = Loader(
        str(path),
        batch_size=16,
        num_workers=args.workers,
        os_cache=False,
        order=OrderOption.RANDOM,
        drop_last=False,
        seed=0,
        pipelines={"image": [SimpleRGBImageDecoder()], "label": [IntDecoder()]},
    )
    seen: list[int] = []
    failure: list[BaseException] = []

    def epoch() -> None:
        try:
            for _images, labels in loader:
                seen.extend(int(label) for label in labels.reshape(-1))
        except BaseException as exc:  # reported by the check below
            failure.append(exc)

    worker = threading.Thread(target=epoch, daemon=True)
    started = time.monotonic()
    worker.start()
    worker.join(EPOCH_TIMEOUT_S)
    if worker.is_alive():
        raise CheckFailed(
            f"an FFCV epoch on threading layer {layer} did not finish in {EPOCH_TIMEOUT_S} s; "
            "try another layer with NUMBA_THREADING_LAYER=workqueue"
        )
    if failure:
        raise CheckFailed(f"FFCV Loader on threading layer {layer} failed: {failure[0]!r}")
    if sorted(seen) != list(range(ROUNDTRIP_SAMPLES)):
        raise CheckFailed(
            f"FFCV Loader on threading layer {layer} delivered {len(seen)} samples, "
            f"{len(set(seen))} distinct, expected each of {ROUNDTRIP_SAMPLES} once"
        )
    loadable = [name for name in LAYERS if name == layer or _probe_layer(name)]
    return (
        f"active layer {layer} (NUMBA_THREADING_LAYER={requested}); an FFCV epoch with "
        f"{args.workers} threads took {time.monotonic() - started:.1f} s; layers this "
        f"environment can start: {', '.join(loadable) or 'none'}"
    )


def require_cuda() -> None:
    """The precondition of every GPU check: torch sees a CUDA device."""
    import torch

    if not torch.cuda.is_available():
        raise CheckFailed(
            f"torch {torch.__version__} sees no CUDA device (torch.version.cuda="
            f"{torch.version.cuda}); install a CUDA build (spec 'pytorch * cuda*') "
            "and check nvidia-smi"
        )


def check_cuda(args: argparse.Namespace) -> str | None:
    if args.device != "cuda":
        return None
    import torch

    require_cuda()
    a = torch.randn(256, 256, generator=torch.Generator().manual_seed(0))
    expected = a @ a
    got = (a.cuda() @ a.cuda()).cpu()
    if not torch.allclose(got, expected, rtol=1e-3, atol=1e-3):
        raise CheckFailed("a matrix product on the GPU disagrees with the CPU result")
    name = torch.cuda.get_device_name(0)
    return f"{name}, CUDA {torch.version.cuda}, matmul agrees with CPU"


# ffcv-imagenet's normalization constants (train_imagenet.py), on the 0-255 pixel scale.
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406]) * 255
IMAGENET_STD = np.array([0.229, 0.224, 0.225]) * 255


def normalized_batches_error(path: Path, device: str, workers: int) -> tuple[int, float]:
    """Read ``path`` through ffcv-imagenet's pipeline tail (ToTensor, ToDevice, ToTorchImage,
    NormalizeImage to float16) on ``device``; return (images, largest difference from the
    same pixels normalized here in float64). On CUDA, NormalizeImage runs a cupy kernel."""
    import torch
    from ffcv.fields.decoders import IntDecoder, SimpleRGBImageDecoder
    from ffcv.loader import Loader, OrderOption
    from ffcv.transforms import NormalizeImage, Squeeze, ToDevice, ToTensor, ToTorchImage

    target = torch.device(device)
    loader = Loader(
        str(path),
        batch_size=16,
        num_workers=workers,
        order=OrderOption.SEQUENTIAL,
        drop_last=False,
        pipelines={
            "image": [
                SimpleRGBImageDecoder(),
                ToTensor(),
                ToDevice(target, non_blocking=True),
                ToTorchImage(),
                NormalizeImage(IMAGENET_MEAN, IMAGENET_STD, np.float16),
            ],
            "label": [IntDecoder(), ToTensor(), Squeeze(), ToDevice(target)],
        },
    )
    mean = torch.tensor(IMAGENET_MEAN)[None, :, None, None]
    std = torch.tensor(IMAGENET_STD)[None, :, None, None]
    count, worst = 0, 0.0
    for images, labels in loader:
        if images.device.type != target.type or images.dtype != torch.float16:
            raise CheckFailed(f"NormalizeImage returned {images.dtype} on {images.device}")
        pixels = np.stack([roundtrip_image(int(i)) for i in labels.cpu()])
        expected = (torch.from_numpy(pixels).permute(0, 3, 1, 2).double() - mean) / std
        worst = max(worst, float((images.cpu().double() - expected).abs().max()))
        count += len(images)
    return count, worst


def check_cuda_normalize(args: argparse.Namespace) -> str | None:
    """FFCV's NormalizeImage after ToDevice on the GPU, as ffcv-imagenet's loaders use it:
    it needs cupy (conda-forge's, matched to cuda-version), which FFCV does not declare."""
    if args.device != "cuda":
        return None
    import torch

    require_cuda()
    try:
        importlib.import_module("cupy")
    except ImportError as exc:
        raise CheckFailed(
            f"import cupy failed ({exc}): FFCV's NormalizeImage on the GPU needs it; add "
            "conda-forge's cupy to the environment (env/variant-cuda-*.txt)"
        ) from exc
    path = roundtrip_beton(args)
    count, worst = normalized_batches_error(path, "cuda", args.workers)
    # float16 keeps about 3 decimal digits: the normalized values stay below 2.7 in size
    if count != ROUNDTRIP_SAMPLES or worst > 0.01:
        raise CheckFailed(
            f"NormalizeImage on CUDA: {count} images, largest difference {worst:.4f} from "
            "the expected normalized pixels"
        )
    return f"{count} images normalized on {torch.cuda.get_device_name(0)}, max diff {worst:.4f}"


def _fastxtend_loader(path: Path, order: Any, os_cache: bool, args: argparse.Namespace) -> Any:
    from fastai.data.transforms import IntToFloatTensor
    from fastxtend.ffcv.loader import Loader
    from fastxtend.ffcv.operations import ToDevice, ToTensorCategory, ToTensorImage
    from ffcv.fields.decoders import IntDecoder, SimpleRGBImageDecoder
    from ffcv.transforms import Squeeze

    return Loader(
        path,
        batch_size=BATCH_SIZE,
        num_workers=args.workers,
        os_cache=os_cache,
        order=order,
        seed=0,
        drop_last=False,
        pipelines={
            "image": [SimpleRGBImageDecoder(), ToTensorImage(), ToDevice(args.device)],
            "label": [IntDecoder(), ToTensorCategory(), Squeeze(), ToDevice(args.device)],
        },
        batch_tfms=[IntToFloatTensor()],
        device=args.device,
    )


def check_fastxtend_fit(args: argparse.Namespace) -> str:
    """fastxtend writer + Loaders, a one-epoch fastai fit that must learn; get_preds, one_batch."""
    import torch
    from fastai.data.core import DataLoaders
    from fastai.learner import Learner
    from fastai.losses import CrossEntropyLossFlat
    from fastai.metrics import accuracy
    from fastai.torch_core import set_seed
    from fastxtend.ffcv.loader import OrderOption
    from fastxtend.ffcv.utils import rgb_dataset_to_ffcv
    from torch import nn

    # Importing these modules adds Learner.no_bar and Learner.fit_one_cycle.
    importlib.import_module("fastai.callback.progress")
    importlib.import_module("fastai.callback.schedule")
    set_seed(0)
    paths = {}
    for split, length, seed in (("train", TRAIN_SAMPLES, 1), ("valid", VALID_SAMPLES, 2)):
        paths[split] = args.workdir / f"{split}.beton"
        # One writer process: under spawn (Windows) each one re-imports fastai and fastxtend,
        # which costs more than writing these small datasets.
        rgb_dataset_to_ffcv(
            HalvesDataset(length, seed), paths[split], write_mode="raw", num_workers=1
        )
    # Training reads through the process cache (os_cache=False): the mode for datasets larger
    # than RAM, and the one upstream FFCV broke on Windows.
    train = _fastxtend_loader(paths["train"], OrderOption.RANDOM, False, args)
    valid = _fastxtend_loader(paths["valid"], OrderOption.SEQUENTIAL, True, args)
    dls = DataLoaders(train, valid, device=torch.device(args.device))
    half = IMAGE_SIZE // 2
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, stride=2, padding=1),
        nn.ReLU(),
        nn.Conv2d(8, 8, 3, stride=2, padding=1),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(8 * (half // 2) ** 2, 2),
    )
    learn = Learner(dls, model, loss_func=CrossEntropyLossFlat(), metrics=accuracy)
    with learn.no_bar(), learn.no_logging():
        loss_before, acc_before = learn.validate()
        learn.fit_one_cycle(1, 1e-2)
        loss_after, acc_after = learn.validate()
        # Plain get_preds(): upstream fastxtend 0.1.7 fails here with AttributeError: new.
        preds, targets = learn.get_preds()
    if not loss_after < loss_before:
        raise CheckFailed(f"validation loss did not fall: {loss_before:.4f} -> {loss_after:.4f}")
    if not acc_after >= MIN_ACCURACY:
        raise CheckFailed(
            f"accuracy {acc_after:.3f} after one epoch is below {MIN_ACCURACY} (chance is 0.5)"
        )
    if len(preds) != VALID_SAMPLES:
        raise CheckFailed(f"get_preds returned {len(preds)} predictions for {VALID_SAMPLES}")
    expected = torch.tensor([halves_image(i, 2)[1] for i in range(VALID_SAMPLES)])
    if not torch.equal(targets.cpu().reshape(-1), expected):
        raise CheckFailed("get_preds targets are not the validation labels in order")
    pred_acc = (preds.argmax(dim=1).cpu() == expected).float().mean().item()
    if abs(pred_acc - acc_after) > 1e-6:
        raise CheckFailed(f"get_preds accuracy {pred_acc:.4f} != validate() {acc_after:.4f}")
    # one_batch on a shuffled loader: upstream could draw an out-of-range sample index.
    images, labels = train.one_batch()
    if tuple(images.shape) != (BATCH_SIZE, 3, IMAGE_SIZE, IMAGE_SIZE):
        raise CheckFailed(f"one_batch returned images of shape {tuple(images.shape)}")
    if not set(labels.cpu().tolist()) <= {0, 1}:
        raise CheckFailed(f"one_batch returned labels outside the two classes: {labels}")
    return (
        f"device={args.device}, valid loss {loss_before:.3f} -> {loss_after:.3f}, "
        f"accuracy {acc_before:.3f} -> {acc_after:.3f} (chance 0.5), get_preds and one_batch ok"
    )


CHECKS: tuple[tuple[str, Callable[[argparse.Namespace], str | None]], ...] = (
    ("imports", check_imports),
    ("dll-imports", check_dlls),
    ("beton-roundtrip", check_roundtrip),
    ("threading-layer", check_threading_layer),
    ("cuda-op", check_cuda),
    ("cuda-normalize", check_cuda_normalize),
    ("fastxtend-fit", check_fastxtend_fit),
)


def run_checks(args: argparse.Namespace) -> list[CheckResult]:
    results = []
    for name, check in CHECKS:
        if name not in args.checks:
            continue
        if results and results[0].name == "imports" and results[0].status == "FAIL":
            result = CheckResult(name, "FAIL", "not run: the imports check failed")
            print(f"{result.status} {result.name}: {result.detail}", flush=True)
            results.append(result)
            continue
        start = time.monotonic()
        try:
            detail = check(args)
        except CheckFailed as exc:
            result = CheckResult(name, "FAIL", str(exc))
        except Exception as exc:  # report any crash as a failure of that check, with its trace
            if args.verbose:
                traceback.print_exc()
            result = CheckResult(name, "FAIL", f"unexpected {type(exc).__name__}: {exc}")
        else:
            if detail is None:
                reason = (
                    "Windows-only check (PE imports of the FFCV extension)"
                    if name == "dll-imports"
                    else "not requested (--device cpu)"
                )
                result = CheckResult(name, "N/A", reason)
            else:
                result = CheckResult(name, "PASS", f"{detail} [{time.monotonic() - start:.1f} s]")
        print(f"{result.status} {result.name}: {result.detail}", flush=True)
        results.append(result)
    return results


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("cpu", "cuda"), required=True)
    parser.add_argument(
        "--workers", type=int, default=2, help="FFCV writer/loader workers (default 2)"
    )
    parser.add_argument(
        "--start-method",
        choices=("default", "spawn"),
        default="default",
        help="multiprocessing start method; 'spawn' approximates Windows on Linux",
    )
    parser.add_argument(
        "--checks",
        default=",".join(name for name, _ in CHECKS),
        help="comma-separated subset of: %(default)s",
    )
    parser.add_argument("--workdir", type=Path, help="keep the datasets here (default: temp)")
    parser.add_argument("-v", "--verbose", action="store_true", help="print tracebacks")
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    known = [name for name, _ in CHECKS]
    args.checks = [name.strip() for name in args.checks.split(",") if name.strip()]
    unknown = [name for name in args.checks if name not in known]
    if unknown or not args.checks:
        parser.error(f"--checks: unknown {unknown}; choose from {', '.join(known)}")
    return args


def main(argv: list[str] | None = None) -> int:
    try:
        args = parse_args(argv)
    except SystemExit as exc:
        return EXIT_OK if exc.code == 0 else EXIT_USAGE
    if args.start_method == "spawn":
        multiprocessing.set_start_method("spawn", force=True)
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="verify_env_") as tmp:
        if args.workdir is None:
            args.workdir = Path(tmp)
        args.workdir.mkdir(parents=True, exist_ok=True)
        results = run_checks(args)
    failed = [r.name for r in results if r.status == "FAIL"]
    elapsed = time.monotonic() - start
    if failed:
        print(f"FAIL summary: {len(failed)} of {len(results)} checks failed: {', '.join(failed)}")
        return EXIT_FAILED
    passed = sum(r.status == "PASS" for r in results)
    print(f"PASS summary: {passed} passed, {len(results) - passed} n/a [{elapsed:.1f} s]")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
