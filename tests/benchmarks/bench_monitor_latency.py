"""Latency of one new pair through a warm `hmc monitor --every` (issue 24 item 4): discovery to an updated
dashboard, by step.

A synthetic unrest feed (2 frames by default, 48 px) is released up to the date before its last
one-pair date; a warm watcher (`monitor.watch.Watcher`: one Ray session, models loaded once, the
dashboard updated after each cycle by `hmc dashboard`'s own function) runs a first cycle over that
history (wall time, pairs, by step, with the progress bars `hmc monitor` shows), then the feed releases
ONE new product and one more cycle is timed, discovery to updated dashboard. Models: a randomly
initialised segmenter (latency does not depend on the weights). Goal: one pair <= 10 s.

Usage: .venv/bin/python tests/benchmarks/bench_monitor_latency.py [--pairs N] [--frames F] [--size PX]
[--no-dashboard] [--keep DIR]. `--pairs 600`: the first cycle over a 600-pair store (N pairs in all,
split over the frames). The last stdout line is one JSON object (`one_pair_seconds`, `steps`, ...).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
import time
from pathlib import Path

T0 = time.perf_counter()
HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "platform")]

from monitor_feed import random_segmenter, unrest_feed  # noqa: E402

from hephaestus.cli.dashboard import write_dashboard  # noqa: E402
from hephaestus.cli.monitor import _cycle_progress  # noqa: E402
from hephaestus.ingest.synthetic.generator import plan  # noqa: E402
from hephaestus.ingest.synthetic.release import release  # noqa: E402
from hephaestus.monitor.config import MonitorConfig  # noqa: E402
from hephaestus.monitor.watch import Watcher  # noqa: E402

IMPORT_S = time.perf_counter() - T0
ORDER = ("models", "discover", "ingest", "catalog", "score", "tables", "episodes", "dashboard")


def one_pair_date(feed) -> tuple[dt.date, dt.date]:  # type: ignore[no-untyped-def]
    """(the last date on which the feed gains exactly one product, the date before it)."""
    counts: dict[dt.date, int] = {}
    for _, p in plan(feed).pairs:
        if not p.missing:
            counts[p.secondary] = counts.get(p.secondary, 0) + 1
    dates = sorted({p.secondary for _, p in plan(feed).pairs})
    single = [d for d in dates[1:] if counts.get(d) == 1]
    if not single:
        raise SystemExit("no date of this feed adds exactly one product; try another --pairs")
    last = single[-1]
    return last, dates[dates.index(last) - 1]


def steps_line(steps: dict[str, float]) -> str:
    return ", ".join(f"{k} {steps[k]:.2f}" for k in ORDER if k in steps)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=24, help="pairs in the feed (all frames)")
    ap.add_argument("--frames", type=int, default=2)
    ap.add_argument("--size", type=int, default=48, help="frame width and height, px")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--no-dashboard", action="store_true")
    ap.add_argument("--keep", type=Path, default=None, help="work folder to keep (default: a temporary one)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="hmc-latency-") as tmp:
        root = args.keep or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        feed, _, _ = unrest_feed(
            seed=11, frames=args.frames, pairs=max(1, args.pairs // args.frames), size=args.size
        )
        new_date, before = one_pair_date(feed)
        t = time.perf_counter()
        release(feed, root / "feed", before)
        released_s = time.perf_counter() - t
        ckpt = random_segmenter(root / "ckpt")
        cfg = MonitorConfig(
            sources=str(root / "feed"),
            store=str(root / "store"),
            checkpoints=(str(ckpt),),
            every=60,
            workers=args.workers,
        )
        site = str(root / "site")
        after = None if args.no_dashboard else (lambda _r: write_dashboard(cfg.store, site))
        t = time.perf_counter()
        with Watcher(cfg, after=after) as watcher:
            start_s = time.perf_counter() - t  # Ray started once, models loaded once
            t = time.perf_counter()
            with _cycle_progress(watcher):
                first = watcher.cycle()
            first_s = time.perf_counter() - t
            first_steps = watcher.last_steps
            print(first.line(), file=sys.stderr)
            print(
                f"first cycle: {first.scored} pairs in {first_s:.1f} s ({steps_line(first_steps)})",
                file=sys.stderr,
            )
            release(feed, root / "feed", new_date)  # ONE new product
            t = time.perf_counter()
            second = watcher.cycle()
            one_s = time.perf_counter() - t
            steps = watcher.last_steps
            print(second.line(), file=sys.stderr)
            print(f"one new pair: {one_s:.2f} s ({steps_line(steps)})", file=sys.stderr)
            loads = watcher.warm.loads
    out = {
        "one_pair_seconds": round(one_s, 3),
        "steps": {k: round(steps[k], 3) for k in ORDER if k in steps},
        "ingest_driver": {k[7:]: round(v, 3) for k, v in steps.items() if k.startswith("ingest.")},
        "other_seconds": round(one_s - sum(steps.get(k, 0.0) for k in ORDER), 3),
        "one_pair_scored": second.scored,
        "new_products": second.new_products,
        "first_cycle_seconds": round(first_s, 3),
        "first_cycle_pairs": first.scored,
        "first_cycle_steps": {k: round(first_steps[k], 3) for k in ORDER if k in first_steps},
        "watcher_start_seconds": round(start_s, 3),
        "import_seconds": round(IMPORT_S, 3),
        "release_seconds": round(released_s, 3),
        "model_loads": loads,
        "dashboard": not args.no_dashboard,
        "frames": args.frames,
        "size_px": args.size,
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
