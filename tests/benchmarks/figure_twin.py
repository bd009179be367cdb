"""README figure: a twin pair beside its real annotation polygon (docs/figures/twin_pair.png).

Draws one real pair's twin at full scale (1070 x 1409 pixels of 0.001 deg) and plots it with
`plot_twin` (the same as `hmc plot-pair OUT UID --real annotations.tar.gz`).

Usage: .venv/bin/python tests/benchmarks/figure_twin.py [--uid 1130] [--scale 1.0] [--out docs/figures/twin_pair.png]
The LAST stdout line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ANNOTATIONS = ROOT.parent / "shared" / "data" / "hephaestus" / "annotations.tar.gz"


def main() -> None:
    from hephaestus.ingest.synthetic.plot import plot_twin
    from hephaestus.ingest.synthetic.twin import generate_twin, real_record

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--uid", type=int, default=1130)  # Sierra Negra, a High-intensity dyke, 2018
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--out", default=str(ROOT / "docs" / "figures" / "twin_pair.png"))
    args = ap.parse_args()
    t = time.perf_counter()
    record = real_record(ANNOTATIONS, args.uid)
    with tempfile.TemporaryDirectory() as tmp:
        generate_twin(
            ANNOTATIONS, tmp, frames_wanted=[str(record["frameID"])], scale=args.scale, only_ids={args.uid}
        )
        fig = plot_twin(tmp, args.uid, record)
        fig.savefig(args.out, dpi=90)
    print(
        json.dumps(
            {
                "figure": args.out,
                "uid": args.uid,
                "scale": args.scale,
                "seconds": round(time.perf_counter() - t, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
