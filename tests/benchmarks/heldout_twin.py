"""Sources of the held-out twin of docs/detection.md: 14 frames with annotated unrest, the same number of pairs
with and without deformation from each, evenly spaced in time, at a small scale of the real grid.

Usage: .venv/bin/python tests/benchmarks/heldout_twin.py OUT [--pairs-per-frame 60] [--scale 0.3]
then `hmc ingest OUT --out STORE` and `hmc catalog build STORE`. Last stdout line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import time

FRAMES = (
    "128D_09016_110500", "106A_09090_000404", "087D_07004_060904", "155D_02579_100800", "144A_SM_REUN_S6",
    "124D_05291_081406", "083D_12636_131313", "174A_09133_131313", "021D_09150_131313", "032D_09854_070505",
    "169D_00001_020800", "124D_04854_171313", "162A_06192_060402", "022D_04826_121209",
)  # fmt: skip


def spaced(items: list, n: int) -> list:
    """n items evenly spaced through `items` (all of them when there are no more than n)."""
    if len(items) <= n:
        return items
    step = len(items) / n
    return [items[int(i * step)] for i in range(n)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--pairs-per-frame", type=int, default=60)
    ap.add_argument("--scale", type=float, default=0.3)
    args = ap.parse_args()

    from hephaestus.ingest.synthetic.twin import generate_twin, load_records
    from hephaestus.platform.shared_data import DEFAULT_ANNOTATIONS

    records = load_records(str(DEFAULT_ANNOTATIONS))
    ids: set[int] = set()
    for frame in FRAMES:
        rows = sorted(
            (r for r in records if r.frame_id == frame), key=lambda r: (str(r.secondary), r.unique_id)
        )
        positive = [r for r in rows if "Non_Deformation" not in str(r.record.get("label"))]
        negative = [r for r in rows if r not in positive]
        chosen = spaced(positive, args.pairs_per_frame // 2)
        chosen += spaced(negative, args.pairs_per_frame - len(chosen))
        ids |= {r.unique_id for r in chosen}
    start = time.perf_counter()
    made = generate_twin(
        str(DEFAULT_ANNOTATIONS), args.out, frames_wanted=list(FRAMES), scale=args.scale, seed=0,
        records=records, only_ids=ids,
    )  # fmt: skip
    print(
        json.dumps(
            {"frames": len(made.frames), "pairs": len(ids), "seconds": round(time.perf_counter() - start, 1)}
        )
    )


if __name__ == "__main__":
    main()
