"""FFCV's documented usage, as short user scripts on synthetic data, run under spawn.

    python ffcv_usage.py WORKDIR [CHECK ...]

Each check follows one documented path (FFCV's docs pages and ffcv-imagenet's
write_imagenet.py/train_imagenet.py, cited per check) and compares what comes out with what
went in. It prints ``CHECK {json}`` per check: name, ok, detail (or the error with its
traceback). Written from the documented API; no upstream code is copied.
tests/test_workloads_ffcv.py runs it once and reads the lines.
"""

from __future__ import annotations

import multiprocessing
import sys
import tarfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np

try:  # run as a script (python tests/workloads/...): this folder is sys.path[0]
    from checklist import checks_in, run_checks
except ImportError:  # imported by the tests as workloads.<module>
    from workloads.checklist import checks_in, run_checks

SAMPLES = 48
HEIGHT, WIDTH = 24, 32
BATCH = 8
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406]) * 255  # train_imagenet.py's constants
IMAGENET_STD = np.array([0.229, 0.224, 0.225]) * 255
IMAGENET_SIZES = [(40, 56), (64, 48), (30, 30), (80, 100)]  # (height, width), varied


def image(index: int, height: int = HEIGHT, width: int = WIDTH) -> np.ndarray:
    """A smooth image that depends on its index (JPEG keeps such images close)."""
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float64)
    channels = [
        127 + 90 * np.sin(rows / 4 + index),
        127 + 90 * np.cos(cols / 5 - index),
        127 + 90 * np.sin((rows + cols) / 6 + index / 3),
    ]
    return np.clip(np.stack(channels, axis=-1), 0, 255).astype(np.uint8)


def vector(index: int) -> np.ndarray:
    return (np.arange(6) * 0.5 + index).astype(np.float32)


def document(index: int) -> dict:
    return {"index": index, "name": f"sample-{index}", "tags": ["a"] * (index % 3)}


def blob(index: int) -> np.ndarray:
    return np.arange(index % 7 + 1, dtype=np.uint8) + index


class EveryField:
    """One sample per row, one element per field type of writing_datasets.rst, and the
    four RGBImageField write modes."""

    def __len__(self) -> int:
        return SAMPLES

    def __getitem__(self, index: int) -> tuple:
        index = int(index)  # the writer passes NumPy integers; json.dumps refuses those
        picture = image(index)
        return (
            picture,
            picture,
            picture,
            picture,
            index,
            index / 4,
            vector(index),
            blob(index),
            document(index),
        )


def every_field_fields() -> dict:
    from ffcv.fields import (
        BytesField,
        FloatField,
        IntField,
        JSONField,
        NDArrayField,
        RGBImageField,
    )

    return {
        "raw": RGBImageField(write_mode="raw"),
        "jpg": RGBImageField(write_mode="jpg", jpeg_quality=95),
        # smart: JPEG when the raw image is larger than smart_threshold bytes (FFCV 1.0.2's
        # encode; its docstring calls it a ratio). 24x32x3 = 2304 bytes here.
        "smart": RGBImageField(write_mode="smart", smart_threshold=2000),
        "proportion": RGBImageField(write_mode="proportion", compress_probability=0.5),
        "label": IntField(),
        "value": FloatField(),
        "covariate": NDArrayField(shape=(6,), dtype=np.dtype("float32")),
        "bytes": BytesField(),
        "json": JSONField(),
    }


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


class Context:
    """Paths shared by the checks; each dataset is written once, on first use."""

    def __init__(self, work: Path) -> None:
        self.work = work

    @property
    def every_field(self) -> Path:
        path = self.work / "every-field.beton"
        if not path.is_file():
            from ffcv.writer import DatasetWriter

            DatasetWriter(str(path), every_field_fields(), num_workers=1).from_indexed_dataset(
                EveryField()
            )
        return path

    @property
    def imagenet(self) -> Path:
        """write_imagenet.py's writer: an ImageFolder of JPEG files, write_mode 'smart',
        max_resolution, jpeg_quality as a float, compress_probability None, chunks."""
        path = self.work / "imagenet.beton"
        if not path.is_file():
            from ffcv.fields import IntField, RGBImageField
            from ffcv.writer import DatasetWriter
            from PIL import Image
            from torchvision.datasets import ImageFolder

            root = self.work / "imagefolder"
            for index in range(SAMPLES):
                folder = root / f"class{index % 3}"
                folder.mkdir(parents=True, exist_ok=True)
                height, width = IMAGENET_SIZES[index % len(IMAGENET_SIZES)]
                Image.fromarray(image(index, height, width)).save(folder / f"{index:03}.jpg")
            writer = DatasetWriter(
                str(path),
                {
                    "image": RGBImageField(
                        write_mode="smart",
                        max_resolution=64,
                        compress_probability=None,
                        jpeg_quality=90.0,
                    ),
                    "label": IntField(),
                },
                num_workers=2,
            )
            writer.from_indexed_dataset(ImageFolder(root=str(root)), chunksize=10)
        return path


def loader(path: Path, pipelines: dict, **options: object):
    from ffcv.loader import Loader

    options.setdefault("batch_size", BATCH)
    # One thread compiles fastest (numba's parallel=True costs more); the order/cache check
    # and the ffcv-imagenet check use two.
    options.setdefault("num_workers", 1)
    return Loader(str(path), pipelines=pipelines, **options)


FIELDS = ("raw", "jpg", "smart", "proportion", "label", "value", "covariate", "bytes", "json")


def only(**pipelines: list) -> dict:
    """These pipelines, every other field disabled (making_dataloaders.rst: a field left
    out gets its default pipeline; `None` turns it off). Outputs come in file order."""
    return {field: pipelines.get(field) for field in FIELDS}


def labels_of(loader_: object, position: int = -1) -> list[int]:
    return [int(x) for batch in loader_ for x in np.asarray(batch[position]).reshape(-1)]


# ------------------------------------------------------------------------------------------
# writing_datasets.rst: every field type, read back with its default pipeline
# ------------------------------------------------------------------------------------------
def check_every_field_type(ctx: Context) -> str:
    """Indexable dataset with RGBImageField, IntField, FloatField, NDArrayField, BytesField
    and JSONField; Loader with no `pipelines` uses each field's default decoder."""
    from ffcv.fields import JSONField
    from ffcv.loader import OrderOption

    seen = 0
    for batch in loader(ctx.every_field, {}, order=OrderOption.SEQUENTIAL, drop_last=False):
        raw, _, _, _, label, value, covariate, data, docs = batch
        for i, index in enumerate(np.asarray(label).reshape(-1).tolist()):
            assert np.array_equal(np.asarray(raw[i]), image(index)), f"raw image {index}"
            assert float(value[i]) == index / 4, f"float {index}"
            assert np.array_equal(np.asarray(covariate[i]), vector(index)), f"ndarray {index}"
            got = np.asarray(data[i])[: len(blob(index))]
            assert np.array_equal(got, blob(index)), f"bytes {index}"
            assert JSONField.unpack(np.asarray(docs[i])) == document(index), f"json {index}"
            seen += 1
    assert seen == SAMPLES, seen
    return f"{seen} samples, 9 fields, values exact"


def check_write_modes(ctx: Context) -> str:
    """RGBImageField write modes raw/jpg/smart/proportion (working_with_images.rst): raw is
    exact, JPEG-stored images are close, and the per-sample mode is what was asked for."""
    from ffcv.fields.decoders import IntDecoder, SimpleRGBImageDecoder
    from ffcv.loader import OrderOption
    from ffcv.reader import Reader

    reader = Reader(str(ctx.every_field))
    modes = {}
    for field in ("raw", "jpg", "smart", "proportion"):
        f_ix = list(reader.handlers).index(field)
        counts = np.bincount(reader.metadata[f"f{f_ix}"]["mode"], minlength=2)
        modes[field] = (int(counts[0]), int(counts[1]))  # (jpg, raw)
    assert modes["raw"] == (0, SAMPLES) and modes["jpg"] == (SAMPLES, 0), modes
    assert modes["smart"] == (SAMPLES, 0), modes  # every image is above the threshold
    assert 0 < modes["proportion"][0] < SAMPLES, modes
    decoders = {f: [SimpleRGBImageDecoder()] for f in ("raw", "jpg", "smart", "proportion")}
    pipelines = only(**decoders, label=[IntDecoder()])
    worst = 99.0
    for raw, jpg, smart, proportion, label in loader(
        ctx.every_field, pipelines, order=OrderOption.RANDOM, drop_last=False
    ):
        for i, index in enumerate(np.asarray(label).reshape(-1).tolist()):
            assert np.array_equal(raw[i], image(index))
            for decoded in (jpg[i], smart[i], proportion[i]):
                worst = min(worst, psnr(decoded, image(index)))
    assert worst > 30, f"a JPEG-stored image is {worst:.1f} dB from its source"
    return f"modes (jpg, raw) per field {modes}; JPEG-stored images >= {worst:.1f} dB"


def check_webdataset(ctx: Context) -> str:
    """writing_datasets.rst's webdataset path: shards, a decode pipeline, from_webdataset."""
    from ffcv.fields import IntField, RGBImageField
    from ffcv.fields.decoders import IntDecoder, SimpleRGBImageDecoder
    from ffcv.loader import OrderOption
    from ffcv.writer import DatasetWriter
    from PIL import Image

    shards = []
    for shard in range(2):
        path = ctx.work / f"shard-{shard}.tar"
        with tarfile.open(path, "w") as tar:
            for index in range(shard * 10, shard * 10 + 10):
                png = ctx.work / f"{index:04}.png"
                Image.fromarray(image(index)).save(png)
                cls = ctx.work / f"{index:04}.cls"
                cls.write_text(str(index))
                tar.add(png, arcname=f"{index:04}.png")
                tar.add(cls, arcname=f"{index:04}.cls")
        shards.append(str(path))
    out = ctx.work / "webdataset.beton"
    writer = DatasetWriter(str(out), {"image": RGBImageField(), "label": IntField()}, num_workers=1)
    writer.from_webdataset(shards, webdataset_pipeline)
    pipelines = {"image": [SimpleRGBImageDecoder()], "label": [IntDecoder()]}
    got = {}
    for images, labels in loader(out, pipelines, order=OrderOption.SEQUENTIAL, drop_last=False):
        for i, index in enumerate(np.asarray(labels).reshape(-1).tolist()):
            got[index] = np.array_equal(images[i], image(index))
    assert sorted(got) == list(range(20)) and all(got.values()), got
    return "2 shards, 20 samples, pixels exact"


def webdataset_pipeline(dataset):
    return dataset.decode("rgb8").to_tuple("png", "cls")


# ------------------------------------------------------------------------------------------
# making_dataloaders.rst
# ------------------------------------------------------------------------------------------
def check_orders_and_cache_modes(ctx: Context) -> str:
    """SEQUENTIAL, RANDOM and QUASI_RANDOM with os_cache True and False, distributed=False:
    every sample once per epoch, two epochs each, pixels exact."""
    from ffcv.fields.decoders import IntDecoder, SimpleRGBImageDecoder
    from ffcv.loader import OrderOption

    pipelines = only(raw=[SimpleRGBImageDecoder()], label=[IntDecoder()])
    done = []
    for order in OrderOption:
        for os_cache in (True, False):
            dl = loader(
                ctx.every_field,
                pipelines,
                order=order,
                os_cache=os_cache,
                distributed=False,
                drop_last=False,
                seed=3,
                num_workers=2,
            )
            orders = []
            for _ in range(2):
                epoch = []
                for images, labels in dl:
                    for i, index in enumerate(np.asarray(labels).reshape(-1).tolist()):
                        assert np.array_equal(images[i], image(index)), (order, os_cache)
                        epoch.append(index)
                assert sorted(epoch) == list(range(SAMPLES)), (order, os_cache, epoch)
                orders.append(epoch)
            if order is OrderOption.SEQUENTIAL:
                assert orders[0] == list(range(SAMPLES))
            else:
                assert orders[0] != orders[1], f"{order.name}: same order in both epochs"
            done.append(f"{order.name}/os_cache={os_cache}")
    return ", ".join(done)


def check_indices_and_drop_last(ctx: Context) -> str:
    """Loader(indices=...) reads only that subset; drop_last drops the partial batch."""
    from ffcv.fields.decoders import IntDecoder
    from ffcv.loader import OrderOption

    subset = [3, 5, 8, 13, 21, 34, 40, 44, 45, 46, 47]
    pipelines = only(label=[IntDecoder()])
    keep = loader(ctx.every_field, pipelines, indices=subset, drop_last=False)
    got = labels_of(keep)
    assert got == subset, got
    dropped = loader(
        ctx.every_field, pipelines, indices=subset, order=OrderOption.RANDOM, drop_last=True
    )
    assert len(dropped) == len(subset) // BATCH
    got = labels_of(dropped)
    assert len(got) == BATCH and set(got) <= set(subset), got
    return f"indices={subset} -> same samples; drop_last=True -> {len(got)} of {len(subset)}"


def check_batches_ahead(ctx: Context) -> str:
    """batches_ahead 1 and 5: the same batches, and each kept batch keeps its content
    (labels compared after the epoch, as a training loop that stores outputs would)."""
    from ffcv.fields.decoders import IntDecoder
    from ffcv.transforms import ToTensor

    pipelines = only(label=[IntDecoder(), ToTensor()])
    results = []
    for ahead in (1, 5):
        dl = loader(ctx.every_field, pipelines, batches_ahead=ahead, drop_last=False)
        kept = [labels.clone() for (labels,) in dl]
        results.append([int(x) for labels in kept for x in labels.reshape(-1)])
    assert results[0] == results[1] == list(range(SAMPLES)), results
    return "batches_ahead=1 and 5 give the same batches"


def check_torch_module_in_pipeline(ctx: Context) -> str:
    """making_dataloaders.rst's AddGaussianNoise (a torch.nn.Module after ToTensor) on an
    NDArrayField covariate with a FloatField label."""
    import torch
    from ffcv.fields.decoders import FloatDecoder, NDArrayDecoder
    from ffcv.transforms import ToTensor

    class AddGaussianNoise(torch.nn.Module):
        def __init__(self, scale: float = 1) -> None:
            super().__init__()
            self.scale = scale

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x + torch.randn_like(x) * self.scale

    pipelines = only(
        covariate=[NDArrayDecoder(), ToTensor(), AddGaussianNoise(0.1)],
        value=[FloatDecoder(), ToTensor()],
    )
    noise = []
    for value, covariate in loader(ctx.every_field, pipelines, drop_last=False):
        index = (value.reshape(-1) * 4).round().long()
        clean = torch.stack([torch.from_numpy(vector(int(i))) for i in index])
        noise.append(covariate - clean)
    noise = torch.cat(noise)
    assert noise.shape == (SAMPLES, 6) and 0.05 < float(noise.std()) < 0.2, noise.std()
    return f"noise std {float(noise.std()):.3f} (scale 0.1)"


def check_docs_colorjitter_placement(ctx: Context) -> str:
    """making_dataloaders.rst places torchvision's ColorJitter right after the decoder, on
    NumPy data: our build refuses it in Loader() with the fix (patch 0007). Placed after
    ToTensor/ToTorchImage, as the fix says, it runs."""
    import torchvision
    from ffcv.fields.decoders import SimpleRGBImageDecoder
    from ffcv.transforms import RandomHorizontalFlip, RandomTranslate, ToTensor, ToTorchImage

    jitter = torchvision.transforms.ColorJitter(0.4, 0.4, 0.4)
    docs = [SimpleRGBImageDecoder(), RandomHorizontalFlip(), jitter, RandomTranslate(padding=2)]
    try:
        loader(ctx.every_field, only(raw=[*docs, ToTensor()]))
    except TypeError as error:
        message = str(error)
    else:
        raise AssertionError("ColorJitter before ToTensor was accepted")
    assert "ColorJitter" in message and "after ToTensor()" in message, message
    fixed = [
        SimpleRGBImageDecoder(),
        RandomHorizontalFlip(),
        RandomTranslate(padding=2),
        ToTensor(),
        ToTorchImage(),
        jitter,
    ]
    shapes = {tuple(x.shape) for (x,) in loader(ctx.every_field, only(raw=fixed))}
    assert shapes == {(BATCH, 3, HEIGHT, WIDTH)}, shapes
    return f"refused with: {message[:60]}...; after ToTorchImage: batches {shapes}"


def check_cifar_example_pipeline(ctx: Context) -> str:
    """ffcv_examples/cifar10.rst's train and test pipelines, with ToDevice('cpu')."""
    import torch
    import torchvision
    from ffcv.fields.decoders import IntDecoder, SimpleRGBImageDecoder
    from ffcv.loader import OrderOption
    from ffcv.transforms import (
        Convert,
        Cutout,
        RandomHorizontalFlip,
        RandomTranslate,
        Squeeze,
        ToDevice,
        ToTensor,
        ToTorchImage,
    )

    mean, std = [125.307, 122.961, 113.8575], [51.5865, 50.847, 51.255]
    results = []
    for name in ("train", "test"):
        label_pipeline = [IntDecoder(), ToTensor(), ToDevice("cpu"), Squeeze()]
        image_pipeline = [SimpleRGBImageDecoder()]
        if name == "train":
            image_pipeline += [
                RandomHorizontalFlip(),
                RandomTranslate(padding=2),
                Cutout(8, tuple(map(int, mean))),
            ]
        image_pipeline += [
            ToTensor(),
            ToDevice("cpu", non_blocking=True),
            ToTorchImage(),
            Convert(torch.float16),
            torchvision.transforms.Normalize(mean, std),
        ]
        dl = loader(
            ctx.every_field,
            only(raw=image_pipeline, label=label_pipeline),
            order=OrderOption.RANDOM,
            drop_last=(name == "train"),
        )
        # Compared inside the loop: FFCV reuses its output buffers for later batches, so a
        # batch kept past the next iteration (here the Squeeze'd labels) is overwritten.
        batches = 0
        for x, y in dl:
            assert x.dtype == torch.float16 and tuple(x.shape)[1:] == (3, HEIGHT, WIDTH)
            assert y.shape == (len(x),)
            if name == "test":  # no augmentation: exactly the normalized pixels
                pixels = torch.stack([torch.from_numpy(image(int(i))) for i in y])
                ref = (pixels.permute(0, 3, 1, 2).float() - torch.tensor(mean)[:, None, None]) / (
                    torch.tensor(std)[:, None, None]
                )
                worst = float((x.float() - ref).abs().max())
                assert worst < 0.02, worst
            batches += 1
        results.append(f"{name}: {batches} batches")
    return ", ".join(results)


def check_quickstart_pipeline(ctx: Context) -> str:
    """quickstart.rst: RandomResizedCrop decoder, Cutout, ToTensor, ToTorchImage, ToDevice
    (the docs' device 0 is a GPU; here 'cpu'). The page's `Cutout()` raises at once
    ("missing 1 required positional argument: 'crop_size'"), so crop_size 8 is given."""
    from ffcv.fields.decoders import IntDecoder, RandomResizedCropRGBImageDecoder
    from ffcv.loader import OrderOption
    from ffcv.transforms import Cutout, ToDevice, ToTensor, ToTorchImage

    decoder = RandomResizedCropRGBImageDecoder((16, 16))
    pipelines = only(
        raw=[decoder, Cutout(8), ToTensor(), ToTorchImage(), ToDevice("cpu")],
        label=[IntDecoder(), ToTensor(), ToDevice("cpu")],
    )
    dl = loader(ctx.every_field, pipelines, order=OrderOption.RANDOM)
    shapes = {tuple(x.shape) for x, _ in dl}
    assert shapes == {(BATCH, 3, 16, 16)}, shapes
    return f"{len(dl)} batches of {shapes}"


# ------------------------------------------------------------------------------------------
# custom_transforms.rst and transform_with_inds.rst
# ------------------------------------------------------------------------------------------
def corner_operation():
    """The custom_transforms.rst shape: an Operation with declare_state_and_memory (half the
    height and width) and a parallel generate_code (Compiler.get_iterator, is_parallel)."""
    from ffcv.pipeline.allocation_query import AllocationQuery
    from ffcv.pipeline.compiler import Compiler
    from ffcv.pipeline.operation import Operation

    class TopLeftQuarter(Operation):
        def generate_code(self) -> Callable:
            parallel_range = Compiler.get_iterator()

            def top_left(images, dst):
                h, w = images.shape[1] // 2, images.shape[2] // 2
                for i in parallel_range(images.shape[0]):
                    dst[i] = images[i, :h, :w]
                return dst

            top_left.is_parallel = True
            return top_left

        def declare_state_and_memory(self, previous_state):
            h, w, c = previous_state.shape
            shape = (h // 2, w // 2, c)
            return replace(previous_state, shape=shape), AllocationQuery(
                shape, previous_state.dtype
            )

    return TopLeftQuarter()


def relabel_operation():
    """The transform_with_inds.rst shape: with_indices=True gives the sample indices."""
    from ffcv.pipeline.compiler import Compiler
    from ffcv.pipeline.operation import Operation

    class LabelFromIndex(Operation):
        def generate_code(self) -> Callable:
            parallel_range = Compiler.get_iterator()

            def relabel(labels, _, indices):
                for i in parallel_range(labels.shape[0]):
                    labels[i] = indices[i] * 10
                return labels

            relabel.with_indices = True
            return relabel

        def declare_state_and_memory(self, previous_state):
            return previous_state, None

    return LabelFromIndex()


def check_custom_operations(ctx: Context) -> str:
    from ffcv.fields.decoders import IntDecoder, SimpleRGBImageDecoder
    from ffcv.loader import OrderOption

    pipelines = only(
        raw=[SimpleRGBImageDecoder(), corner_operation()],
        label=[IntDecoder(), relabel_operation()],
    )
    checked = 0
    for images, labels in loader(
        ctx.every_field, pipelines, order=OrderOption.RANDOM, drop_last=False
    ):
        for i, label in enumerate(np.asarray(labels).reshape(-1).tolist()):
            index = label // 10
            assert label % 10 == 0, label
            expected = image(index)[: HEIGHT // 2, : WIDTH // 2]
            assert np.array_equal(images[i], expected), index
            checked += 1
    assert checked == SAMPLES
    return f"{checked} samples: quarter images and index-derived labels exact"


def check_recompile(ctx: Context) -> str:
    """recompile=True: an operation whose generated code changes between epochs is
    regenerated every epoch (Loader's docstring)."""
    from ffcv.fields.decoders import IntDecoder
    from ffcv.pipeline.operation import Operation

    class AddOffset(Operation):
        def __init__(self) -> None:
            super().__init__()
            self.offset = 0

        def generate_code(self) -> Callable:
            offset = self.offset

            def add(labels, _):
                for i in range(labels.shape[0]):
                    labels[i] = labels[i] + offset
                return labels

            return add

        def declare_state_and_memory(self, previous_state):
            return previous_state, None

    seen = {}
    for recompile in (True, False):
        op = AddOffset()
        pipelines = only(label=[IntDecoder(), op])
        dl = loader(ctx.every_field, pipelines, recompile=recompile, drop_last=False)
        firsts = []
        for offset in (0, 1000):
            op.offset = offset
            firsts.append(labels_of(dl)[0])
        seen[recompile] = firsts
    assert seen[True] == [0, 1000], seen
    assert seen[False] == [0, 0], seen
    return f"first label per epoch: recompile=True {seen[True]}, False {seen[False]}"


# ------------------------------------------------------------------------------------------
# ffcv-imagenet (write_imagenet.py, train_imagenet.py) with a CPU device
# ------------------------------------------------------------------------------------------
def imagenet_pipelines(decoder: object, flip: bool, device: str = "cpu") -> dict:
    import torch
    from ffcv.fields.decoders import IntDecoder
    from ffcv.transforms import (
        NormalizeImage,
        RandomHorizontalFlip,
        Squeeze,
        ToDevice,
        ToTensor,
        ToTorchImage,
    )

    target = torch.device(device)
    image_pipeline = [decoder, *([RandomHorizontalFlip()] if flip else [])]
    image_pipeline += [
        ToTensor(),
        ToDevice(target, non_blocking=True),
        ToTorchImage(),
        NormalizeImage(IMAGENET_MEAN, IMAGENET_STD, np.float16),
    ]
    label = [IntDecoder(), ToTensor(), Squeeze(), ToDevice(target, non_blocking=True)]
    return {"image": image_pipeline, "label": label}


def check_imagenet_train_and_val(ctx: Context) -> str:
    """train_imagenet.py's loaders with a CPU device: train (RandomResizedCrop, flip,
    QUASI_RANDOM, os_cache=False, drop_last) with progressive resizing (the script sets
    decoder.output_size between epochs) and validation (CenterCrop 224/256, SEQUENTIAL).
    The validation output must be the normalized center crop: compared with the same
    decoder's raw pixels normalized here."""
    import torch
    from ffcv.fields.decoders import (
        CenterCropRGBImageDecoder,
        IntDecoder,
        RandomResizedCropRGBImageDecoder,
    )
    from ffcv.loader import OrderOption

    path = ctx.imagenet
    decoder = RandomResizedCropRGBImageDecoder((32, 32))
    train = loader(
        path,
        imagenet_pipelines(decoder, flip=True),
        order=OrderOption.QUASI_RANDOM,
        os_cache=False,
        drop_last=True,
        distributed=False,
        num_workers=2,
    )
    shapes = []
    for res in (32, 40):  # progressive resizing, as train_imagenet.py does per epoch
        decoder.output_size = (res, res)
        epoch = set()
        for images, labels in train:
            assert images.dtype == torch.float16 and images.is_contiguous(
                memory_format=torch.channels_last
            )
            epoch.add(tuple(images.shape))
            assert set(labels.tolist()) <= {0, 1, 2}
        shapes.append(sorted(epoch))
    assert shapes == [[(BATCH, 3, 32, 32)], [(BATCH, 3, 40, 40)]], shapes
    ratio = 224 / 256
    val = loader(
        path,
        imagenet_pipelines(CenterCropRGBImageDecoder((32, 32), ratio=ratio), flip=False),
        order=OrderOption.SEQUENTIAL,
        drop_last=False,
    )
    reference = loader(
        path,
        {"image": [CenterCropRGBImageDecoder((32, 32), ratio=ratio)], "label": [IntDecoder()]},
        order=OrderOption.SEQUENTIAL,
        drop_last=False,
    )
    mean = torch.tensor(IMAGENET_MEAN)[None, :, None, None]
    std = torch.tensor(IMAGENET_STD)[None, :, None, None]
    worst, count = 0.0, 0
    for (images, _), (pixels, _) in zip(val, reference, strict=True):
        expected = (torch.from_numpy(pixels).permute(0, 3, 1, 2).double() - mean) / std
        worst = max(worst, float((images.double() - expected).abs().max()))
        count += len(images)
    assert count == SAMPLES and worst < 0.01, (count, worst)
    return (
        f"train shapes per epoch {shapes}; val {count} images float16 NCHW channels-last, "
        f"max |normalized - reference| {worst:.4f}"
    )


@contextmanager
def simulated_cuda() -> Iterator[None]:
    """A CUDA device for building Loaders only, on a machine without one: torch reports CUDA
    as available, moving a tensor to a CUDA device leaves it where it is (NormalizeImage moves
    its lookup table when the Loader is built), and cupy is a stand-in whose kernels do
    nothing (NormalizeImage creates its kernel when the pipeline is compiled). Nothing may
    be iterated under it. Everything is restored on exit."""
    import torch

    original_to, original_available = torch.Tensor.to, torch.cuda.is_available
    original_cupy = sys.modules.get("cupy")

    def to(tensor: torch.Tensor, *args: object, **kwargs: object) -> torch.Tensor:
        def cuda(value: object) -> bool:
            return isinstance(value, (torch.device, str)) and str(value).startswith("cuda")

        kept = tuple(a for a in args if not cuda(a))
        if cuda(kwargs.get("device")):
            kwargs.pop("device")
        return original_to(tensor, *kept, **kwargs)

    torch.Tensor.to = to  # type: ignore[method-assign]
    torch.cuda.is_available = lambda: True
    sys.modules["cupy"] = SimpleNamespace(ElementwiseKernel=lambda *a, **k: lambda *x: None)
    try:
        yield
    finally:
        torch.Tensor.to = original_to  # type: ignore[method-assign]
        torch.cuda.is_available = original_available
        if original_cupy is None:
            sys.modules.pop("cupy", None)
        else:
            sys.modules["cupy"] = original_cupy


def built_within(seconds: float, build: Callable[[], object]) -> float:
    """Run ``build`` in a thread; fail if it raises or has not returned after ``seconds``
    (upstream's Graph.group_operations looped forever: libffcv/ffcv#396)."""
    outcome: list[BaseException | None] = []

    def target() -> None:
        try:
            build()
            outcome.append(None)
        except BaseException as error:  # re-raised below, in the check
            outcome.append(error)

    started = time.monotonic()
    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(seconds)
    if not outcome:
        raise AssertionError(f"Loader() had not returned after {seconds:.0f} s")
    if outcome[0] is not None:
        raise outcome[0]
    return time.monotonic() - started


def check_imagenet_pipelines_build_for_cuda(ctx: Context) -> str:
    """train_imagenet.py's train and validation Loaders and the quickstart's pipeline with
    the CIFAR example's ToDevice('cuda:0') (the quickstart's ToDevice(0) needs a real
    accelerator for torch.device(0)), built for a CUDA device (simulated: this machine has
    none), must return from Loader():
    on the GPU NormalizeImage is not compiled, so the stage grouping takes another path than
    on the CPU (check imagenet-train-and-val)."""
    from ffcv.fields.decoders import (
        CenterCropRGBImageDecoder,
        IntDecoder,
        RandomResizedCropRGBImageDecoder,
    )
    from ffcv.loader import OrderOption
    from ffcv.transforms import ToDevice, ToTensor, ToTorchImage

    path = ctx.imagenet
    train = imagenet_pipelines(RandomResizedCropRGBImageDecoder((32, 32)), True, "cuda:0")
    val = imagenet_pipelines(CenterCropRGBImageDecoder((32, 32), ratio=224 / 256), False, "cuda")
    quick = {
        "image": [
            RandomResizedCropRGBImageDecoder((16, 16)),
            ToTensor(),
            ToTorchImage(),
            ToDevice("cuda:0"),
        ],
        "label": [IntDecoder(), ToTensor(), ToDevice("cuda:0")],
    }
    times = []
    with simulated_cuda():
        for pipelines, options in (
            (train, {"order": OrderOption.QUASI_RANDOM, "os_cache": False, "drop_last": True}),
            (val, {"order": OrderOption.SEQUENTIAL, "drop_last": False}),
            (quick, {"order": OrderOption.RANDOM}),
        ):
            times.append(built_within(60, lambda p=pipelines, o=options: loader(path, p, **o)))
    return "built for cuda: train, val, quickstart in " + ", ".join(f"{t:.1f} s" for t in times)


def check_docs_max_resolution_tuple(ctx: Context) -> str:
    """working_with_images.rst writes RGBImageField(max_resolution=(256, 256)): our build
    says at once that it takes one int (patch 0008); upstream hung in the writer."""
    from ffcv.fields import RGBImageField

    try:
        RGBImageField(write_mode="smart", max_resolution=(256, 256))
    except TypeError as error:
        assert "max_resolution=256" in str(error), error
        return f"refused: {str(error)[:70]}..."
    raise AssertionError("max_resolution=(256, 256) was accepted")


def check_max_resolution_resizes(ctx: Context) -> str:
    """write_imagenet.py's max_resolution: images whose longest side is larger are resized
    to it, smaller ones kept."""
    from ffcv.reader import Reader

    reader = Reader(str(ctx.imagenet))
    meta = reader.metadata["f0"]
    sizes = sorted({(int(h), int(w)) for h, w in zip(meta["height"], meta["width"], strict=True)})
    assert max(max(s) for s in sizes) == 64 and (30, 30) in sizes, sizes
    # write_imagenet.py's default write_mode='smart' sets no smart_threshold: all raw
    assert set(meta["mode"].tolist()) == {1}, meta["mode"]
    return f"stored sizes {sizes} (sources up to 80x100), all raw (smart, no threshold)"


CHECKS: dict[str, Callable[[Context], str]] = checks_in(globals())


def main() -> int:
    work = Path(sys.argv[1])
    multiprocessing.set_start_method("spawn", force=True)  # what Windows uses
    work.mkdir(parents=True, exist_ok=True)
    return run_checks(CHECKS, Context(work), sys.argv[2:] or list(CHECKS))


if __name__ == "__main__":
    sys.exit(main())
