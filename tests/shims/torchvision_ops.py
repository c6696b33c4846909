"""Test-environment shim for PyPI's Linux torchvision 0.28.0 (a CUDA build).

With the CPU-only torch 2.13.0 our CI machine has, `import torchvision` fails with
"RuntimeError: operator torchvision::nms does not exist": the compiled ops library does not
load, and torchvision's fake-tensor registrations then look up operators that were never
defined. Declaring the two operator schemas first lets the pure-Python parts (datasets,
transforms, models) import. Nothing calls these operators in our tests. This is a test-only
measure (DESIGN.md section 6); the Windows training env gets a real torchvision from
conda-forge and never loads this file.
"""

from __future__ import annotations

_SCHEMAS = (
    "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
)
_library = None


def register() -> None:
    """Define torchvision::nms and torchvision::qnms unless torchvision's own ops loaded."""
    global _library
    import torch

    if _library is not None:
        return
    missing = [s for s in _SCHEMAS if not _op_exists(s.split("(")[0])]
    if not missing:
        return
    _library = torch.library.Library("torchvision", "FRAGMENT")
    for schema in missing:
        _library.define(schema)


def _op_exists(name: str) -> bool:
    import torch

    try:
        torch._C._dispatch_find_schema_or_throw("torchvision::" + name, "")
    except RuntimeError:
        return False
    return True
