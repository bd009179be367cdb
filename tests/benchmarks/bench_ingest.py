"""Ingest benchmark: MB of cube written per second per core with 1 and 2 Ray workers on the same sources,
the 1 -> 2 worker speed-up, and where a pair's time goes (the write tasks' own step timers, summed by the
run: read GeoTIFF, ERA5 open/resample, mask rasterise, encode, write; and the driver's plan/publish).

Workload (default `--workload twin`, the realistic one): the twin (`hmc synth --twin`) of 4 real frames at
`--scale` 0.25 (a quarter of the real frames per side: a few hundred pixels), 48 of each frame's
real pairs spread over its dates, so that each cube has its frame's real date grid, mask shapes and share of
pairs without a product. `--workload generator`: the generator's 4 frames x 24 pairs at 535 x 705 pixels, half
the published sample frame (1070 x 1409) on each side (the figure before issue 26). `--quick`: 2 frames x 12
pairs. The last line reports both MB of cube content (uncompressed array bytes) and MB stored (the published
cubes' bytes on disk). Rounds alternate 1, 2, 2, 1 workers (a fresh local Ray per round, its workers started and warmed
before the clock starts, each run into a new store); each side's figure is its mean. Before the rounds, one
untimed ingest of one frame warms the driver (imports, readers), so that the first round does not pay it alone. Layout crop reads are
in bench_layouts.py.

Usage: .venv/bin/python tests/benchmarks/bench_ingest.py [--quick] [--workload twin|generator] [--scale S]
       [--frames F] [--pairs P]
The LAST stdout line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("RAY_AUTH_MODE", "disabled")

SPEEDUP_GOAL = 1.7
HEIGHT, WIDTH = 535, 705  # half the published sample frame
# real frames of different sizes and date grids (the published sample among them)
TWIN_FRAMES = ("106A_09090_000404", "124D_04854_171313", "155D_02484_191814", "012D_07075_080504")


def _twin_sources(out: Path, frames: int, pairs: int, scale: float) -> dict:
    """The twin of `frames` real frames, `pairs` of each frame's annotated pairs spaced evenly over its
    secondary dates; returns the frames and the number of pairs written."""
    from hephaestus.ingest.synthetic.twin import generate_twin, load_records
    from hephaestus.platform.shared_data import DEFAULT_ANNOTATIONS as ANNOTATIONS

    records = load_records(ANNOTATIONS)
    wanted = TWIN_FRAMES[:frames]
    ids: set[int] = set()
    for frame in wanted:
        mine = sorted(
            (r for r in records if r.frame_id == frame), key=lambda r: (str(r.secondary), r.unique_id)
        )
        step = max(1, len(mine) // pairs)
        ids |= {r.unique_id for r in mine[::step][:pairs]}
    m = generate_twin(
        ANNOTATIONS, out, frames_wanted=list(wanted), scale=scale, seed=7, records=records, only_ids=ids
    )
    return {"frames": list(m.frames), "pairs": len(ids)}


def _warm_workers(n: int) -> None:
    """Start every worker process and import the task code before timing, so that no run pays start-up."""
    import ray

    @ray.remote(num_cpus=1)
    def warm() -> int:
        import dask.array  # noqa: F401  (the cube template's lazy variables)
        import pyproj  # noqa: F401  (the template's grid mapping)
        import xarray as xr

        import hephaestus.ingest.runner  # noqa: F401  (frame tasks: planning, the cube template)
        import hephaestus.ingest.writer  # noqa: F401  (write tasks)

        xr.backends.list_engines()  # the NetCDF backends load on first use: once a process, not timed

        time.sleep(0.3)
        return os.getpid()

    ray.get([warm.remote() for _ in range(4 * n)])


def _first_frame(src: Path) -> tuple[str, ...]:
    return (sorted(p.name for p in (src / "licsar").iterdir())[0],)


def _one_run(src: Path, store: Path, workers: int, only_frames: tuple[str, ...] | None = None) -> dict:
    import ray

    from hephaestus.ingest import IngestConfig, run_ingest
    from hephaestus.platform.ray_session import local_init_kwargs

    ray.init(**local_init_kwargs(workers))
    try:
        _warm_workers(workers)
        cpu0 = time.process_time()
        cfg = IngestConfig(sources=str(src), out=str(store), workers=workers, only_frames=only_frames)
        s = run_ingest(cfg)
        driver_cpu = time.process_time() - cpu0
    finally:
        ray.shutdown()
    assert s.ok and s.pairs_written > 0, s.as_dict()
    return {
        "workers": workers,
        "seconds": s.seconds,
        "mb_written": s.bytes_written / 1e6,
        "mb_stored": s.bytes_stored / 1e6,
        "pairs_written": s.pairs_written,
        "tasks": s.tasks_run,
        "peak_rss_mb_per_task": s.peak_rss_mb_per_task,
        "task_seconds": dict(s.task_seconds),
        "driver_seconds": dict(s.driver_seconds),
        "frame_seconds": dict(s.frame_seconds),
        "driver_cpu_seconds": driver_cpu,
    }


def _mean(xs: list[float]) -> float:
    return sum(xs) / len(xs)


def _side(runs: list[dict], workers: int) -> dict:
    mine = [r for r in runs if r["workers"] == workers]
    seconds = _mean([r["seconds"] for r in mine])
    mb = mine[0]["mb_written"]
    return {
        "seconds": round(seconds, 2),
        "seconds_runs": [round(r["seconds"], 2) for r in mine],
        "mb_written": round(mb, 1),
        "mb_stored": round(mine[0]["mb_stored"], 1),
        "pairs_written": mine[0]["pairs_written"],
        "tasks": mine[0]["tasks"],
        "mb_s": round(mb / seconds, 2),
        "mb_s_per_core": round(mb / seconds / workers, 2),
        "peak_rss_mb_per_task": round(max(r["peak_rss_mb_per_task"] for r in mine), 1),
        # load-robust: MB per CPU second of the write tasks, and the driver's CPU seconds (plan, stage,
        # publish, Ray calls); on an idle machine seconds ~ driver CPU + task CPU / workers
        "mb_per_task_cpu_s": round(mb / _mean([r["task_seconds"]["cpu"] for r in mine]), 1),
        "driver_cpu_seconds": round(_mean([r["driver_cpu_seconds"] for r in mine]), 2),
    }


def _breakdown(runs: list[dict]) -> dict:
    """Where a pair's time goes, from the 1-worker runs (no other task competes for the core): per step,
    wall and CPU milliseconds per pair and shares of the write tasks' time; the driver's serial phases.
    The CPU shares are the figure to read on a loaded machine (wall times stretch with others' work). The
    driver's phases are its survey of the sources ("plan") and publishing; each frame is planned and staged by
    a task of its own (`frame_task_seconds`)."""
    from hephaestus.ingest.timing import STEPS

    mine = [r for r in runs if r["workers"] == 1]
    total: dict[str, float] = {}
    driver: dict[str, float] = {}
    frames: dict[str, float] = {}
    for r in mine:
        for k, v in r["task_seconds"].items():
            total[k] = total.get(k, 0.0) + v / len(mine)
        for k, v in r["driver_seconds"].items():
            driver[k] = driver.get(k, 0.0) + v / len(mine)
        for k, v in r["frame_seconds"].items():
            frames[k] = frames.get(k, 0.0) + v / len(mine)
    pairs = mine[0]["pairs_written"]
    wall = {k: total.get(k, 0.0) for k in STEPS}
    cpu = {k: total.get(f"cpu_{k}", 0.0) for k in STEPS}
    seconds = _mean([r["seconds"] for r in mine])
    return {
        "ms_per_pair": {k: round(1e3 * v / pairs, 2) for k, v in wall.items()},
        "cpu_ms_per_pair": {k: round(1e3 * v / pairs, 2) for k, v in cpu.items()},
        "share_of_task_time": {k: round(v / total["task"], 3) for k, v in wall.items()},
        "share_of_task_cpu": {k: round(v / total["cpu"], 3) for k, v in cpu.items()},
        "task_ms_per_pair": round(1e3 * total["task"] / pairs, 2),
        "task_cpu_ms_per_pair": round(1e3 * total["cpu"] / pairs, 2),
        "task_cpu_over_wall": round(total["cpu"] / total["task"], 2),
        "driver_seconds": {k: round(v, 3) for k, v in driver.items()},
        # the frame tasks (one a frame: plan from headers, stage the cube template), summed over frames
        "frame_task_seconds": {k: round(v, 3) for k, v in frames.items()},
        "driver_share_of_run": round(sum(driver.values()) / seconds, 3),
        "tasks_share_of_run": round(total["task"] / seconds, 3),
    }


def _table(one: dict, two: dict, speedup: float, shares: dict) -> list[dict]:
    top = sorted(shares.items(), key=lambda kv: -kv[1])
    return [
        {"figure": "ingest MB of cube written /s/core, 1 worker", "value": f"{one['mb_s_per_core']:.1f}"}
        | {"goal": None, "met": None},
        {"figure": "ingest MB of cube written /s/core, 2 workers", "value": f"{two['mb_s_per_core']:.1f}"}
        | {"goal": None, "met": None},
        {
            "figure": "ingest MB stored / MB of cube content",
            "value": f"{one['mb_stored']:.1f} / {one['mb_written']:.1f}",
            "goal": None,
            "met": None,
        },
        {
            "figure": "ingest speed-up, 1 -> 2 Ray workers",
            "value": f"{speedup:.2f}x",
            "goal": f">= {SPEEDUP_GOAL}x",
            "met": speedup >= SPEEDUP_GOAL,
        },
        {
            "figure": "ingest write task CPU by step",
            "value": ", ".join(f"{k} {100 * v:.0f}%" for k, v in top if v >= 0.005),
            "goal": None,
            "met": None,
        },
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--frames", type=int, default=None)
    parser.add_argument("--pairs", type=int, default=None, help="pairs per frame")
    parser.add_argument("--workload", choices=("twin", "generator"), default="twin")
    parser.add_argument("--scale", type=float, default=0.25, help="twin: grid factor of the real frames")
    args = parser.parse_args()
    frames = args.frames or (2 if args.quick else 4)
    pairs = args.pairs or (12 if args.quick else 48 if args.workload == "twin" else 24)
    order = (1, 2) if args.quick else (1, 2, 2, 1)

    from hephaestus.ingest.synthetic import SynthConfig, generate

    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        src = Path(tmp) / "sources"
        t = time.perf_counter()
        if args.workload == "twin":
            written = _twin_sources(src, frames, pairs, args.scale)
        else:
            generate(SynthConfig(frames=frames, pairs=pairs, height=HEIGHT, width=WIDTH, seed=7), src)
            written = {"frames": frames, "pairs": frames * pairs}
        synth_s = time.perf_counter() - t
        # the driver, too, runs the code once before the clock (imports, readers, Ray's client calls):
        # otherwise the first round, always a 1-worker one, would pay that alone
        _one_run(src, Path(tmp) / "warm-up", 1, only_frames=_first_frame(src))
        runs = []
        for k, workers in enumerate(order):
            runs.append(_one_run(src, Path(tmp) / f"store-{k}", workers))
            print(f"round {k}: {workers} worker(s) {runs[-1]['seconds']:.1f} s", flush=True)
    one, two = _side(runs, 1), _side(runs, 2)
    speedup = round(one["seconds"] / two["seconds"], 3)
    breakdown = _breakdown(runs)
    print(json.dumps({"breakdown": breakdown}, indent=1))
    result = {
        "benchmark": "ingest",
        "quick": args.quick,
        "workload": {
            "kind": args.workload,
            "frames": frames,
            "pairs_per_frame": pairs,
            "written": written,
            "frame_px": f"{HEIGHT}x{WIDTH}" if args.workload == "generator" else f"twin scale {args.scale}",
            "synth_seconds": round(synth_s, 1),
            "rounds": list(order),
            "cpus": os.cpu_count(),
        },
        "workers_1": one,
        "workers_2": two,
        "speedup": speedup,
        "mb_content": one["mb_written"],
        "mb_stored": one["mb_stored"],
        "mb_s_per_core": {"1": one["mb_s_per_core"], "2": two["mb_s_per_core"]},
        "breakdown": breakdown,
        "table": _table(one, two, speedup, breakdown["share_of_task_cpu"]),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
