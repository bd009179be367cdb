"""A sample drawn like the paper's Fig. 6: one column per step, phase and coherence, mask outlined."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from hephaestus.platform.figure_text import plain


def plot_sample(sample: Mapping[str, Any], channel_names: Sequence[str], steps: int, per_step: int) -> Figure:
    """Returns a Figure (no pyplot state): rows phase / coherence / mask, one column per step."""
    image = np.asarray(sample["image"])
    mask = np.asarray(sample["mask"]).astype(bool)
    fig = Figure(figsize=(3.2 * steps, 9.0), layout="constrained")
    axes = fig.subplots(3, steps, squeeze=False)
    for t in range(steps):
        phase, coh = image[t * per_step], image[t * per_step + 1]
        for row, (data, cmap, title) in enumerate([(phase, "twilight", "phase"), (coh, "gray", "coherence")]):
            ax = axes[row, t]
            ax.imshow(data, cmap=cmap)
            if mask.any():
                ax.contour(mask, levels=[0.5], colors="red", linewidths=0.8)
            ax.set_title(f"step {t}: {title} ({channel_names[t * per_step + row]})", fontsize=8)
            ax.set_axis_off()
        axes[2, t].imshow(mask, cmap="Reds", vmin=0, vmax=1)
        axes[2, t].set_title(f"step {t}: mask (union)" if steps > 1 else "mask", fontsize=8)
        axes[2, t].set_axis_off()
    label = int(np.asarray(sample.get("label", -1)))
    fig.suptitle(plain(f"sample {sample.get('id', '?')} label {label}"))  # an id is data: never markup
    return fig
