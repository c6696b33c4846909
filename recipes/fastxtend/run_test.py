"""conda-build test for fastxtend: our two Loader fixes are in the package and work.

Writes a 40-image .beton with FFCV, then, with fastxtend's FFCV Loader:
- one_batch() on a shuffled loader whose batch is as large as the dataset, for 20 seeds:
  every sample comes back with its own pixels (upstream could draw index 40: out of range);
- new(shuffle=False, drop_last=False), what fastai's get_preds calls: all 40 samples in order
  (upstream had no Loader.new: "AttributeError: new"), still right after the whole pass
  (upstream's CPU batches were views of buffers FFCV reuses).
Spawn-safe: Windows starts FFCV's writer process with spawn.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

SAMPLES = 40


def image(index: int) -> np.ndarray:
    return np.full((8, 8, 3), index * 5, dtype=np.uint8)


class Dataset:
    def __len__(self) -> int:
        return SAMPLES

    def __getitem__(self, index: int) -> tuple[np.ndarray, int]:
        return image(index), index


def main() -> int:
    from fastxtend.ffcv.loader import Loader, OrderOption
    from ffcv.fields import IntField, RGBImageField
    from ffcv.fields.decoders import IntDecoder, SimpleRGBImageDecoder
    from ffcv.writer import DatasetWriter

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t.beton"
        fields = {"image": RGBImageField(write_mode="raw"), "label": IntField()}
        DatasetWriter(str(path), fields, num_workers=1).from_indexed_dataset(Dataset())
        pipelines = {"image": [SimpleRGBImageDecoder()], "label": [IntDecoder()]}
        loader = Loader(
            path,
            batch_size=SAMPLES,
            num_workers=1,
            order=OrderOption.RANDOM,
            pipelines=pipelines,
            device="cpu",
            batches_ahead=1,
        )
        for seed in range(20):
            np.random.seed(seed)
            images, labels = loader.one_batch()
            for img, label in zip(np.asarray(images), np.asarray(labels).reshape(-1), strict=True):
                assert 0 <= label < SAMPLES, f"one_batch returned sample {label}"
                assert (img == image(int(label))).all(), f"sample {label}: wrong pixels"
        # Batches of 8 with batches_ahead=1: FFCV recycles its output buffers every 3 batches,
        # so batches kept until the end show whether each one owns its memory (patch 0004).
        small = Loader(
            path,
            batch_size=8,
            num_workers=1,
            order=OrderOption.RANDOM,
            pipelines=pipelines,
            device="cpu",
            batches_ahead=1,
        )
        kept = [labels for _, labels in small.new(shuffle=False, drop_last=False)]
        got = [int(x) for labels in kept for x in np.asarray(labels).reshape(-1)]
        assert got == list(range(SAMPLES)), f"new(shuffle=False) read {got}"
    print("fastxtend run_test: one_batch and Loader.new OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
