"""User mistakes and bad data that must raise, not hang.

    python ffcv_failures.py START_METHOD WORKDIR SCENARIO [SCENARIO ...]

runs the scenarios in order and prints one ``RESULT {json}`` line for each: the exception
the caller got (type, message, traceback text), the .beton files left behind, and timings:
``seconds`` for the whole scenario and ``latency``, the time from the moment the error
happened in a writer worker (the dataset records it) to the moment the caller had the
exception. tests/test_workloads_ffcv.py runs all scenarios against our FFCV in one process
per start method, and each alone against the upstream control, which hangs.

Scenarios (each the shape a user meets, written here from FFCV's documented API):
  dataset-raises     __getitem__ raises ValueError at sample 7 (bad data)
  dataset-unpicklable  the dataset class exists only in the running __main__, so a spawned
                     writer worker cannot unpickle it (what a notebook or an
                     `if __name__ == "__main__":` block gives)
  worker-killed      the writer worker handling sample 7 is killed (SIGKILL, as the
                     out-of-memory killer does)
  op-untypable       a custom Operation whose code numba cannot compile (it reads a plain
                     Python object)
  module-raises      a torch.nn.Module in the pipeline raises on the second batch
  imagenet-cpu-loader  ffcv-imagenet's train pipeline with a CPU device: Loader() itself
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

try:  # run as a script (python tests/workloads/...): this folder is sys.path[0]
    import ffcv_usage
except ImportError:  # imported by the tests as workloads.ffcv_failures
    from workloads import ffcv_usage

SAMPLES = 40
BAD_SAMPLE = 7
# Texts the test harness watches for: the moment the error has happened.
BAD_DATA = f"sample {BAD_SAMPLE} cannot be decoded (ffcv_failures)"
KILLING = "ffcv_failures: killing the writer worker now"
BAD_BATCH = "ffcv_failures: this batch is rejected"
BUILDING = "ffcv_failures: building the Loader now"


def pixels(index: int) -> np.ndarray:
    return np.full((8, 8, 3), index % 256, dtype=np.uint8)


class Samples:
    def __len__(self) -> int:
        return SAMPLES

    def __getitem__(self, index: int) -> tuple[np.ndarray, int]:
        return pixels(index), index


def error_happens_now() -> None:
    """Record when the error happens (the caller's latency is measured from here)."""
    Path(os.environ["FFCV_FAILURES_MARK"]).write_text(repr(time.time()))


class BadSample(Samples):
    def __getitem__(self, index: int) -> tuple[np.ndarray, int]:
        if index == BAD_SAMPLE:
            error_happens_now()
            raise ValueError(BAD_DATA)
        return super().__getitem__(index)


class KilledWorker(Samples):
    def __getitem__(self, index: int) -> tuple[np.ndarray, int]:
        if index == BAD_SAMPLE:
            error_happens_now()
            print(KILLING, flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
        return super().__getitem__(index)


def write(path: Path, dataset: object, workers: int) -> None:
    from ffcv.fields import IntField, RGBImageField
    from ffcv.writer import DatasetWriter

    fields = {"image": RGBImageField(write_mode="raw"), "label": IntField()}
    DatasetWriter(str(path), fields, num_workers=workers).from_indexed_dataset(dataset, chunksize=5)


def good_dataset(work: Path) -> Path:
    """A correct .beton for the loader scenarios, written once."""
    path = work / "good.beton"
    if not path.is_file():
        write(path, Samples(), workers=1)
    return path


def dataset_raises(work: Path) -> None:
    write(work / "dataset-raises.beton", BadSample(), workers=2)


def dataset_unpicklable(work: Path) -> None:
    # NotebookDataset is defined in the `if __name__ == "__main__":` block below. A spawned
    # worker imports this file as __mp_main__, where that block does not run.
    dataset = sys.modules["__main__"].NotebookDataset()
    write(work / "dataset-unpicklable.beton", dataset, workers=1)


def worker_killed(work: Path) -> None:
    write(work / "worker-killed.beton", KilledWorker(), workers=2)


def loader(path: Path, image_pipeline: list, **options: object) -> object:
    from ffcv.fields.decoders import IntDecoder
    from ffcv.loader import Loader

    return Loader(
        str(path),
        batch_size=8,
        num_workers=2,
        pipelines={"image": image_pipeline, "label": [IntDecoder()]},
        **options,
    )


class Settings:
    """A plain Python object: numba cannot read it inside compiled code."""

    gain = 2


SETTINGS = Settings()


def untypable_operation() -> object:
    from ffcv.pipeline.allocation_query import AllocationQuery
    from ffcv.pipeline.operation import Operation

    class Brighten(Operation):
        def generate_code(self) -> Callable:
            def brighten(images, dst):
                for i in range(images.shape[0]):
                    dst[i] = images[i] * SETTINGS.gain
                return dst

            return brighten

        def declare_state_and_memory(self, previous_state):
            return replace(previous_state), AllocationQuery(
                previous_state.shape, previous_state.dtype
            )

    return Brighten()


def op_untypable(work: Path) -> None:
    from ffcv.fields.decoders import SimpleRGBImageDecoder

    path = good_dataset(work)
    for _ in loader(path, [SimpleRGBImageDecoder(), untypable_operation()]):
        pass


def module_raises(work: Path) -> None:
    import torch
    from ffcv.fields.decoders import SimpleRGBImageDecoder
    from ffcv.transforms import ToTensor

    class RejectSecondBatch(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.calls = 0

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            self.calls += 1
            if self.calls == 2:
                raise RuntimeError(BAD_BATCH)
            return x

    path = good_dataset(work)
    pipeline = [SimpleRGBImageDecoder(), ToTensor(), RejectSecondBatch()]
    for _ in loader(path, pipeline):
        pass


def imagenet_cpu_loader(work: Path) -> None:
    from ffcv.fields.decoders import RandomResizedCropRGBImageDecoder

    path = good_dataset(work)
    decoder = RandomResizedCropRGBImageDecoder((8, 8))
    pipeline = ffcv_usage.imagenet_pipelines(decoder, flip=True)["image"]
    print(BUILDING, flush=True)
    loader(path, pipeline)
    print("ffcv_failures: Loader() returned", flush=True)


SCENARIOS: dict[str, Callable[[Path], None]] = {
    "dataset-raises": dataset_raises,
    "dataset-unpicklable": dataset_unpicklable,
    "worker-killed": worker_killed,
    "op-untypable": op_untypable,
    "module-raises": module_raises,
    "imagenet-cpu-loader": imagenet_cpu_loader,
}


def run(name: str, work: Path) -> dict:
    mark = work / f"{name}.error-time"
    os.environ["FFCV_FAILURES_MARK"] = str(mark)  # inherited by the writer's workers
    started = time.time()
    try:
        SCENARIOS[name](work)
    except Exception as error:
        caught = time.time()
        report = {
            "type": type(error).__name__,
            "message": str(error),
            "traceback": traceback.format_exc(),
        }
    else:
        caught = time.time()
        report = {"type": None}
    report["scenario"] = name
    report["seconds"] = caught - started
    report["latency"] = caught - float(mark.read_text()) if mark.is_file() else None
    report["files"] = sorted(p.name for p in work.glob(f"{name}*.beton"))
    return report


def main() -> int:
    start_method, work, names = sys.argv[1], Path(sys.argv[2]), sys.argv[3:]
    multiprocessing.set_start_method(start_method, force=True)
    work.mkdir(parents=True, exist_ok=True)
    for name in names:
        print("RESULT " + json.dumps(run(name, work)), flush=True)
    return 0


if __name__ == "__main__":

    class NotebookDataset(Samples):
        """Exists only when this file runs as the main script, like a notebook's class."""

    sys.exit(main())
