"""The recipe's patches against the real sdist, applied as conda-build applies them."""

from __future__ import annotations

import subprocess

import pytest

from tools.build_ffcv import RECIPE, patched_source
from tools.errors import PatchError
from tools.sources import apply_patch, fetch, guess_strip_level, unpack

PATCHES = sorted((RECIPE / "patches").glob("*.patch"))


@pytest.fixture
def pristine(tmp_path, ffcv_linux):
    source = ffcv_linux["source"]
    return unpack(fetch(source["url"], source["sha256"]), tmp_path / "src")


@pytest.mark.parametrize("patch", PATCHES, ids=lambda p: p.name)
def test_strip_level_is_guessed_as_one(patch, pristine):
    assert guess_strip_level(patch, pristine) == 1


@pytest.mark.parametrize("patch", PATCHES, ids=lambda p: p.name)
def test_patch_applies_once_and_only_once(patch, pristine):
    output = apply_patch(patch, pristine)
    assert "patching file" in output
    # -N (forward only): a second application must be refused, not silently doubled.
    with pytest.raises(PatchError):
        apply_patch(patch, pristine)


def test_patched_tree_changes_only_what_the_patches_name(tmp_path, pristine):
    patched = patched_source(tmp_path / "b")
    result = subprocess.run(
        ["diff", "-rq", str(pristine), str(patched)], capture_output=True, text=True, check=False
    )
    report = result.stdout.replace(str(pristine), "A").replace(str(patched), "B")
    assert sorted(report.splitlines()) == [
        "Files A/ffcv/fields/rgb_image.py and B/ffcv/fields/rgb_image.py differ",
        "Files A/ffcv/libffcv.py and B/ffcv/libffcv.py differ",
        "Files A/ffcv/loader/epoch_iterator.py and B/ffcv/loader/epoch_iterator.py differ",
        "Files A/ffcv/loader/loader.py and B/ffcv/loader/loader.py differ",
        "Files A/ffcv/memory_allocator.py and B/ffcv/memory_allocator.py differ",
        "Files A/ffcv/pipeline/graph.py and B/ffcv/pipeline/graph.py differ",
        "Files A/ffcv/transforms/module.py and B/ffcv/transforms/module.py differ",
        "Files A/ffcv/transforms/normalize.py and B/ffcv/transforms/normalize.py differ",
        "Files A/ffcv/transforms/ops.py and B/ffcv/transforms/ops.py differ",
        "Files A/ffcv/writer.py and B/ffcv/writer.py differ",
        "Files A/libffcv/libffcv.cpp and B/libffcv/libffcv.cpp differ",
        "Files A/setup.py and B/setup.py differ",
        "Only in B/ffcv: memory_warning.py",
        "Only in B/libffcv: ffcv_pread.h",
        "Only in B: ffcv_hostlibs.py",
    ]


def test_windows_branch_no_longer_guesses_from_path(ffcv_src):
    setup = (ffcv_src / "setup.py").read_text()
    windows_branch = setup.split("if platform.system() == 'Windows':", 1)[1].split("else:")[0]
    assert "pkgconfig_windows(" not in windows_branch
    assert "windows_extension_kwargs(os.environ)" in windows_branch
    assert "from setuptools import setup, Extension" in setup
    assert "license_files = ('LICENSE',)" in setup and (ffcv_src / "LICENSE").is_file()


def test_python_side_binds_the_extension_read_everywhere(ffcv_src):
    binding = (ffcv_src / "ffcv" / "libffcv.py").read_text()
    assert "cdll.msvcrt" not in binding and "libc.pread" not in binding
    assert "read_c = lib.ffcv_pread" in binding
    assert "EXPORT int64_t ffcv_pread(" in (ffcv_src / "libffcv" / "libffcv.cpp").read_text()
