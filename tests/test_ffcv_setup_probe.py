"""tools/ffcv_setup_probe.py and the outputs docs/ffcv-build-analysis.md quotes from it.

The probe runs FFCV 1.0.2's own setup.py (downloaded, sha256-verified) against fabricated
Windows PATHs and prefix trees. These tests prove:

- the doc quotes exactly what the probe prints now, section by section, and quotes every
  section (so neither can drift from the other or from the pinned sdist and patches);
- FFCV's behaviour the doc describes, asserted on fresh runs of its functions: every .lib in
  Library\\lib is linked (static /MT ones included) when Library\\bin is the DLL folder it
  picks; difflib's n=3 cut-off drops a folder that is 4th-closest; the error is raised
  while pip prepares metadata; an activated env with a short prefix never returns;
- the Windows view is faithful where FFCV depends on it (ntpath semantics, case-insensitive
  look-ups and globbing, NTFS listing order) and refuses what it does not emulate.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tools import ffcv_setup_probe as probe
from tools.recipes import WIN64, render, requirement_specs

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "ffcv-build-analysis.md"
BY_NAME = {s.name: s for s in probe.SCENARIOS}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> probe.Workspace:
    return probe.Workspace.create(tmp_path_factory.mktemp("probe"))


@pytest.fixture(scope="module")
def sections(workspace: probe.Workspace) -> dict[str, str]:
    return probe.parse_report(probe.render_report(probe.report(workspace)))


def functions_for(scenario: probe.Scenario, workspace: probe.Workspace, label: str):
    tree = workspace.tree_for(scenario, label)
    view = probe.WindowsView(tree, scenario.environ())
    return probe.load_setup_functions(workspace.upstream / "setup.py", view), view


# -- the doc quotes the probe -----------------------------------------------------------------


def test_doc_quotes_every_section_exactly(sections: dict[str, str]) -> None:
    quoted = probe.quoted_sections(DOC.read_text(encoding="utf-8"))
    assert quoted, "no <!-- probe: NAME --> quotes found in the doc"
    unknown = sorted(set(quoted) - set(sections))
    assert not unknown, f"the doc quotes sections the probe no longer prints: {unknown}"
    missing = sorted(set(sections) - set(quoted))
    assert not missing, f"probe sections not quoted in the doc: {missing}"
    stale = [name for name, body in quoted.items() if body != sections[name]]
    assert not stale, "doc quotes differ from the probe's output now: " + ", ".join(
        f"{n}\n--- doc ---\n{quoted[n]}\n--- probe ---\n{sections[n]}" for n in stale
    )


def test_report_round_trips_through_its_parser() -> None:
    text = probe.render_report({"a/b": ["x", "  y"], "c": ["z"]})
    assert probe.parse_report(text) == {"a/b": "x\n  y", "c": "z"}


# -- FFCV's behaviour -----------------------------------------------------------------------


def test_library_bin_dll_dir_links_every_lib_including_static(workspace) -> None:
    functions, view = functions_for(BY_NAME["short-prefix"], workspace, "t-every-lib")
    kw = functions["pkgconfig_windows"]("opencv4", {})
    lib_dir = view.tree.host_path(f"{probe.SHORT_ENV}\\Library\\lib")
    on_disk = sorted(p.stem.lower() for p in lib_dir.iterdir() if p.suffix == ".lib")
    linked = sorted(probe.ntpath.basename(lib) for lib in kw["libraries"])
    assert linked == on_disk
    assert {"turbojpeg-static", "jpeg-static", "pthreads_static"} <= set(linked)
    assert kw["library_dirs"] == ["c:\\ffcv\\library\\lib"]


def test_all_three_packages_relink_the_same_folder(workspace) -> None:
    functions, _ = functions_for(BY_NAME["short-prefix"], workspace, "t-three")
    kw: dict = {"include_dirs": []}
    for package in probe.PACKAGES:
        kw = functions["pkgconfig_windows"](package, kw)
    assert len(kw["libraries"]) == 3 * len(set(kw["libraries"]))
    assert kw["include_dirs"] == ["c:\\ffcv\\library\\include"] * 3


def test_fourth_closest_path_entry_is_never_considered(workspace) -> None:
    scenario = BY_NAME["library-bin-stale"]
    functions, view = functions_for(scenario, workspace, "t-fourth")
    entries = view.environ["PATH"].lower().split(";")
    ranked = [entry for _, entry in probe._ranking("opencv4", entries)]
    library_bin = f"{probe.ENV}\\Library\\bin".lower()
    assert ranked.index(library_bin) == 3  # 4th closest
    assert view.tree.dlls(library_bin), "the folder does hold the DLLs"
    with pytest.raises(Exception, match=r"Add directory containing \.dll files"):
        functions["find_pkg_dirs"]("opencv4")


def test_activated_env_root_outranks_library_bin_and_fails(workspace) -> None:
    functions, _ = functions_for(BY_NAME["conda-env"], workspace, "t-activated")
    _root_dir, dll_dir = functions["find_pkg_dirs"]("opencv4")
    assert dll_dir == probe.ENV.lower()  # python311.dll lives in the prefix root
    with pytest.raises(Exception, match=r"^Could not find required package: opencv4\.$"):
        functions["pkgconfig_windows"]("opencv4", {})


def test_short_activated_prefix_walks_up_forever(workspace) -> None:
    functions, _ = functions_for(BY_NAME["short-prefix-activated"], workspace, "t-loop")
    with pytest.raises(probe.EndlessLoop, match=r"dirname\('c:\\\\'\)"):
        functions["pkgconfig_windows"]("opencv4", {})


def test_readme_layout_links_opencv_for_pthread(workspace) -> None:
    functions, _ = functions_for(BY_NAME["readme-layout"], workspace, "t-readme")
    kw = functions["pkgconfig_windows"]("pthread", {})
    assert kw["library_dirs"] == ["c:\\opencv\\build\\x64\\vc15\\lib"]
    assert not any("pthread" in lib for lib in kw["libraries"])


def test_metadata_preparation_fails_when_discovery_fails(workspace) -> None:
    lines = probe.pip_metadata_step(BY_NAME["no-libraries"], workspace, patched=False)
    assert lines[0].startswith(
        "get_requires_for_build_wheel() raised Exception: Could not find required package: opencv4."
    )


def test_patched_setup_links_exactly_four_import_libraries(workspace) -> None:
    lines = probe.pip_metadata_step(BY_NAME["conda-env"], workspace, patched=True)
    assert lines[0] == "get_requires_for_build_wheel() returned []"
    assert (
        "  printed: ffcv: libraries = ['opencv_core500', 'opencv_imgproc500', "
        "'turbojpeg', 'pthread']"
    ) in lines
    assert not any("static" in line for line in lines)


# -- the Windows view -----------------------------------------------------------------------


@pytest.fixture
def view(tmp_path: Path) -> probe.WindowsView:
    tree = probe.WindowsTree(tmp_path)
    for name in ("b.LIB", "A.lib", "c.dll", "sub\\lib\\Z.lib", ".hidden\\lib\\h.lib"):
        tree.add(f"C:\\Root\\{name}")
    return probe.WindowsView(tree, {"PATH": "C:\\Root"})


def test_view_paths_are_ntpath_and_case_insensitive(view: probe.WindowsView) -> None:
    os_ = view.modules["os"]
    assert os_.path.join("c:\\root", "x") == "c:\\root\\x"
    assert os_.path.exists("c:\\ROOT\\a.LIB")
    assert os_.path.isdir("C:\\root\\SUB")
    assert not os_.path.exists("c:\\root\\missing")
    assert not os_.path.exists("")


def test_view_glob_matches_like_windows(view: probe.WindowsView) -> None:
    glob = view.modules["glob"].glob
    assert glob("c:\\root\\*.lib") == ["c:\\root\\A.lib", "c:\\root\\b.LIB"]
    assert glob("c:\\root\\**\\lib\\**\\*.lib", recursive=True) == ["c:\\root\\sub\\lib\\Z.lib"]


def test_view_refuses_what_it_does_not_emulate(view: probe.WindowsView) -> None:
    with pytest.raises(probe.ProbeError, match=r"os\.getcwd is not emulated"):
        _ = view.modules["os"].getcwd
    with pytest.raises(probe.ProbeError, match=r"platform\.version is not emulated"):
        _ = view.modules["platform"].version


def test_loader_refuses_functions_that_read_unknown_globals(
    tmp_path: Path, view: probe.WindowsView
) -> None:
    setup_py = tmp_path / "setup.py"
    setup_py.write_text(
        "import os\n\ndef find_pkg_dirs(p):\n    return helper(p)\n\n"
        "def pkgconfig_windows(p, kw):\n    return os.path.join(p, kw)\n"
    )
    with pytest.raises(probe.ProbeError, match=r"\['helper'\]"):
        probe.load_setup_functions(setup_py, view)


# -- the recipe supplies what section 4 of the doc says the loader needs --------------------


def test_recipe_run_env_gets_every_dll_the_extension_imports() -> None:
    """pthreads-win32 has no run_exports (pthreads-win32-feedstock @9d8b2d3, meta.yaml), so
    pthreadVSE2.dll reaches the run env only if the recipe names it; libopencv and
    libjpeg-turbo export themselves from host. py-opencv must carry the headless build
    string itself, since libopencv's run export has none."""
    meta = render(probe.RECIPE, WIN64)
    host = requirement_specs(meta, "host")
    run = requirement_specs(meta, "run")
    assert {"libopencv", "libjpeg-turbo", "pthreads-win32"} <= set(host)
    assert "pthreads-win32" in run, "add '- pthreads-win32  # [win]' to run: no run_exports"
    assert run.get("py-opencv", "").endswith("headless*")


def test_update_doc_rewrites_quotes_and_refuses_unknown_sections() -> None:
    doc = "a\n<!-- probe: x/y -->\n```text\nold\n```\nb\n"
    assert probe.update_doc(doc, {"x/y": "new\nlines"}) == (
        "a\n<!-- probe: x/y -->\n```text\nnew\nlines\n```\nb\n"
    )
    assert probe.quoted_sections(doc) == {"x/y": "old"}
    with pytest.raises(probe.ProbeError, match="no longer prints"):
        probe.update_doc(doc, {"other": "z"})
