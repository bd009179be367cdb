"""Per-run training history: one JSON line per epoch (and one for the test), under RESULTS/history/.

Workers append to it as they go, so the driver can show a live table of runs and draw each run's
training curves without reaching into Ray's internals or its logs. A resumed run appends again;
readers keep the last line of each epoch.
"""

from __future__ import annotations

import json
from typing import Any

from hephaestus.platform import storage
from hephaestus.platform.layout import ResultsLayout


def history_url(results_url: str, run_id: str) -> str:
    """Where a run's history lives (the run id checked as one path component)."""
    return ResultsLayout(results_url).history(run_id)


def append(url: str, record: dict[str, Any]) -> None:
    """Add one record (a local file is appended to; an object store's copy is rewritten whole)."""
    line = json.dumps(record, sort_keys=True, default=float) + "\n"
    loc = storage.location(url)
    if storage.is_local(loc.url):
        loc.fs.makedirs(loc.path.rsplit("/", 1)[0], exist_ok=True)
        with open(loc.path, "a", encoding="utf-8") as fh:
            fh.write(line)
        return
    old = storage.read_bytes(url).decode() if storage.exists(url) else ""
    storage.write_bytes(url, (old + line).encode())


def read(url: str) -> list[dict[str, Any]]:
    """The run's records in epoch order, the last one of each epoch (and the final test record) kept."""
    try:
        text = storage.read_bytes(url).decode()
    except (FileNotFoundError, OSError):
        return []
    by_key: dict[Any, dict[str, Any]] = {}
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:  # a line being written
            continue
        by_key["test" if record.get("done") else record.get("epoch")] = record
    epochs = sorted((r for k, r in by_key.items() if k != "test"), key=lambda r: r.get("epoch", -1))
    return epochs + ([by_key["test"]] if "test" in by_key else [])
