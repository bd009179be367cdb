"""Channel crops from an S3-protocol server (moto on 127.0.0.1) beside local disk: requests, bytes, crops/s.

One cube variable (`insar_difference`, wrapped phase with noise) in the layout ingest writes by default
(`ingest.encoding`), a few pairs of the published sample's size, stored on local disk and in a bucket of
a moto server started the way the tests start it (tests/object_servers.py). 512 px crops at random
offsets are read through the loader's chunk reader (`train.data.chunks`) with three stores:
  local disk: zarr LocalStore (one pread per inner chunk);
  s3fs:       zarr FsspecStore over s3fs (aiobotocore), what remote reads went through before;
  obstore:    zarr ObjectStore over obstore (Rust object_store).
Both remote clients are also run without range coalescing (`Fetcher.max_ranges = None`: one request per
inner chunk, the path before coalescing); the clients' table rows are the default, coalesced path.

Requests and bytes are counted by a real HTTP proxy in front of the server (tests/object_servers.py),
per crop, after each shard index is cached (every pair's index is read once first); the "cold" variants
read the index again for every crop, as training does when it seldom revisits a pair. Crops/s are timed
directly against the server (no proxy), in interleaved rounds in one process, best round per client.
Every crop is checked against zarr's own reader. The machine is shared: crops/s are provisional.

Usage: .venv/bin/python tests/benchmarks/bench_remote.py [--quick]
The last stdout line is one JSON object (with the "table" rows of the README's performance table).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent)]

import numpy as np  # noqa: E402
import zarr  # noqa: E402
from object_servers import CountingProxy, aws_environment, moto_server  # noqa: E402

from hephaestus.ingest.config import ChunkingConfig  # noqa: E402
from hephaestus.ingest.encoding import encoding  # noqa: E402
from hephaestus.platform import storage  # noqa: E402
from hephaestus.platform.cube import zarr_store  # noqa: E402
from hephaestus.train.data.array_reader import ArrayReader  # noqa: E402
from hephaestus.train.data.chunks import read_windows  # noqa: E402
from hephaestus.train.data.fetch import MAX_RANGES_PER_OBJECT, Fetcher  # noqa: E402
from hephaestus.train.data.window import Window  # noqa: E402

VAR = "insar_difference"
CROP = 512
BUCKET = "bench-remote"


def phase_slices(n: int, h: int, w: int, seed: int = 0) -> np.ndarray:
    """Wrapped phase: a smooth fringe pattern plus speckle noise, one slice per pair."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype("float32")
    out = np.empty((n, 1, h, w), "float32")
    for k in range(n):
        signal = 5 * np.cos(xx / (80 + 7 * k)) * np.sin(yy / 60) + 0.003 * (2 * xx - yy)
        out[k, 0] = np.angle(np.exp(1j * (signal + rng.normal(0, 0.7, (h, w))))).astype("float32")
    return out


def write_cube(path: Path, data: np.ndarray) -> dict[str, object]:
    """The variable in ingest's default encoding; returns that encoding (for the report)."""
    n, _, h, w = data.shape
    enc = dict(encoding(3, n, 1, h, w, ChunkingConfig())[VAR])
    group = zarr.open_group(str(path), mode="w", zarr_format=3)
    array = group.create_array(VAR, shape=data.shape, dtype="float32", **enc)  # type: ignore[arg-type]
    array[...] = data
    return enc


class Cropper:
    """512 px crops of one store through the loader's chunk reader."""

    def __init__(
        self, store: zarr.abc.store.Store, max_ranges: int | None = MAX_RANGES_PER_OBJECT, cold: bool = False
    ) -> None:
        self.array = zarr.open_array(store, path=VAR, mode="r")
        self.reader = ArrayReader(self.array)
        self.fetcher = Fetcher(store)
        self.fetcher.max_ranges = max_ranges
        self.cold = cold
        """Every crop with a fresh reader: its shard index is read again (training visits a pair rarely)."""

    def __call__(self, k: int, r: int, c: int) -> np.ndarray:
        out = np.empty((CROP, CROP), np.float32)
        window = Window((k, 0), r, r + CROP, c, c + CROP)
        if self.cold:
            self.reader = ArrayReader(self.array)
        for _, piece, dst in read_windows([(self.reader, window)], self.fetcher):
            out[dst] = piece
        return out

    def warm(self, n_pairs: int) -> None:
        """Read every pair's shard index (the figures are for crops after it is cached)."""
        for k in range(n_pairs):
            self(k, 0, 0)


def stores(local: Path, url: str) -> dict[str, Callable[[], zarr.abc.store.Store]]:
    return {
        "local disk": lambda: zarr_store(str(local)),
        "s3fs": lambda: zarr_store(url, s3_client="fsspec"),
        "obstore": lambda: zarr_store(url, s3_client="obstore"),
    }


def needed_bytes(cropper: Cropper, starts: list[tuple[int, int, int]]) -> tuple[float, float]:
    """(inner chunks, stored bytes) a crop needs on average, from the shard indexes: the floor for any client."""
    chunks = nbytes = 0
    for k, r, c in starts:
        for key, inner, _, _ in cropper.reader.plan(Window((k, 0), r, r + CROP, c, c + CROP)):
            req = cropper.reader.chunk_request(key, inner)
            if req is not None:
                chunks += 1
                nbytes += req[1][1] if req[1] is not None else 0
    return chunks / len(starts), nbytes / len(starts)


def count_requests(
    make: Callable[[], zarr.abc.store.Store],
    proxy: CountingProxy,
    starts: list,
    n_pairs: int,
    max_ranges: int | None,
    cold: bool,
) -> dict[str, float]:
    """Requests and bytes per crop as the proxy saw them (after the indexes are cached, unless cold)."""
    cropper = Cropper(make(), max_ranges, cold)
    cropper.warm(n_pairs)
    per_crop, nbytes = [], 0
    for k, r, c in starts:
        proxy.reset()
        got = cropper(k, r, c)
        seen = proxy.requests
        want = cropper.array[k, 0, r : r + CROP, c : c + CROP]  # zarr's own reader, not counted
        if not np.array_equal(got, want, equal_nan=True):
            raise AssertionError(f"crop ({k}, {r}, {c}) differs from zarr's reader")
        per_crop.append(len(seen))
        nbytes += sum(q.nbytes for q in seen)
    return {
        "requests_per_crop": round(float(np.mean(per_crop)), 2),
        "max_requests_per_crop": int(max(per_crop)),
        "mb_per_crop": round(nbytes / len(starts) / 1e6, 3),
    }


def crop_rates(croppers: dict[str, Cropper], starts: list, rounds: int, seed: int) -> dict[str, dict]:
    """Crops/s per client: interleaved rounds (random order each round), best and median round."""
    rng = np.random.default_rng(seed)
    times: dict[str, list[float]] = {name: [] for name in croppers}
    for _ in range(rounds):
        for name in rng.permutation(list(croppers)):
            t0 = time.perf_counter()
            for k, r, c in starts:
                croppers[name](k, r, c)
            times[name].append(len(starts) / (time.perf_counter() - t0))
    return {n: {"best": round(max(v), 1), "median": round(float(np.median(v)), 1)} for n, v in times.items()}


def run(quick: bool) -> dict:
    n_pairs = 2 if quick else 4
    h, w = 1070, 1409  # the published sample's frame size
    n_crops = 16 if quick else 40
    rounds = 3 if quick else 5
    rng = np.random.default_rng(1)
    starts = [
        (int(rng.integers(0, n_pairs)), int(rng.integers(0, h - CROP)), int(rng.integers(0, w - CROP)))
        for _ in range(n_crops)
    ]
    with tempfile.TemporaryDirectory(prefix="bench-remote-") as tmp, moto_server() as endpoint:
        local = Path(tmp) / "cube.zarr"
        enc = write_cube(local, phase_slices(n_pairs, h, w))
        url = f"s3://{BUCKET}/cube.zarr"
        with aws_environment(endpoint):
            import boto3

            boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=BUCKET)
            storage.filesystem(url).put(str(local), f"{BUCKET}/cube.zarr", recursive=True)
        variants = {  # name: (client, max_ranges, cold)
            "local disk": ("local disk", MAX_RANGES_PER_OBJECT, False),
            "s3fs": ("s3fs", MAX_RANGES_PER_OBJECT, False),
            "obstore": ("obstore", MAX_RANGES_PER_OBJECT, False),
            "s3fs, per chunk": ("s3fs", None, False),
            "obstore, per chunk": ("obstore", None, False),
            "s3fs, cold": ("s3fs", MAX_RANGES_PER_OBJECT, True),
            "obstore, cold": ("obstore", MAX_RANGES_PER_OBJECT, True),
        }
        counts: dict[str, dict] = {}
        with CountingProxy(endpoint) as proxy, aws_environment(proxy.endpoint):
            makers = stores(local, url)
            for name, (client, max_ranges, cold) in variants.items():
                if client != "local disk":
                    counts[name] = count_requests(makers[client], proxy, starts, n_pairs, max_ranges, cold)
        with aws_environment(endpoint):
            makers = stores(local, url)
            croppers = {name: Cropper(makers[c](), m, cold) for name, (c, m, cold) in variants.items()}
            for cropper in croppers.values():
                cropper.warm(n_pairs)
            chunks, nbytes = needed_bytes(croppers["local disk"], starts)
            counts["local disk"] = {
                "requests_per_crop": round(chunks, 2),
                "max_requests_per_crop": None,
                "mb_per_crop": round(nbytes / 1e6, 3),
            }
            rates = crop_rates(croppers, starts, rounds, seed=2)

    def row(figure: str, v: str) -> dict[str, object]:
        c, r = counts[v], rates[v]["best"]
        value = f"{c['requests_per_crop']:g} / {c['mb_per_crop']:.2f} MB / {r:g}"
        return {"figure": figure, "value": value, "goal": None, "met": None}

    remote_best = max(("s3fs", "obstore"), key=lambda v: rates[v]["best"])
    most = max(counts[v]["max_requests_per_crop"] for v in ("s3fs", "obstore"))
    what = "requests / MB fetched / crops/s"
    table = [
        row(f"{CROP} px channel crop, local disk: {what} (preads)", "local disk"),
        row(f"{CROP} px channel crop, S3 via s3fs: {what}", "s3fs"),
        row(f"{CROP} px channel crop, S3 via obstore: {what}", "obstore"),
        row(f"same, obstore, one request per inner chunk (no coalescing): {what}", "obstore, per chunk"),
        row(f"same, obstore, shard index not cached (+1 request, 2 round trips): {what}", "obstore, cold"),
        {
            "figure": "S3 channel crop, most requests (shard index cached, ranges coalesced)",
            "value": str(most),
            "goal": f"<= {MAX_RANGES_PER_OBJECT}",
            "met": most <= MAX_RANGES_PER_OBJECT,
        },
        {
            "figure": "S3 crops/s, obstore / s3fs (the default S3 client is the faster)",
            "value": f"{rates['obstore']['best'] / rates['s3fs']['best']:.2f}x",
            "goal": f"default = {remote_best}",
            "met": storage.DEFAULT_S3_CLIENT == remote_best,
        },
    ]
    return {
        "benchmark": "bench_remote",
        "quick": quick,
        "frame": [h, w],
        "pairs": n_pairs,
        "crops": n_crops,
        "crop": CROP,
        "layout": {k: str(v) for k, v in enc.items()},
        "needed_inner_chunks_per_crop": round(chunks, 2),
        "variants": {v: {**counts[v], "crops_per_s": rates[v]} for v in variants},
        "default_s3_client": storage.DEFAULT_S3_CLIENT,
        "faster_s3_client": remote_best,
        "server": "moto on 127.0.0.1: no network latency, so fewer requests pay off more on real S3",
        "note": "shared, loaded machine: crops/s provisional",
        "table": table,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 pairs, 16 crops, 3 rounds")
    args = parser.parse_args()
    result = run(args.quick)
    for row in result["table"]:
        print(f"{row['figure']:<90} {row['value']:>28}  {row['goal'] or ''}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
