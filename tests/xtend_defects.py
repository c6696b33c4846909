"""fastxtend 0.1.7 defects that recipes/fastxtend patches 0005-0010 fix, probed in a subprocess
(the fastxtend under test comes from PYTHONPATH: ours or the unpatched release).

    python tests/xtend_defects.py WORKDIR [CHECK ...]

prints one ``DEFECT {json}`` line per check: its name, ``ok`` (the documented behaviour
happened) and what was observed, or the exception (type: message) when it raised.
tests/test_fastxtend_recipes.py runs it against both builds: every check must fail on the
unpatched package and pass on ours.

Data: 225 training and 64 validation 16x16 images of a learnable two-class task (label 1 when
the left half is brighter), label = class. 225 = 14 batches of 16 and one of 1: the shape
that breaks BatchNorm training when the partial batch is kept.
"""

from __future__ import annotations

import json
import sys
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from modules import load_module
from workloads.checklist import checks_in

TRAIN, VALID, SIZE, BATCH = 225, 64, 16, 16


# verify_env's learnable task (label 1: the left half is brighter), at this file's size
VERIFY_ENV = load_module(
    Path(__file__).resolve().parents[1] / "scripts" / "verify_env.py", "verify_env"
)


def halves(index: int, seed: int) -> tuple[np.ndarray, int]:
    return VERIFY_ENV.halves_image(int(index), seed, SIZE)


class Halves:
    def __init__(self, length: int, seed: int) -> None:
        self.length, self.seed = length, seed

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> tuple[np.ndarray, int]:
        return halves(index, self.seed)


def model() -> torch.nn.Module:
    """A small CNN whose head has BatchNorm1d: training on a batch of one sample raises."""
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3, stride=2, padding=1),
        torch.nn.ReLU(),
        torch.nn.Flatten(),
        torch.nn.Linear(4 * (SIZE // 2) ** 2, 8),
        torch.nn.BatchNorm1d(8),
        torch.nn.ReLU(),
        torch.nn.Linear(8, 2),
    )


class Data:
    def __init__(self, work: Path) -> None:
        from ffcv.fields import IntField, RGBImageField
        from ffcv.writer import DatasetWriter

        self.paths = {}
        for split, length, seed in (("train", TRAIN, 1), ("valid", VALID, 2)):
            path = work / f"{split}.beton"
            if not path.is_file():
                fields = {"image": RGBImageField(write_mode="raw"), "label": IntField()}
                writer = DatasetWriter(str(path), fields, num_workers=1)
                writer.from_indexed_dataset(Halves(length, seed))
            self.paths[split] = path

    def loader(self, split: str, **options: Any) -> Any:
        from fastai.data.transforms import IntToFloatTensor
        from fastxtend.ffcv.all import IntDecoder, Loader, OrderOption, SimpleRGBImageDecoder
        from fastxtend.ffcv.operations import ToTensorCategory, ToTensorImage
        from ffcv.transforms import Squeeze

        options.setdefault("order", OrderOption.RANDOM if split == "train" else None)
        if options["order"] is None:
            options["order"] = OrderOption.SEQUENTIAL
        if "after_batch" not in options:
            options.setdefault("batch_tfms", [IntToFloatTensor()])
        return Loader(
            self.paths[split],
            batch_size=BATCH,
            num_workers=1,
            pipelines={
                "image": [SimpleRGBImageDecoder(), ToTensorImage()],
                "label": [IntDecoder(), ToTensorCategory(), Squeeze()],
            },
            device="cpu",
            batches_ahead=1,
            seed=0,
            **options,
        )

    def learner(self, drop_last: bool | None = None, **options: Any) -> Any:
        """drop_last=True for the training Loader keeps the drop_last defect out of checks
        about something else (upstream would fail their fit on it first)."""
        from fastai.data.core import DataLoaders
        from fastai.learner import Learner
        from fastai.losses import CrossEntropyLossFlat
        from fastai.metrics import accuracy

        train = self.loader(
            "train", **options, **({} if drop_last is None else {"drop_last": drop_last})
        )
        dls = DataLoaders(train, self.loader("valid", **options))
        torch.manual_seed(0)
        return Learner(dls, model(), loss_func=CrossEntropyLossFlat(), metrics=accuracy)


def valid_labels() -> list[int]:
    return [halves(i, 2)[1] for i in range(VALID)]


def fit(learn: Any) -> None:
    import fastai.callback.schedule  # noqa: F401  (adds fit_one_cycle)

    with learn.no_bar(), learn.no_logging():
        learn.fit_one_cycle(1, 1e-2)


def check_drop_last_default(data: Data) -> dict:
    """Documented: drop_last defaults to True for RANDOM/QUASI_RANDOM, False for SEQUENTIAL.
    225 samples in batches of 16 then train in 14 full batches; fitting must not see a
    last batch of 1 (BatchNorm: "Expected more than 1 value per channel when training")."""
    learn = data.learner()
    train, valid = learn.dls.train, learn.dls.valid
    seen = {"train_batches": len(train), "valid_batches": len(valid)}
    seen["drop_last"] = [bool(train.drop_last), bool(valid.drop_last)]
    fit(learn)
    seen["ok"] = seen["train_batches"] == 14 and seen["valid_batches"] == 4
    seen["ok"] = seen["ok"] and seen["drop_last"] == [True, False]
    return seen


def _async_get_preds(data: Data, spelling: str) -> dict:
    from fastai.data.transforms import IntToFloatTensor

    learn = data.learner(drop_last=True, async_tfms=True, **{spelling: [IntToFloatTensor()]})
    fit(learn)
    with learn.no_bar():
        preds, targets = learn.get_preds()
    labels = [int(t) for t in targets.reshape(-1)]
    types = [type(b).__name__ for b in learn.dls.valid.one_batch()]
    return {
        "async": bool(learn.dls.train.async_tfms),
        "n": len(preds),
        "targets_in_order": labels == valid_labels(),
        "batch_types": types,
        "ok": bool(learn.dls.train.async_tfms) and labels == valid_labels(),
    }


def check_async_tfms_batch_tfms(data: Data) -> dict:
    """async_tfms=True with batch_tfms=[...] (upstream: KeyError: 'after_batch'); on the CPU
    get_preds must return every target in order (patch 0004's copy, extended)."""
    return _async_get_preds(data, "batch_tfms")


def check_async_tfms_after_batch(data: Data) -> dict:
    """async_tfms=True with after_batch=[...] (upstream: AttributeError ... 'fs')."""
    return _async_get_preds(data, "after_batch")


def check_compiler_callback(data: Data) -> dict:
    """fastxtend.callback.compiler imports with torch 2.13 and learn.compile() trains (the
    'eager' backend: the callback and torch.compile's tracing, no C++ code generation)."""
    import fastxtend.callback.compiler  # noqa: F401  (upstream: ImportError FILE_LIKE)

    learn = data.learner(drop_last=True).compile(backend="eager")
    fit(learn)
    _, accuracy = learn.validate()
    return {"accuracy": round(float(accuracy), 3), "ok": hasattr(learn, "compiler")}


def check_export_says_how(data: Data) -> dict:
    """learn.export() on Loader-backed DataLoaders: a clear error naming the way to export
    (upstream: "AttributeError: dataset")."""
    learn = data.learner()
    learn.path = data.paths["train"].parent
    try:
        learn.export("loader.pkl")
    except TypeError as error:
        message = str(error)
        return {"error": message, "ok": "FFAIImageBlock" in message}
    return {"ok": False, "exported": True}


def check_classification_interpretation(data: Data) -> dict:
    """ClassificationInterpretation.from_learner (upstream: "AttributeError: vocab"): the
    confusion matrix counts every validation sample; most_confused works."""
    from fastai.interpret import ClassificationInterpretation

    learn = data.learner(drop_last=True)
    fit(learn)
    with learn.no_bar():
        interp = ClassificationInterpretation.from_learner(learn)
        matrix = interp.confusion_matrix()
    counts = np.bincount(valid_labels(), minlength=2).tolist()
    return {
        "vocab": list(interp.vocab),
        "matrix": matrix.tolist(),
        "most_confused": [list(map(str, m)) for m in interp.most_confused()],
        "ok": matrix.shape == (2, 2) and matrix.sum(axis=1).tolist() == counts,
    }


def check_plot_top_losses(data: Data) -> dict:
    """Interpretation.plot_top_losses on Loader-backed DataLoaders (upstream: "AttributeError:
    items"): k images with their losses; the samples shown are the k largest losses."""
    import matplotlib

    matplotlib.use("Agg")
    import fastai.vision.all  # noqa: F401  (registers plot_top_losses for images, as documented)
    from fastai.interpret import ClassificationInterpretation

    learn = data.learner(drop_last=True)
    fit(learn)
    with learn.no_bar():
        interp = ClassificationInterpretation.from_learner(learn)
        losses, idx = interp.top_losses(4)
        _, _, targets, _, shown = interp[idx]
        interp.plot_top_losses(4)
    import matplotlib.pyplot as plt

    axes = len(plt.gcf().axes)
    expected = [valid_labels()[int(i)] for i in idx]
    return {
        "axes": axes,
        "targets_match": [int(t) for t in targets] == expected,
        "losses_match": bool(torch.allclose(shown, losses)),
        "ok": axes >= 4 and [int(t) for t in targets] == expected,
    }


CHECKS: dict[str, Callable[[Data], dict]] = checks_in(globals())


def main() -> int:
    work = Path(sys.argv[1])
    work.mkdir(parents=True, exist_ok=True)
    data = Data(work)
    warnings.simplefilter("ignore")
    for name in sys.argv[2:] or list(CHECKS):
        try:
            result = CHECKS[name](data)
        except Exception as error:
            result = {
                "ok": False,
                "error": f"{type(error).__name__}: {error}",
                "traceback": traceback.format_exc()[-3000:],
            }
        print("DEFECT " + json.dumps({"name": name, **result}, default=str), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
