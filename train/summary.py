"""The benchmark's summary: tables shaped like the paper's Tables 3 and 4 and a comparison figure.

Rows are setup (single / time series) x model x atmosphere (without, then with) in the paper's row order
and with its model names, plus the initial weights (ImageNet / random / file): runs that started from
different weights are never averaged together. Cells are mean ± std over seeds in percent, where std is
the SAMPLE standard deviation (n - 1 denominator; the paper does not say which it used: for 3 seeds the
population std is sqrt(2/3) ≈ 0.816 times ours). In the Markdown the best mean of each column within a
setup is **bold** and the second best <u>underlined</u>, as in the paper.
"""

from __future__ import annotations

import math

import pandas as pd
from matplotlib.figure import Figure

from hephaestus.train.config import PAPER_NAMES, weights_kind
from hephaestus.train.metrics import CLASSIFICATION_METRICS, SEGMENTATION_METRICS, trivial_baseline

METRIC_LABELS = {"precision": "Prec", "recall": "Rec", "f1": "F1", "auroc": "AUROC", "iou": "IoU"}
SETUP_LABELS = {"single": "Single-Timestep", "series": "Time-Series"}
WEIGHTS_LABELS = {"imagenet": "ImageNet", "random": "random", "file": "file", "unknown": "unknown"}
KEYS = ["setup", "model", "atmosphere", "weights"]
STD_DDOF = 1
STD_NOTE = "std: sample standard deviation over seeds (n − 1 denominator)"
FRAME_COLUMNS: tuple[tuple[str, str], ...] = (
    ("frame_auroc", "Frame AUROC"),
    ("f1", "Frame F1"),
    ("false_alerts_per_volcano_year", "False alerts/volcano-yr"),
)
"""Columns added beside the paper's (ours, not the paper's): the whole-frame test metrics of a classifier
at its calibrated threshold, as the monitor scores pairs (`train.frame_score.frame_test_metrics`)."""
TRIVIAL_MODEL = "Trivial (all deformation)"
"""The row every table prints under a setup's models: what calling everything deformation scores on the
same test split (`metrics.trivial_baseline`), so a score is read against chance, not against zero."""


def aggregate(results: pd.DataFrame, task: str) -> pd.DataFrame:
    """Mean and sample std over seeds (in %) of each setup x model x atmosphere x weights kind."""
    names = CLASSIFICATION_METRICS if task == "classification" else SEGMENTATION_METRICS
    rows = results[results["task"] == task].copy()
    columns = [f"test_{m}" for m in names]
    if rows.empty:
        return pd.DataFrame(columns=[*KEYS, "seeds", *[f"{m}_{s}" for m in names for s in ("mean", "std")]])
    rows["weights"] = rows["weights"].map(weights_kind) if "weights" in rows else "unknown"
    grouped = rows.groupby(KEYS, sort=False)[columns]
    mean = grouped.mean() * 100
    std = grouped.std(ddof=STD_DDOF) * 100
    out = pd.DataFrame(index=mean.index)
    out["seeds"] = grouped.size()
    for m in names:
        out[f"{m}_mean"] = mean[f"test_{m}"]
        out[f"{m}_std"] = std[f"test_{m}"]
    for m, _ in FRAME_COLUMNS:  # whole-frame test metrics, where the runs recorded them (classifiers)
        if f"frame_test_{m}" in rows and rows[f"frame_test_{m}"].notna().any():
            scale = 1 if m == "false_alerts_per_volcano_year" else 100
            frame = rows.groupby(KEYS, sort=False)[f"frame_test_{m}"]
            out[f"frame_{m}_mean"] = frame.mean() * scale
            out[f"frame_{m}_std"] = frame.std(ddof=STD_DDOF) * scale
    if "test_prevalence" in rows:
        out["prevalence"] = rows.groupby(KEYS, sort=False)["test_prevalence"].mean()
    out = out.reset_index()
    model_rank = {m: i for i, m in enumerate(PAPER_NAMES)}
    out["_setup"] = out["setup"].map({"single": 0, "series": 1})
    out["_model"] = out["model"].map(lambda m: model_rank.get(m, len(model_rank)))
    out = out.sort_values(["_setup", "_model", "model", "atmosphere", "weights"])
    return out.drop(columns=["_setup", "_model"]).reset_index(drop=True)


def _cell(mean: float, std: float, mark: str = "{}") -> str:
    """'mean ± std' with the mean formatted through `mark` ('**{}**' bold, '<u>{}</u>' underlined)."""
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "–"
    spread = "–" if std is None or math.isnan(std) else f"{std:.2f}"
    return f"{mark.format(f'{mean:.2f}')} ± {spread}"


def _ranks(means: pd.Series) -> pd.Series:
    """1 for the best (highest) mean, 2 for the second best distinct value, 0 otherwise (2-decimal ties share)."""
    values = means.round(2)
    distinct = sorted(v for v in set(values.dropna()) if not math.isnan(v))[::-1]
    rank = {v: i + 1 for i, v in enumerate(distinct[:2])}
    return values.map(lambda v: rank.get(v, 0))


def paper_table(agg: pd.DataFrame, task: str, markdown: bool = False) -> pd.DataFrame:
    """The aggregate as the paper prints it: Setup, Model, Atm., Weights and 'mean ± std' strings.

    `markdown`: the best mean of each column within a setup in **bold**, the second <u>underlined</u>.
    """
    names = CLASSIFICATION_METRICS if task == "classification" else SEGMENTATION_METRICS
    table = pd.DataFrame(
        {
            "Setup": agg["setup"].map(SETUP_LABELS),
            "Model": agg["model"].map(lambda m: PAPER_NAMES.get(m, m)),
            "Atm.": agg["atmosphere"].map({True: "✓", False: "✗"}),
            "Weights": agg["weights"].map(lambda w: WEIGHTS_LABELS.get(w, w)),
            "Seeds": agg["seeds"],
        }
    )
    marks = {1: "**{}**", 2: "<u>{}</u>"} if markdown else {}
    for m in names:
        ranks = agg.groupby("setup", sort=False)[f"{m}_mean"].transform(_ranks)
        table[METRIC_LABELS[m]] = [
            _cell(a, b, marks.get(r, "{}"))
            for a, b, r in zip(agg[f"{m}_mean"], agg[f"{m}_std"], ranks, strict=True)
        ]
    for m, label in FRAME_COLUMNS:
        if f"frame_{m}_mean" in agg:
            table[label] = [
                _cell(a, b) for a, b in zip(agg[f"frame_{m}_mean"], agg[f"frame_{m}_std"], strict=True)
            ]
    return _with_trivial_rows(table, agg, task)


def _with_trivial_rows(table: pd.DataFrame, agg: pd.DataFrame, task: str) -> pd.DataFrame:
    """`table` with, after each setup's models, the trivial detector's row on that setup's test split
    (mean prevalence over its runs); unchanged when the results carry no prevalence (older results)."""
    if "prevalence" not in agg or agg["prevalence"].isna().all():
        return table
    names = CLASSIFICATION_METRICS if task == "classification" else SEGMENTATION_METRICS
    parts = []
    for setup, rows in table.groupby(agg["setup"], sort=False):
        parts.append(rows)
        prevalence = agg.loc[agg["setup"] == setup, "prevalence"].mean()
        if pd.isna(prevalence):
            continue
        base = trivial_baseline(task, float(prevalence))  # type: ignore[arg-type]
        row = {"Setup": SETUP_LABELS.get(setup, setup), "Model": TRIVIAL_MODEL, "Atm.": "–", "Weights": "–"}
        row["Seeds"] = "–"
        row.update({METRIC_LABELS[m]: f"{100 * base[m]:.2f}" for m in names})
        row.update({label: "–" for _, label in FRAME_COLUMNS if label in table})
        parts.append(pd.DataFrame([row]))
    return pd.concat(parts, ignore_index=True)


def to_markdown(table: pd.DataFrame, title: str, note: str = STD_NOTE) -> str:
    """A GitHub markdown table (no extra dependency), with the std definition under it."""
    header = "| " + " | ".join(table.columns) + " |"
    rule = "|" + "|".join("---" for _ in table.columns) + "|"
    lines = ["| " + " | ".join(str(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join([f"## {title}", "", header, rule, *lines, "", note, ""])


def comparison_figure(results: pd.DataFrame) -> Figure:
    """Test F1 (mean ± std over seeds) of every model in each setup x atmosphere configuration.

    Bars are per model and weights kind (a non-ImageNet start is named in the label), never pooled.
    """
    results = results.copy()
    kinds = (
        results["weights"].map(weights_kind) if "weights" in results else pd.Series("unknown", results.index)
    )
    names = results["model"].map(lambda m: PAPER_NAMES.get(m, m))
    results["model"] = [n if k == "imagenet" else f"{n} ({k})" for n, k in zip(names, kinds, strict=True)]
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
