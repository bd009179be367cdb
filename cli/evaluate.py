"""`hmc evaluate`: frame-level metrics of checkpoints scored as the monitor scores (stage imported lazily)."""

from __future__ import annotations

import json
import math
from typing import Any

import typer

from hephaestus.cli.common import normalise_url
from hephaestus.platform.errors import InputError

FORMATS = ("table", "json")
SCHEMES = ("paper", "volcano")


def evaluate(
    paths: list[str] = typer.Argument(
        ...,
        metavar="CHECKPOINT... STORE",
        help="a classifier and/or a segmenter checkpoint (or run folder), then the store to score",
        callback=normalise_url,
    ),
    split: str | None = typer.Option(None, "--split", help="train, val or test (default: every pair)"),
    split_scheme: str = typer.Option(
        "paper", "--split-scheme", help="paper: by primary date; volcano: frames held out whole"
    ),
    frames: list[str] | None = typer.Option(None, "--frames", help="only these frame ids (repeat)"),
    threshold: float | None = typer.Option(
        None,
        "--threshold",
        min=0.0,
        max=1.0,
        help="alert at this score or more (default: the checkpoint's calibrated threshold, else 0.5)",
    ),
    persistence: int = typer.Option(
        1, "--persistence", min=1, help="alert only when K overlapping pairs up to the pair score over it"
    ),
    batch_size: int = typer.Option(8, "--batch-size", min=1, help="prediction windows per forward pass"),
    fmt: str = typer.Option("table", "--format", help="table or json (one JSON object on stdout)"),
) -> None:
    """Score every pair with a product of the chosen split/frames through the monitor's whole-frame
    scoring and print frame AUROC, precision/recall/F1, false alerts per volcano-year and onset delay."""
    from rich.console import Console

    from hephaestus.cli.progress import progress_bar
    from hephaestus.monitor.evaluate import evaluate as run_evaluate

    if fmt not in FORMATS:
        raise InputError(f"--format {fmt!r}: expected one of {', '.join(FORMATS)}")
    if split_scheme not in SCHEMES:
        raise InputError(f"--split-scheme {split_scheme!r}: expected one of {', '.join(SCHEMES)}")
    if len(paths) < 2:
        raise InputError("give at least one CHECKPOINT and the STORE")
    *checkpoints, store = paths
    with progress_bar(transient=True, console=Console(stderr=True)) as bar:
        task = bar.add_task("pairs scored", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        result = run_evaluate(
            checkpoints, store, split=split, split_scheme=split_scheme, frames=frames,
            threshold=threshold, persistence=persistence, batch_size=batch_size, progress=progress,
        )  # fmt: skip
    for pair, why in result.skipped.items():
        typer.echo(f"warning: pair {pair} not scored: {why}", err=True)
    if fmt == "json":
        typer.echo(json.dumps(result.summary, sort_keys=True))
    else:
        _print_table(result.summary)


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def _print_table(summary: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    onset = summary["onset_delay"]
    trivial = summary.get("trivial") or {}
    table = Table(title=f"whole-frame evaluation ({summary['checkpoint']})")
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_column("trivial: alert on every pair", justify="right")
    rows = [
        ("split", f"{summary['split'] or 'all'} ({summary['split_scheme']})"),
        ("pairs (positive)", f"{summary['pairs']} ({summary['positives']})"),
        ("frames / volcano-years", f"{summary['frames']} / {_fmt(summary['volcano_years'])}"),
        ("threshold", f"{_fmt(summary['threshold'])} ({summary['threshold_source']})"),
        ("persistence", str(summary["persistence"])),
        ("frame AUROC", _fmt(summary["frame_auroc"])),
        ("precision", _fmt(summary["precision"])),
        ("recall", _fmt(summary["recall"])),
        ("F1", _fmt(summary["f1"])),
        ("alerts (false)", f"{summary['alerts']} ({summary['false_alerts']})"),
        ("false alerts / volcano-year", _fmt(summary["false_alerts_per_volcano_year"])),
        (
            "onset delay (acquisitions)",
            f"median {_fmt(onset['median'])}, max {_fmt(onset['max'])}, "
            f"missed {onset['missed']} of {onset['episodes']}",
        ),
    ]
    baseline = {"frame AUROC": "frame_auroc", "precision": "precision", "recall": "recall", "F1": "f1"}
    baseline["false alerts / volcano-year"] = "false_alerts_per_volcano_year"
    for name, value in rows:
        key = baseline.get(name)
        table.add_row(name, value, _fmt(trivial.get(key)) if key else "")
    Console().print(table)


def register(app: typer.Typer) -> None:
    app.command("evaluate")(evaluate)
