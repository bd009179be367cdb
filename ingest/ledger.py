"""The task ledger of a published local cube: which task consumed which input versions, with what outcome.

Changed inputs invalidate exactly the tasks they feed: a rebuild whose plan has the same structure (grid,
axes, task layout) as the published cube stages a copy of it and marks done every task whose inputs did not
change (`reuse_published`); only the others run. The ledger is written after publishing (`write_ledger`).
"""

from __future__ import annotations

import json

from hephaestus.platform import storage
from hephaestus.platform.layout import Staging, StoreLayout

from . import publish
from .plan import FrameBuild
from .tasks import DEM_TASK


def reuse_published(build: FrameBuild, layout: StoreLayout, staging: str) -> bool:
    """Stage a copy of the published cube with its unchanged tasks marked done (with their recorded
    outcomes). False: no ledger, another structure or a changed cube: build from scratch."""
    dest = layout.cube(build.frame_id)
    ledger_url = layout.ledger(build.frame_id)
    if not build.structure or not storage.is_local(dest) or not storage.exists(ledger_url):
        return False
    try:
        ledger = json.loads(storage.read_bytes(ledger_url))
    except (OSError, ValueError):
        return False
    if ledger.get("structure") != build.structure or ledger.get(
        "fingerprint"
    ) != publish.published_fingerprint(dest):
        return False
    publish.stage_copy(dest, staging, build.fingerprint)
    for task_id, entry in ledger.get("tasks", {}).items():
        same = task_id == DEM_TASK or entry.get("fingerprint") == build.task_fingerprints.get(task_id)
        if same and task_id in build.task_fingerprints | {DEM_TASK: ""}:
            storage.write_text_atomic(Staging(staging).done_marker(task_id), json.dumps(entry["result"]))
    publish.write_plan(
        staging, build.fingerprint, {"frame_id": build.frame_id, "tasks": len(build.blocks) + 1}
    )
    return True


def write_ledger(build: FrameBuild, store_url: str, results: dict[str, dict]) -> None:
    """After publishing: each task's input fingerprint and its result (`results`: task id -> result)."""
    if not build.structure:
        return
    tasks = {
        task_id: {
            "fingerprint": build.task_fingerprints.get(task_id, ""),
            "result": {k: v for k, v in result.items() if k not in ("skipped", "steps")},
        }
        for task_id, result in results.items()
    }
    body = {"fingerprint": build.fingerprint, "structure": build.structure, "tasks": tasks}
    storage.write_text_atomic(StoreLayout(store_url).ledger(build.frame_id), json.dumps(body))


def drop_ledger(build: FrameBuild, store_url: str) -> None:
    """After an append: the ledger's task layout no longer matches the grown cube (a changed input then
    rebuilds it)."""
    storage.remove(StoreLayout(store_url).ledger(build.frame_id))
