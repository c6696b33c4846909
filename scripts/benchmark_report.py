"""The benchmark's table and chart, drawn from its report (the content of benchmark.json)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def mib(count: int | None) -> str:
    return "" if count is None else f"{count / 2**20:,.0f}"


def capped(row: dict[str, Any]) -> bool:
    """Whether some measured epoch of the row stopped at the cold scenario's time cap."""
    counts = row["params"].get("images_per_epoch_measured")
    return bool(counts) and min(counts) < row["params"]["images"]


def _row_line(row: dict[str, Any]) -> str:
    epochs = row["epoch_images_per_s"]
    steady = row["steady_images_per_s"]
    memory = row.get("memory") or {}
    label = row["label"] + (" *" if capped(row) else "")
    return (
        f"{label:<50} {row['images_per_s']:>10,.0f}  {min(epochs):>8,.0f} "
        f"{max(epochs):>8,.0f}  {'' if steady is None else f'{steady:,.0f}':>8}  "
        f"{mib(memory.get('peak_rss_bytes')):>9} {mib(memory.get('peak_anon_bytes')):>9} "
        f"{mib(memory.get('anon_growth_bytes')):>9}"
    )


def _cold_header(cold: dict[str, Any], workers: int) -> list[str]:
    files = cold["files"]
    window = cold["quasi_random_window_bytes"]
    how = "read cold" if cold["evicted"] else "NOT evicted on this platform"
    return [
        f"cold: data set larger than RAM ({how}), batch {cold['batch_size']}, {workers} "
        "workers; QUASI_RANDOM window 2 x batch x "
        f"{mib(cold['page_size'])} MiB = {mib(window)} MiB",
        "      "
        + ", ".join(
            f"{mode} .beton {mib(files[mode]['bytes'])} MiB ({files[mode]['images']} images, "
            f"window/file {files[mode]['window_over_file']:.2f})"
            for mode in ("jpg", "raw")
        )
        + f"; JPEG files {mib(files['jpeg_files']['bytes'])} MiB",
        f"      * = epochs stopped after {cold['epoch_cap_s']:g} s (os_cache=True, DataLoader); "
        f"disk read-ahead {cold.get('read_ahead_kib') or '?'} KiB",
    ]


def _layer_lines(layers: dict[str, Any]) -> list[str]:
    configs = layers["configs"]
    lines = [
        "numba threading layer (warm data; images/s and ratio to the best layer):",
        f"  {'layer':<12}" + "".join(f"{key:>34}" for key in configs),
    ]
    for name, entry in layers["layers"].items():
        if entry["error"]:
            lines.append(f"  {name:<12}  could not start: {entry['error']}")
            continue
        cells = "".join(
            f"{entry['images_per_s'][k]:>24,.0f} ({entry['ratio_to_best'][k]:.2f})"
            if k in entry["images_per_s"]
            else f"{'':>34}"
            for k in configs
        )
        lines.append(f"  {name:<12}{cells}")
    return lines


def format_table(report: dict[str, Any]) -> str:
    header = (
        f"{'configuration':<50} {'images/s':>10}  {'min':>8} {'max':>8}  {'steady':>8}  "
        f"{'peak RSS':>9} {'anon':>9} {'anon+':>9}"
    )
    note = "(MiB: process + workers; anon+: over the process at rest)"
    lines = [header, f"{note:>{len(header)}}", "-" * len(header)]
    cold_started = False
    for row in report["rows"]:
        if row["key"].startswith("cold_") and not cold_started:
            cold_started = True
            lines.append("")
            lines.extend(_cold_header(report["cold"], report["settings"]["workers"]))
        lines.append(_row_line(row))
    if "threading_layers" in report:
        lines.append("")
        lines.extend(_layer_lines(report["threading_layers"]))
    lines.append("")
    for group in ("diagnostics", "cold_ratios"):
        for ratio in report[group].values():
            lines.append(f"{ratio['what']:<72} {ratio['value']:>6.2f}  (no goal)")
    for ratio in report["ratios"].values():
        verdict = "meets" if ratio["met"] else "BELOW"
        lines.append(
            f"{ratio['what']:<72} {ratio['value']:>6.2f}  goal >= {ratio['goal']:.2f}  {verdict}"
        )
    return "\n".join(lines)


COLOURS = {"ffcv": "#4c72b0", "dataloader": "#c44e52", "ceiling": "#dd8452", "decode": "#8c8c8c"}


def _colour(row: dict[str, Any]) -> str:
    if "ffcv_" in row["key"] and row["kind"] == "loader":
        return COLOURS["ffcv"]
    if row["key"].endswith("dataloader_pil"):
        return COLOURS["dataloader"]
    return COLOURS["ceiling" if row["kind"] == "ceiling" else "decode"]


def _bars(ax: Any, rows: list[dict[str, Any]], title: str, memory: bool) -> None:
    y = np.arange(len(rows))[::-1]
    values = [row["images_per_s"] for row in rows]
    ax.barh(y, values, color=[_colour(row) for row in rows])
    for yi, row in zip(y, rows, strict=True):
        note = f" {row['images_per_s']:,.0f}"
        peak = (row.get("memory") or {}).get("peak_anon_bytes")
        if memory and peak is not None:
            note += f"  (anon peak {peak / 2**20:,.0f} MiB)"
        ax.text(row["images_per_s"], yi, note, va="center", fontsize=8)
    ax.set_yticks(y, [row["label"] for row in rows], fontsize=8)
    ax.set_xlim(0, max(values) * (1.6 if memory else 1.2))
    ax.set_title(title, fontsize=9, loc="left")


def _layer_bars(ax: Any, layers: dict[str, Any]) -> None:
    labels, values = [], []
    for name, entry in layers["layers"].items():
        for key in layers["configs"]:
            if key in entry["ratio_to_best"]:
                labels.append(f"{name}: {key}")
                values.append(entry["ratio_to_best"][key])
    y = np.arange(len(values))[::-1]
    ax.barh(y, values, color=COLOURS["ffcv"])
    for yi, value in zip(y, values, strict=True):
        ax.text(value, yi, f" {value:.2f}", va="center", fontsize=8)
    ax.set_yticks(y, labels, fontsize=8)
    ax.set_xlim(0, 1.2)
    ax.set_title("numba threading layer: images/s / best layer (warm)", fontsize=9, loc="left")


def write_chart(report: dict[str, Any], path: Path) -> None:
    """One panel per group: warm JPEG (the headline), warm raw pixels (another scale), cold
    rows with their anonymous-memory peaks, and the threading-layer ratios."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = report["rows"]
    cold = [row for row in rows if row["key"].startswith("cold_")]
    warm = [row for row in rows if row not in cold]
    raw = [row for row in warm if row["params"].get("format") == "raw"]
    jpeg = [row for row in warm if row not in raw]
    panels: list[tuple[str, Any]] = [
        (f"warm JPEG (page cache), batch {report['settings']['batch_size']}", jpeg),
        ("warm raw pixels (FFCV only)", raw),
    ]
    if cold:
        panels.append(
            (
                f"cold: larger than RAM, batch {report['cold']['batch_size']}, page cache dropped",
                cold,
            )
        )
    layers = report.get("threading_layers")
    layer_count = sum(len(e["ratio_to_best"]) for e in layers["layers"].values()) if layers else 0
    sizes = [len(p[1]) for p in panels if p[1]] + ([layer_count] if layer_count else [])
    fig, axes = plt.subplots(
        len(sizes),
        1,
        figsize=(10.0, 0.34 * sum(sizes) + 1.0 * len(sizes) + 0.8),
        gridspec_kw={"height_ratios": sizes},
        squeeze=False,
    )
    settings, machine, data = report["settings"], report["machine"], report["dataset"]
    fig.suptitle(
        f"{data['size']}x{data['size']} images (JPEG q{data['jpeg_quality']}), "
        f"{settings['workers']} workers, {machine['cpu_count']} CPUs, {machine['system']}, "
        f"load {(machine.get('load_average_at_start') or ['?'])[0]} at start"
        + (" - SMOKE SIZE, figures meaningless" if report["smoke"] else ""),
        fontsize=9,
    )
    index = 0
    for title, panel_rows in panels:
        if panel_rows:
            _bars(axes[index][0], panel_rows, title, memory=panel_rows is cold)
            index += 1
    axes[index - 1][0].set_xlabel("images/s (median of measured epochs)")
    if layer_count:
        _layer_bars(axes[index][0], layers)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
