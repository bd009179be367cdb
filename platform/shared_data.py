"""Where the repository's neighbour folder `shared/` keeps the public data the platform ships defaults for.

The real annotations of the 19,919 published pairs (with the authors' quality index and frame list beside
them) drive the synthetic twin; the Smithsonian GVP Holocene list names volcanoes. Both are read from the
folder `shared/` beside the repository (one place for the path; tests use the same folder).
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

SHARED_DATA: Final = Path(__file__).resolve().parents[1].parent / "shared" / "data"
DEFAULT_GVP: Final = SHARED_DATA / "volcanoes" / "gvp_holocene.csv"
"""The GVP Holocene volcano list (the monitor's and dashboard's default)."""
DEFAULT_ANNOTATIONS: Final = SHARED_DATA / "hephaestus" / "annotations.tar.gz"
"""The real annotations of every published pair (the twin's and the replay demo's default)."""
