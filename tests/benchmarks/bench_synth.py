"""Time `generate` for the issue's reference run (2 frames x 12 pairs of 256 x 256).

Run: .venv/bin/python tests/benchmarks/bench_synth.py [--quick]; the last stdout line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from perf_table import table_row

from hephaestus.ingest.synthetic import SynthConfig, generate


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="one repetition instead of three")
    args = parser.parse_args()
    config = SynthConfig(frames=2, pairs=12, height=256, width=256, seed=0)
    times = []
    for i in range(1 if args.quick else 3):
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            manifest = generate(config, Path(tmp) / f"run{i}")
            times.append(time.perf_counter() - start)
    print(
        json.dumps(
            {
                "bench": "synth",
                "frames": config.frames,
                "pairs": manifest.pairs,
                "size": [config.height, config.width],
                "files": len(manifest.paths),
                "seconds_min": round(min(times), 3),
                "seconds_max": round(max(times), 3),
                "pairs_per_second": round(manifest.pairs / min(times), 1),
                "table": [
                    table_row(
                        f"synthetic sources, {config.frames} frames x {config.pairs} pairs of "
                        f"{config.height} px (best of {len(times)})",
                        f"{min(times):.1f} s ({manifest.pairs / min(times):.1f} pairs/s)",
                    )
                ],
            }
        )
    )


if __name__ == "__main__":
    main()
