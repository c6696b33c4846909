"""fastxtend's documented FFCV usage (its "Getting Started with fastxtend and FFCV" tutorial),
as a user script on synthetic image files, run under spawn.

    python xtend_usage.py WORKDIR [CHECK ...]

The steps follow the tutorial: a fastai DataBlock (ImageBlock, CategoryBlock,
GrandparentSplitter, parent_label) over an image folder, rgb_dataset_to_ffcv for train and
valid, fastxtend Loaders with the tutorial's pipelines and batch transforms (RANDOM
training, SEQUENTIAL validation), a Learner with ProgressiveResize and channels-last, then
fit_one_cycle/fit_flat_cos, get_preds, show_batch, ClassificationInterpretation and
plot_top_losses, mixed precision on the CPU, and the tutorial's inference route
(FFAIImageBlock DataLoaders, export, load_learner, predict). Prints ``CHECK {json}`` per
check. The device is the CPU; the tutorial's GPU-only cells (`#|cuda`) are the reason the
model here is a small CNN instead of xresnext50.
"""

from __future__ import annotations

import multiprocessing
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

try:  # run as a script (python tests/workloads/...): this folder is sys.path[0]
    from checklist import checks_in, run_checks
except ImportError:  # imported by the tests as workloads.<module>
    from workloads.checklist import checks_in, run_checks

SIZE = 32  # stored images
CROP = 24  # the Loaders' output size (the tutorial: 224)
PER_CLASS = {"train": 48, "val": 16}
CLASSES = ("blue", "red")  # the dominant colour: survives crops, flips and lighting changes
BATCH = 16


def picture(index: int, label: int) -> np.ndarray:
    rng = np.random.default_rng(7919 * index + label)
    pixels = rng.integers(0, 120, size=(SIZE, SIZE, 3), dtype=np.int16)
    pixels[..., 2 if label == 0 else 0] += 120
    return pixels.astype(np.uint8)


def make_folder(root: Path) -> Path:
    from PIL import Image

    for split, count in PER_CLASS.items():
        for label, name in enumerate(CLASSES):
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(count):
                Image.fromarray(picture(i + 1000 * (split == "val"), label)).save(
                    folder / f"{i:03}.png"
                )
    return root


class Run:
    """State shared by the checks, built in order (each check may use earlier results)."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self._learn: Any = None
        self._dls: Any = None
        self._source: Path | None = None
        self.valid_labels: list[int] = []

    @property
    def source(self) -> Path:
        if self._source is None:
            self._source = make_folder(self.work / "images")
        return self._source

    def datasets(self) -> Any:
        from fastai.vision.all import (
            CategoryBlock,
            DataBlock,
            GrandparentSplitter,
            ImageBlock,
            get_image_files,
            parent_label,
        )

        dblock = DataBlock(
            blocks=(ImageBlock, CategoryBlock),
            splitter=GrandparentSplitter(valid_name="val"),
            get_items=get_image_files,
            get_y=parent_label,
        )
        return dblock.datasets(self.source)

    def betons(self) -> dict[str, Path]:
        from fastxtend.ffcv.all import rgb_dataset_to_ffcv

        paths = {name: self.work / f"synthetic_{name}.ffcv" for name in ("train", "valid")}
        if not self.valid_labels:
            dset = self.datasets()
            # the validation labels in the order rgb_dataset_to_ffcv writes them
            self.valid_labels = [CLASSES.index(Path(f).parent.name) for f in dset.valid.items]
            # One worker each: under spawn every writer process imports fastai and fastxtend.
            rgb_dataset_to_ffcv(dset.train, paths["train"], num_workers=1)
            rgb_dataset_to_ffcv(dset.valid, paths["valid"], num_workers=1)
        assert all(p.is_file() for p in paths.values()), paths
        return paths

    def dls(self, async_tfms: bool = False) -> Any:
        from fastai.vision.all import DataLoaders, IntToFloatTensor, Normalize, imagenet_stats
        from fastai.vision.augment import aug_transforms
        from fastxtend.ffcv.all import (
            CenterCropRGBImageDecoder,
            IntDecoder,
            Loader,
            OrderOption,
            RandomResizedCropRGBImageDecoder,
            fx,
        )

        loaders = {}
        for name, path in self.betons().items():
            label_pipe = [IntDecoder(), fx.ToTensorCategory(), fx.Squeeze(), fx.ToDevice()]
            if name == "train":
                image_pipe = [
                    RandomResizedCropRGBImageDecoder(output_size=(CROP, CROP), scale=(0.35, 1)),
                    fx.RandomHorizontalFlip(),
                    fx.ToTensorImage(),
                    fx.ToDevice(),
                ]
                order = OrderOption.RANDOM
            else:
                image_pipe = [
                    CenterCropRGBImageDecoder(output_size=(CROP, CROP), ratio=1),
                    fx.ToTensorImage(),
                    fx.ToDevice(),
                ]
                order = OrderOption.SEQUENTIAL
            batch_tfms = [
                IntToFloatTensor,
                *aug_transforms(do_flip=False, max_rotate=0, max_warp=0),
                Normalize.from_stats(*imagenet_stats),
            ]
            loaders[name] = Loader(
                path,
                batch_size=BATCH if name == "train" else 2 * BATCH,
                order=order,
                num_workers=2,
                pipelines={"image": image_pipe, "label": label_pipe},
                batch_tfms=batch_tfms,
                batches_ahead=1,
                seed=42,
                async_tfms=async_tfms,
            )
        return DataLoaders(loaders["train"], loaders["valid"])

    def learner(self, **options: Any) -> Any:
        """The tutorial's Learner with a small CNN. Loss: fastai's CrossEntropyLossFlat with
        the tutorial's label smoothing; the tutorial's plain nn.CrossEntropyLoss has no
        `decodes`, so fastai's show_results and ClassificationInterpretation would get
        probability vectors instead of classes (with any fastai DataLoaders, too)."""
        import torch
        from fastai.losses import CrossEntropyLossFlat
        from fastai.vision.all import Learner
        from fastxtend.vision.all import Accuracy

        torch.manual_seed(0)
        model = torch.nn.Sequential(
            torch.nn.Conv2d(3, 8, 3, stride=2, padding=1),
            torch.nn.BatchNorm2d(8),
            torch.nn.ReLU(),
            torch.nn.Conv2d(8, 8, 3, stride=2, padding=1),
            torch.nn.ReLU(),
            torch.nn.AdaptiveAvgPool2d((2, 2)),
            torch.nn.Flatten(),
            torch.nn.Linear(32, 2),
        )
        if self._dls is None:
            self._dls = self.dls()
        return Learner(
            options.pop("dls", None) or self._dls,
            model,
            loss_func=CrossEntropyLossFlat(label_smoothing=0.1),
            metrics=Accuracy(),
            **options,
        )

    @property
    def learn(self) -> Any:
        """The tutorial's Learner (ProgressiveResize, channels-last), trained once."""
        if self._learn is None:
            from fastxtend.vision.all import ProgressiveResize

            record = recorders()[0]()
            learn = self.learner(cbs=[ProgressiveResize(increase_by=4, verbose=False)])
            learn = learn.to_channelslast()
            with learn.no_bar(), learn.no_logging():
                learn.fit_flat_cos(4, 8e-3, cbs=record)
            learn.train_sizes = record.sizes
            self._learn = learn
        return self._learn


def recorders() -> tuple[type, type]:
    """Two fastai callbacks, passed to fit(cbs=...) only (so export never pickles them):
    one records the size of every training batch, one the dtype of the predictions."""
    from fastai.callback.core import Callback

    class RecordSizes(Callback):
        order = 100

        def __init__(self) -> None:
            self.sizes: list[int] = []

        def before_batch(self) -> None:
            if self.training:
                self.sizes.append(int(self.xb[0].shape[-1]))

    class RecordPredDtype(Callback):
        order = 100

        def __init__(self) -> None:
            self.dtypes: set[str] = set()

        def after_pred(self) -> None:
            self.dtypes.add(str(self.pred.dtype))

    return RecordSizes, RecordPredDtype


def check_write_with_rgb_dataset_to_ffcv(run: Run) -> str:
    from ffcv.reader import Reader

    paths = run.betons()
    counts = {name: Reader(str(p)).num_samples for name, p in paths.items()}
    assert counts == {"train": 2 * PER_CLASS["train"], "valid": 2 * PER_CLASS["val"]}, counts
    return f"samples {counts}"


def check_fit_progressive_resize_channels_last(run: Run) -> str:
    """fit_flat_cos with ProgressiveResize and to_channelslast: it learns (chance is 0.5) and
    the training batches grow to the full size."""
    learn = run.learn
    sizes = learn.train_sizes
    _, accuracy = learn.validate()
    assert sizes[0] < CROP and sizes[-1] == CROP, sorted(set(sizes))
    assert accuracy >= 0.8, accuracy
    steps = len(sizes)
    return f"accuracy {accuracy:.3f}; train sizes {sorted(set(sizes))} over {steps} batches"


def check_drop_last_and_sequential_validation(run: Run) -> str:
    """RANDOM training drops its partial batch by default; SEQUENTIAL validation keeps it."""
    dls = run.learn.dls
    assert len(dls.train) == (2 * PER_CLASS["train"]) // BATCH and dls.train.drop_last
    assert not dls.valid.drop_last
    return f"train {len(dls.train)} batches (drop_last), valid {len(dls.valid)}"


def check_get_preds(run: Run) -> str:
    """get_preds on the SEQUENTIAL validation Loader: every sample, targets in file order."""
    learn = run.learn
    with learn.no_bar():
        preds, targets = learn.get_preds()
    got = [int(t) for t in targets]
    assert got == run.valid_labels, got
    accuracy = float((preds.argmax(1) == targets).float().mean())
    return f"{len(preds)} predictions, targets in order, accuracy {accuracy:.3f}"


def check_show_batch_and_results(run: Run) -> str:
    import matplotlib.pyplot as plt

    learn = run.learn
    plt.close("all")
    learn.dls.train.show_batch(max_n=4)
    shown = len([a for a in plt.gcf().axes if a.images])
    plt.close("all")
    with learn.no_bar():
        learn.show_results(max_n=4)
    results = len([a for a in plt.gcf().axes if a.images])
    assert shown == 4 and results == 4, (shown, results)
    return f"show_batch {shown} images, show_results {results} images"


def check_interpretation(run: Run) -> str:
    import matplotlib.pyplot as plt
    from fastai.interpret import ClassificationInterpretation

    learn = run.learn
    with learn.no_bar():
        interp = ClassificationInterpretation.from_learner(learn)
        matrix = interp.confusion_matrix()
        plt.close("all")
        interp.plot_top_losses(4)
        top = len([a for a in plt.gcf().axes if a.images])
        interp.plot_confusion_matrix()
    assert matrix.sum() == 2 * PER_CLASS["val"] and top == 4, (matrix, top)
    return f"confusion {matrix.tolist()}, plot_top_losses {top} images"


def check_mixed_precision_on_cpu(run: Run) -> str:
    """to_fp16()/to_bf16() train on the CPU. fastai 2.7.19's MixedPrecision uses
    torch.cuda.amp, which turns itself off without CUDA (with a warning): on the CPU these
    run in float32, which is what this check records."""
    import torch

    dtypes = {}
    for mode in ("to_fp16", "to_bf16"):
        record = recorders()[1]()
        learn = getattr(run.learner(), mode)()
        with learn.no_bar(), learn.no_logging(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            learn.fit_one_cycle(1, 8e-3, cbs=record)
        dtypes[mode] = sorted(record.dtypes)
    assert all(v == [str(torch.float32)] for v in dtypes.values()), dtypes
    return f"fit ran; prediction dtypes on the CPU {dtypes}"


def check_inference_route(run: Run) -> str:
    """The tutorial's inference: fastai DataLoaders from FFAIImageBlock + FFAICenterCrop,
    set as learn.dls; then export, load_learner and predict (export with the Loaders
    themselves raises, saying this)."""
    from fastai.vision.all import (
        CategoryBlock,
        DataBlock,
        GrandparentSplitter,
        Normalize,
        get_image_files,
        imagenet_stats,
        load_learner,
        parent_label,
    )
    from fastxtend.ffcv.all import FFAICenterCrop, FFAIImageBlock

    learn = run.learn
    learn.path = run.work
    try:
        learn.export("with-loaders.pkl")
    except TypeError as error:
        refused = "FFAIImageBlock" in str(error)
    else:
        refused = False
    assert refused, "learn.export() with Loaders did not explain what to do"
    inference = DataBlock(
        blocks=(FFAIImageBlock, CategoryBlock),
        splitter=GrandparentSplitter(valid_name="val"),
        get_items=get_image_files,
        get_y=parent_label,
        item_tfms=[FFAICenterCrop(CROP, ratio=1)],
        batch_tfms=[Normalize.from_stats(*imagenet_stats)],
    )
    dls = inference.dataloaders(run.source, bs=BATCH, num_workers=0, device="cpu")
    learn.dls = dls
    learn.export("inference.pkl")
    loaded = load_learner(run.work / "inference.pkl", cpu=True)
    files = sorted((run.source / "val").rglob("*.png"))
    right = 0
    for path in files:
        label, _, _ = loaded.predict(path)
        right += label == path.parent.name
    assert right / len(files) >= 0.8, right
    return f"export refused with Loaders; FFAI route: predict {right}/{len(files)} right"


CHECKS: dict[str, Callable[[Run], str]] = checks_in(globals())


def main() -> int:
    import matplotlib

    matplotlib.use("Agg")
    work = Path(sys.argv[1])
    multiprocessing.set_start_method("spawn", force=True)
    work.mkdir(parents=True, exist_ok=True)
    return run_checks(CHECKS, Run(work), sys.argv[2:] or list(CHECKS))


if __name__ == "__main__":
    sys.exit(main())
