"""The demo's closing report: did the models learn (against trivial baselines), and where the pictures are."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import typer

BASELINES = {
    # Predicting "no deformation" everywhere: no true positive, so precision/recall/F1/IoU are 0, and a
    # constant score ranks nothing (AUROC 0.5).
    "classification": ("all-negative", {"precision": 0.0, "recall": 0.0, "f1": 0.0, "auroc": 0.5}),
    "segmentation": ("all-background", {"precision": 0.0, "recall": 0.0, "f1": 0.0, "iou": 0.0}),
}
SCORE = {"classification": "auroc", "segmentation": "iou"}


def _pct(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{100 * float(value):.1f}"


def _test_counts(store: Path) -> tuple[int, int]:
    """(usable single-pair test samples, positives among them) from the catalog."""
    from hephaestus import catalog

    pairs = catalog.read_pairs(str(store), split="test", usable_only=True)
    positives = sum(bool(v) for v in pairs.column("positive").to_pylist()) if pairs.num_rows else 0
    return pairs.num_rows, positives


def report_console() -> Any:
    """The console the demo's reports print to: the terminal's width, or 130 columns into a file or pipe."""
    from rich.console import Console

    return Console(width=None if typer.get_text_stream("stdout").isatty() else 130)


def report(store: Path, results: Path, figures: Path) -> dict[str, Any]:
    """Print every run's test scores beside the trivial baseline; write the figures; return the best runs."""
    from rich.table import Table

    from hephaestus.train.benchmark import read_results

    console = report_console()
    table = read_results(str(results))
    if table.empty:
        console.print("[red]no finished runs: nothing to report[/]")
        return {}
    samples, positives = _test_counts(store)
    if samples == 0:  # the replay story: its test years arrive later, through the monitor
        return _trained_only(console, results, figures, table)
    best: dict[str, dict[str, Any]] = {}
    summary = Table(title=f"demo: test split, {samples} pairs ({positives} with deformation), %")
    for name in ("task", "model", "atm.", "precision", "recall", "F1", "AUROC / IoU", "best epoch"):
        summary.add_column(name, justify="left" if name in ("task", "model", "atm.") else "right")
    for task in ("classification", "segmentation"):
        rows = table[table["task"] == task].sort_values("run_id")
        for row in rows.to_dict("records"):
            score = row.get(f"test_{SCORE[task]}")
            summary.add_row(
                task, row["model"] + (" (series)" if row.get("setup") == "series" else ""),
                "✓" if row["atmosphere"] else "✗", _pct(row.get("test_precision")),
                _pct(row.get("test_recall")), _pct(row.get("test_f1")), _pct(score),
                str(int(row["best_epoch"]) + 1),
            )  # fmt: skip
            rank = (row.get("test_f1") or 0.0, score or 0.0)
            if row.get("setup", "single") == "single" and (task not in best or rank > best[task]["rank"]):
                best[task] = {"rank": rank, **row}
        name, values = BASELINES[task]
        summary.add_row(
            task, f"[dim]{name} baseline[/]", "", *(_pct(values[k]) for k in ("precision", "recall", "f1")),
            _pct(values[SCORE[task]]), "", end_section=True,
        )  # fmt: skip
    console.print(summary)
    try:
        paths = write_figures(store, results, figures, table, best)
    except Exception as exc:  # pictures are a courtesy: the tables above are the demo's result
        console.print(f"[yellow]figures not written[/]: {type(exc).__name__}: {exc}")
        paths = {}
    for what, path in paths.items():
        console.print(f"{what}: {path}")
    return best


def _trained_only(console: Any, results: Path, figures: Path, table: Any) -> dict[str, Any]:
    """No test pair yet (the replay demo: the test years are replayed through the monitor): one line per
    run with its validation score and the training curves; the best run of each task."""
    best: dict[str, dict[str, Any]] = {}
    for row in table.sort_values("run_id").to_dict("records"):
        console.print(
            f"trained {row['run_id']}: best validation loss {float(row['best_val_loss']):.3f} at epoch "
            f"{int(row['best_epoch']) + 1}; no test pair yet: the replay below is its test"
        )
        if row["task"] not in best and row.get("setup", "single") == "single":
            best[row["task"]] = dict(row)
    try:
        curves = figures / "training_curves.png"
        figures.mkdir(parents=True, exist_ok=True)
        from hephaestus.train.figures import training_curves

        training_curves(str(results), sorted(table["run_id"])).savefig(curves, dpi=90)
        console.print(f"training curves: {curves}")
    except Exception as exc:  # pictures are a courtesy
        console.print(f"[yellow]figures not written[/]: {type(exc).__name__}: {exc}")
    return best


def write_figures(
    store: Path, results: Path, figures: Path, table: Any, best: dict[str, dict[str, Any]]
) -> dict[str, Path]:
    """figures/training_curves.png (every run) and figures/predictions.png (the best runs on test pairs)."""
    from hephaestus.train.figures import predictions_figure, test_predictions, training_curves

    figures.mkdir(parents=True, exist_ok=True)
    paths = {}
    curves = figures / "training_curves.png"
    training_curves(str(results), sorted(table["run_id"])).savefig(curves, dpi=90)
    paths["training curves"] = curves
    panels = {}
    for task in ("segmentation", "classification"):
        run = best.get(task)
        if run and run.get("checkpoint"):
            panels[run["model"]] = test_predictions(str(run["checkpoint"]), str(store), count=6)
    if panels:
        predictions = figures / "predictions.png"
        predictions_figure(panels).savefig(predictions, dpi=80)
        paths["test predictions"] = predictions
    return paths
