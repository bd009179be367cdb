"""A simulated feed: release a synthetic archive date by date, as LiCSAR publishes new interferograms.

`release(config, out, until)` writes the products of `generate(config)` acquired up to `until` (pairs
whose secondary date is on or before it, the ERA5 of their dates, the frames' metadata) that are not
there yet; calling it again with a later date adds the products acquired since. Every file has the
bytes `generate` would write (each pair is a pure function of the config and its uniqueID), so a
feed released in any number of steps ends as the one-shot archive.

OUT/release.json records the configuration and the date released up to: a later release must use the
same configuration (else the archive would mix two runs). Within a pair the annotation is written
last: a pair whose annotation exists is complete, and an interrupted release is finished by the next.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hephaestus.ingest.synthetic.config import SynthConfig
from hephaestus.ingest.synthetic.generator import (
    OutputNotEmptyError,
    SynthManifest,
    plan,
    render_pair,
    write_frame_era5,
    write_frame_metadata,
    write_pair,
)
from hephaestus.platform.errors import InputError

RECORD = "release.json"


class ReleaseMismatchError(InputError):
    """OUT holds a feed released with another configuration, or up to a later date."""


def check_record(out: Path, key: str, settings: dict[str, Any], until: dt.date) -> None:
    """Refuse to release into `out` unless it is new or a feed of the same `settings` (stored under `key`
    in OUT/release.json) released up to `until` or before. Generated feeds and twins share the record."""
    record = out / RECORD
    if not record.exists():
        if out.exists() and any(out.iterdir()):
            raise OutputNotEmptyError(
                f"{out}: not empty and not a released feed (no {RECORD}); choose a new folder"
            )
        return
    try:
        previous = json.loads(record.read_text())
        same = previous.get(key) == settings
        until_before = dt.date.fromisoformat(previous["until"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ReleaseMismatchError(f"{record}: unreadable release record ({exc})") from exc
    if not same:
        raise ReleaseMismatchError(
            f"{out}: released with another configuration; give the same one or a new folder"
        )
    if until < until_before:
        raise ReleaseMismatchError(
            f"{out}: already released up to {until_before}; a feed does not go back to {until}"
        )


def released_until(out: Path) -> dt.date | None:
    """The date a feed in `out` is released up to (None: no release record, or an unreadable one)."""
    try:
        return dt.date.fromisoformat(json.loads((out / RECORD).read_text())["until"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_record(out: Path, key: str, settings: dict[str, Any], until: dt.date) -> None:
    """Record what `out` was released with and up to when (atomically: a reader sees one or the other)."""
    tmp = out / f".{RECORD}.tmp"
    tmp.write_text(json.dumps({key: settings, "until": until.isoformat()}, indent=1))
    tmp.replace(out / RECORD)


def release(
    config: SynthConfig,
    out_dir: str | Path,
    until: dt.date,
    progress: Callable[[int, int], None] | None = None,
) -> SynthManifest:
    """Write the products of `config` acquired up to `until` that `out_dir` lacks; returns what this
    call wrote (`pairs` and `unique_ids`: the pairs released now)."""
    out = Path(out_dir)
    check_record(out, "config", config.model_dump(mode="json"), until)
    out.mkdir(parents=True, exist_ok=True)
    run = plan(config)
    paths: list[str] = []
    for frame in run.frames:
        if not (out / "licsar" / frame.fid / "metadata" / "metadata.txt").exists():
            paths += write_frame_metadata(frame, out)
        dates = sorted({d for p, s in frame.pairs if s <= until for d in (p, s)})
        missing = [
            d for d in dates if not (out / "era5" / f"era5_{frame.fid}_{d.strftime('%Y%m%d')}.nc").exists()
        ]
        paths += write_frame_era5(config, frame, out, missing)
    due = [
        (frame, pair)
        for frame, pair in run.pairs
        if pair.secondary <= until and not (out / "annotations" / f"{pair.uid}.json").exists()
    ]
    positives = 0
    for done, (frame, pair) in enumerate(due, start=1):
        rendered = render_pair(config, frame, pair)
        positives += rendered.record["label"] != ["Non_Deformation"]
        paths += write_pair(frame, pair, rendered, out)  # the annotation last: the pair is complete
        if progress is not None:
            progress(done, len(due))
    write_record(out, "config", config.model_dump(mode="json"), until)
    return SynthManifest.of(run.frames, [p for _, p in due], positives, paths)


def release_dates(config: SynthConfig) -> list[dt.date]:
    """The dates on which the feed gains products (the secondary dates of its pairs), in order."""
    return sorted({pair.secondary for _, pair in plan(config).pairs})
