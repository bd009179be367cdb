"""The benchmark's summary: tables shaped like the paper's Tables 3 and 4 and a comparison figure.

Rows are setup (single / time series) x model x atmosphere, columns the deformation-class metrics as
mean +- std over seeds in percent, as the paper prints them.
"""

from __future__ import annotations

import math

import pandas as pd
from matplotlib.figure import Figure

from hephaestus.train.metrics import CLASSIFICATION_METRICS, SEGMENTATION_METRICS

METRIC_LABELS = {"precision": "Prec", "recall": "Rec", "f1": "F1", "auroc": "AUROC", "iou": "IoU"}
SETUP_LABELS = {"single": "Single-Timestep", "series": "Time-Series"}
KEYS = ["setup", "model", "atmosphere"]


def aggregate(results: pd.DataFrame, task: str) -> pd.DataFrame:
    """Mean and sample std over seeds (in %) of each setup x model x atmosphere, one numeric column each."""
    names = CLASSIFICATION_METRICS if task == "classification" else SEGMENTATION_METRICS
    rows = results[results["task"] == task]
    columns = [f"test_{m}" for m in names]
    if rows.empty:
        return pd.DataFrame(columns=[*KEYS, "seeds", *[f"{m}_{s}" for m in names for s in ("mean", "std")]])
    grouped = rows.groupby(KEYS, sort=False)[columns]
    mean = grouped.mean() * 100
    std = grouped.std(ddof=1) * 100
    out = pd.DataFrame(index=mean.index)
    out["seeds"] = grouped.size()
    for m in names:
        out[f"{m}_mean"] = mean[f"test_{m}"]
        out[f"{m}_std"] = std[f"test_{m}"]
    out = out.reset_index()
    order = {"single": 0, "series": 1}
    out = out.sort_values(
        ["setup", "model", "atmosphere"], key=lambda c: c.map(order) if c.name == "setup" else c
    )
    return out.reset_index(drop=True)


def _cell(mean: float, std: float) -> str:
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "–"
    spread = "–" if std is None or math.isnan(std) else f"{std:.2f}"
    return f"{mean:.2f} ± {spread}"


def paper_table(agg: pd.DataFrame, task: str) -> pd.DataFrame:
    """The aggregate as the paper prints it: Setup, Model, Atm. and 'mean ± std' strings."""
    names = CLASSIFICATION_METRICS if task == "classification" else SEGMENTATION_METRICS
    table = pd.DataFrame(
        {
            "Setup": agg["setup"].map(SETUP_LABELS),
            "Model": agg["model"],
            "Atm.": agg["atmosphere"].map({True: "✓", False: "✗"}),
            "Seeds": agg["seeds"],
        }
    )
    for m in names:
        table[METRIC_LABELS[m]] = [
            _cell(a, b) for a, b in zip(agg[f"{m}_mean"], agg[f"{m}_std"], strict=True)
        ]
    return table


def to_markdown(table: pd.DataFrame, title: str) -> str:
    """A GitHub markdown table (no extra dependency)."""
    header = "| " + " | ".join(table.columns) + " |"
    rule = "|" + "|".join("---" for _ in table.columns) + "|"
    lines = ["| " + " | ".join(str(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join([f"## {title}", "", header, rule, *lines, ""])


def comparison_figure(results: pd.DataFrame) -> Figure:
    """Test F1 (mean ± std over seeds) of every model in each setup x atmosphere configuration."""
    fig = Figure(figsize=(max(6.0, 1.3 * max(1, results["model"].nunique())), 4.0), constrained_layout=True)
    ax = fig.add_subplot()
    configs = [(s, a) for s in ("single", "series") for a in (True, False)]
    models = list(dict.fromkeys(results["model"]))
    width = 0.8 / len(configs)
    for k, (setup, atm) in enumerate(configs):
        part = results[(results["setup"] == setup) & (results["atmosphere"] == atm)]
        stats = part.groupby("model")["test_f1"].agg(["mean", "std"]).reindex(models)
        xs = [i + (k - (len(configs) - 1) / 2) * width for i in range(len(models))]
        label = f"{SETUP_LABELS[setup]}, {'with' if atm else 'without'} atmosphere"
        ax.bar(
            xs,
            stats["mean"].fillna(0) * 100,
            width,
            yerr=stats["std"].fillna(0) * 100,
            label=label,
            capsize=2,
        )
    ax.set_xticks(range(len(models)), models, rotation=20, ha="right")
    ax.set_ylabel("test F1 of the deformation class (%)")
    ax.set_ylim(0, 100)
    ax.set_title("Benchmark configurations (mean ± std over seeds)")
    ax.legend(fontsize="small")
    return fig
