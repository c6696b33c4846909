"""Probe fastxtend's FFCV Loader in a subprocess (the fastxtend under test comes from
PYTHONPATH) and print one JSON line. Used by tests/test_fastxtend_recipes.py.

    python tests/xtend_probe.py DIR

writes a 40-sample .beton (8x8 raw images, label = index) into DIR, then reports
"one_batch": the indices one_batch() asks FFCV for, over 20 seeds, and
"get_preds": what learn.get_preds() returns on fastxtend Loaders (or the error it raises).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

SAMPLES = 40


class Dataset:
    def __len__(self) -> int:
        return SAMPLES

    def __getitem__(self, index: int) -> tuple[np.ndarray, int]:
        return np.full((8, 8, 3), index, dtype=np.uint8), index


class Tiny(torch.nn.Module):
    """Linear classifier over the raw pixels, one class per sample."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(8 * 8 * 3, SAMPLES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x.float().flatten(1))


def loader(path: Path, order: Any, batch_size: int) -> Any:
    from fastxtend.ffcv.loader import Loader
    from fastxtend.ffcv.operations import ToTensorCategory, ToTensorImage
    from ffcv.fields.decoders import IntDecoder, SimpleRGBImageDecoder
    from ffcv.transforms import Squeeze

    pipelines = {
        "image": [SimpleRGBImageDecoder(), ToTensorImage()],
        "label": [IntDecoder(), ToTensorCategory(), Squeeze()],
    }
    return Loader(
        path,
        batch_size=batch_size,
        num_workers=1,
        order=order,
        pipelines=pipelines,
        device="cpu",
        batches_ahead=1,
        seed=0,
    )


def one_batch_indices(path: Path) -> dict[str, Any]:
    """The sample indices one_batch() hands to FFCV, without reading them.

    fastxtend's _n_batches sets ``self.indices`` and then calls ``self.__iter__()``; replacing
    that one call on the instance records the indices instead of decoding samples, so an
    out-of-range index is observed without the crash or hang it causes in FFCV.
    """
    from fastxtend.ffcv.loader import OrderOption

    dl = loader(path, OrderOption.RANDOM, batch_size=64)
    drawn: list[list[int]] = []

    def record() -> Any:
        drawn.append([int(i) for i in dl.indices])
        return iter(())

    dl.__iter__ = record
    for seed in range(20):
        np.random.seed(seed)
        try:
            dl.one_batch()
        except UnboundLocalError:  # no batch came out of the recording __iter__
            pass
    restored = [int(i) for i in dl.indices] == list(range(SAMPLES))
    return {"num_samples": SAMPLES, "drawn": drawn, "restored": restored}


def get_preds(path: Path) -> dict[str, Any]:
    from fastai.data.core import DataLoaders
    from fastai.learner import Learner
    from fastxtend.ffcv.loader import OrderOption

    train = loader(path, OrderOption.RANDOM, batch_size=16)
    valid = loader(path, OrderOption.SEQUENTIAL, batch_size=16)
    learn = Learner(DataLoaders(train, valid), Tiny(), loss_func=torch.nn.CrossEntropyLoss())
    try:
        preds, targets = learn.get_preds()
    except Exception as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}
    return {"n": len(preds), "targets": [int(t) for t in torch.as_tensor(targets).reshape(-1)]}


def main() -> int:
    from ffcv.fields import IntField, RGBImageField
    from ffcv.writer import DatasetWriter

    path = Path(sys.argv[1]) / "probe.beton"
    fields = {"image": RGBImageField(write_mode="raw"), "label": IntField()}
    DatasetWriter(str(path), fields, num_workers=1).from_indexed_dataset(Dataset())
    result = {"one_batch": one_batch_indices(path), "get_preds": get_preds(path)}
    print("PROBE " + json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
