"""conda-build test for fastxtend: our Loader fixes are in the package and work.

Writes a 40-image .beton with FFCV, then, with fastxtend's FFCV Loader:
- one_batch() on a shuffled loader whose batch is as large as the dataset, for 20 seeds:
  every sample comes back with its own pixels (upstream could draw index 40: out of range);
- new(shuffle=False, drop_last=False), what fastai's get_preds calls: all 40 samples in order
  (upstream had no Loader.new: "AttributeError: new"), still right after the whole pass
  (upstream's CPU batches were views of buffers FFCV reuses);
- patches 0005-0010, without training: drop_last defaults by order, async_tfms=True with
  both spellings, fastxtend.callback.compiler imports, learn.export() explains itself,
  Loader.vocab and new(indices) (tests/test_workloads_fastxtend.py trains and checks more).
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
        check_patches_0005_to_0010(path, pipelines)
    print("fastxtend run_test: one_batch and Loader.new OK; patches 0005-0010 OK")
    return 0


def check_patches_0005_to_0010(path: Path, pipelines: dict) -> None:
    import importlib

    from fastai.data.core import DataLoaders
    from fastai.data.transforms import IntToFloatTensor
    from fastai.learner import Learner
    from fastxtend.ffcv.loader import Loader, OrderOption
    from torch import nn

    def loader(order: OrderOption, **options: object) -> Loader:
        return Loader(
            path,
            batch_size=16,
            num_workers=1,
            order=order,
            pipelines=pipelines,
            device="cpu",
            batches_ahead=1,
            **options,
        )

    train, valid = loader(OrderOption.RANDOM), loader(OrderOption.SEQUENTIAL)
    assert (len(train), len(valid)) == (2, 3), "drop_last default (patch 0005)"
    for spelling in ("batch_tfms", "after_batch"):
        tfms = {spelling: [IntToFloatTensor()]}
        async_loader = loader(OrderOption.RANDOM, async_tfms=True, **tfms)
        assert async_loader.async_tfms, f"async_tfms with {spelling} (patch 0006)"
    importlib.import_module("fastxtend.callback.compiler")  # patch 0007
    learn = Learner(DataLoaders(train, valid), nn.Linear(1, 1), loss_func=nn.MSELoss())
    try:
        learn.export()
    except TypeError as error:
        assert "FFAIImageBlock" in str(error), error
    else:
        raise AssertionError("learn.export() with Loaders did not refuse (patch 0008)")
    assert list(valid.vocab) == list(range(SAMPLES)), "vocab from the IntField (patch 0009)"
    picked = [int(x) for _, labels in valid.new([5, 3, 9]) for x in np.asarray(labels).reshape(-1)]
    assert picked == [5, 3, 9] and valid.items == list(range(SAMPLES)), "new(indices) (0010)"


if __name__ == "__main__":
    sys.exit(main())
