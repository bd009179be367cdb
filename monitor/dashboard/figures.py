"""The dashboard's PNGs, drawn with matplotlib (object API, Agg: no display, no global pyplot state)."""

from __future__ import annotations

import datetime as dt
import io
import math

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Polygon as PolygonPatch

from hephaestus.platform.figure_text import plain

MAX_IMAGE_PIXELS = 800
"""Interferograms are decimated to at most this many pixels a side (a real frame is ~1400 wide)."""
PREDICTED_COLOUR = "#e4002b"
TRUE_COLOUR = "#00e5ff"


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    return buf.getvalue()


def timeline_png(rows: list[dict], title: str) -> bytes:
    """Scores against the secondary date, one colour per frame; alerts as red triangles. Points, no
    lines: pairs of one secondary date may have several primaries, so a line would zigzag."""
    fig = Figure(figsize=(8.0, 2.8))
    ax = fig.add_subplot()
    frames = sorted({r["frame_id"] for r in rows})
    for k, frame in enumerate(frames):
        mine = [r for r in rows if r["frame_id"] == frame]
        ax.plot(
            [r["secondary_date"] for r in mine],
            [r["score"] for r in mine],
            "o",
            ms=5,
            alpha=0.8,
            color=f"C{k % 10}",
            label=plain(frame),
        )
    alerted = [r for r in rows if r["alert"]]
    if alerted:
        ax.plot(
            [r["secondary_date"] for r in alerted],
            [r["score"] for r in alerted],
            "^",
            ms=10,
            color=PREDICTED_COLOUR,
            label="alert",
            zorder=5,
        )
    if not rows:
        ax.text(0.5, 0.5, "no scores yet", ha="center", va="center", transform=ax.transAxes)
    ax.set_ylim(-0.02, 1.02)
    ax.set_ylabel("deformation score")
    ax.set_xlabel("secondary date")
    ax.set_title(plain(title))
    ax.grid(alpha=0.3)
    if rows:
        ax.legend(loc="upper left", fontsize=7, ncols=min(4, len(frames) + 1))
    fig.autofmt_xdate()
    return _png(fig)


def _rings(geometry: dict | None) -> list[list[list[float]]]:
    """Outer and inner rings of a GeoJSON Polygon / MultiPolygon (lon, lat)."""
    if not geometry:
        return []
    if geometry.get("type") == "Polygon":
        return list(geometry["coordinates"])
    if geometry.get("type") == "MultiPolygon":
        return [ring for poly in geometry["coordinates"] for ring in poly]
    return []


def pair_png(
    phase: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    predicted: dict | None,
    true_mask: np.ndarray | None,
    title: str,
) -> bytes:
    """Wrapped phase (radians) in lon/lat with the predicted polygon and the true mask's outline."""
    step = max(1, math.ceil(max(phase.shape) / MAX_IMAGE_PIXELS))
    phase = phase[::step, ::step]
    lat, lon = lat[::step], lon[::step]
    dlat = abs(float(lat[1] - lat[0])) if lat.size > 1 else 0.001
    dlon = abs(float(lon[1] - lon[0])) if lon.size > 1 else 0.001
    extent = (
        float(lon.min()) - dlon / 2,
        float(lon.max()) + dlon / 2,
        float(lat.min()) - dlat / 2,
        float(lat.max()) + dlat / 2,
    )
    height = 6.0 * phase.shape[0] / max(phase.shape[1], 1)
    fig = Figure(figsize=(7.0, max(2.5, min(height, 8.0)) + 0.6))
    ax = fig.add_subplot()
    shown = np.where(phase == 0, np.nan, phase)  # 0 is LiCSAR's no-data
    origin = "upper" if lat.size < 2 or lat[0] > lat[-1] else "lower"
    im = ax.imshow(shown, cmap="twilight", vmin=-np.pi, vmax=np.pi, extent=extent, origin=origin)
    fig.colorbar(im, ax=ax, label="wrapped phase (rad)", fraction=0.046, pad=0.04)
    handles = []
    if true_mask is not None and np.any(true_mask[::step, ::step]):
        ax.contour(lon, lat, (true_mask[::step, ::step] > 0).astype(float), levels=[0.5], colors=TRUE_COLOUR)
        handles.append(Line2D([], [], color=TRUE_COLOUR, label="true mask (annotation)"))
    rings = _rings(predicted)
    for ring in rings:
        ax.add_patch(PolygonPatch(np.asarray(ring), closed=True, fill=False, ec=PREDICTED_COLOUR, lw=1.8))
    if rings:
        handles.append(Line2D([], [], color=PREDICTED_COLOUR, label="predicted mask (alert)"))
    if handles:
        ax.legend(handles=handles, loc="lower left", fontsize=8, framealpha=0.8)
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")
    ax.set_title(plain(title), fontsize=10)
    return _png(fig)


def iso(day: dt.date | None) -> str:
    return day.isoformat() if day is not None else ""
