"""Physics-based synthetic LiCSAR / ERA5 / annotation sources: `generate(SynthConfig(...), out_dir)`.

`SyntheticSources` (alias `Source`), the reader that plots a pair, loads matplotlib: it is imported
on first use only.
"""

from typing import Any

from hephaestus.ingest.synthetic.config import SynthConfig
from hephaestus.ingest.synthetic.generator import SynthManifest, generate

__all__ = ["Source", "SynthConfig", "SynthManifest", "SyntheticSources", "generate"]


def __getattr__(name: str) -> Any:
    if name in ("Source", "SyntheticSources"):
        from hephaestus.ingest.synthetic import plot

        return getattr(plot, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
