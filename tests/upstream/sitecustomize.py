"""Started by every Python process of the FFCV upstream-suite run (PYTHONPATH points here),
including the workers torch.multiprocessing.spawn starts. It removes only reasons outside
our control for upstream tests to fail on our CI machine; FFCV's code is untouched:

- torchvision: PyPI's Linux wheel is a CUDA build whose ops do not load with CPU-only torch
  (see tests/shims/torchvision_ops.py).
- CIFAR10: the tests download it from the internet, which CI cannot reach; a synthetic
  stand-in with the same interface (32x32 RGB PIL images, labels 0-9) is returned instead.
- NCCL: test_traversal_orders initialises torch.distributed with the NCCL backend, which
  needs CUDA GPUs; the CPU backend gloo runs the same distributed code paths.
"""

from __future__ import annotations

import os
import sys

if os.environ.get("FFCVWIN_UPSTREAM_SHIMS") == "1":
    sys.path.insert(0, os.environ["FFCVWIN_TESTS_DIR"])
    import numpy as np
    import torch.distributed
    import torch.distributed.distributed_c10d as c10d
    from PIL import Image

    from shims import torchvision_ops

    torchvision_ops.register()
    import torchvision.datasets

    class SyntheticCIFAR10(torch.utils.data.Dataset):
        """Deterministic CIFAR10-shaped data: smooth 32x32 RGB images, labels 0-9."""

        def __init__(
            self,
            root: str = "",
            train: bool = True,
            transform=None,
            target_transform=None,
            download: bool = False,
        ) -> None:
            self.length = 50000 if train else 10000
            self.transform = transform
            self.target_transform = target_transform

        def __len__(self) -> int:
            return self.length

        def __getitem__(self, index: int) -> tuple[object, int]:
            rows, cols = np.mgrid[0:32, 0:32]
            pixels = np.stack(
                [
                    (rows * (3 + index % 5) + index) % 256,
                    (cols * (2 + index % 7) + 2 * index) % 256,
                    ((rows + cols) * 4 + 3 * index) % 256,
                ],
                axis=-1,
            )
            image = Image.fromarray(pixels.astype(np.uint8), "RGB")
            label = index % 10
            if self.transform is not None:
                image = self.transform(image)
            if self.target_transform is not None:
                label = self.target_transform(label)
            return image, label

    torchvision.datasets.CIFAR10 = SyntheticCIFAR10

    _init_process_group = c10d.init_process_group

    def init_process_group_on_cpu(
        backend: str | None = None, *args: object, **kwargs: object
    ) -> object:
        if backend == "nccl":
            backend = "gloo"
        return _init_process_group(backend, *args, **kwargs)

    c10d.init_process_group = init_process_group_on_cpu
    torch.distributed.init_process_group = init_process_group_on_cpu
