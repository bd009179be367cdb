"""A site's versions and which one readers see: a build writes a whole new version, then switches to it.

Layout of SITE (any fsspec URL):
- `v/<version>/`: one whole site (site.py's layout, every link relative, so it can be served as is),
  named as the catalog names its versions (`catalog.publish.new_version`: UTC time stamp and a random
  suffix, so names sort by build time; `layout.CATALOG_VERSION` checks one read back);
- `current.json` (`{"version", "built_at"}`): which version is current, the one record a build reads (to
  find the previous version and its image ledger) and the switch: written atomically, after the whole
  version is;
- `index.html`: the entry page, a redirect to `v/<version>/index.html` written from the same version right
  after `current.json`. Until then it still names the previous version, which stays whole: after a
  switch, only versions older than both the new and the previous one are removed, so a reader who
  resolved the entry page just before a switch can go on browsing.

Why versions rather than replacing files in place: a build that fails half way would otherwise leave new
pages linking pages not yet written. A failed build's folder never becomes current; it is removed on
failure when possible, else by a later build's pruning.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from html import escape

from hephaestus.catalog.publish import new_version as new_version  # one way to name versions
from hephaestus.platform import storage
from hephaestus.platform.errors import HephaestusError
from hephaestus.platform.layout import CATALOG_VERSION

log = logging.getLogger(__name__)

VERSIONS = "v"
"""The folder of a site's versions (relative to SITE)."""
POINTER = "current.json"
"""The current version's record (relative to SITE)."""
ENTRY = "index.html"
"""The entry page (relative to SITE, and the board's name inside a version)."""


def version_root(site: str, version: str) -> str:
    """The URL of a version's folder (`version` checked: it becomes a path)."""
    if not CATALOG_VERSION.match(version):
        raise ValueError(f"not a site version name: {version!r}")
    return storage.join(site, VERSIONS, version)


def current_version(site: str) -> str | None:
    """The version `current.json` names, when it is well formed and its folder exists; else None (no site
    yet, or one written before versions: the next build starts afresh)."""
    url = storage.join(site, POINTER)
    try:
        doc = json.loads(storage.read_bytes(url))
    except FileNotFoundError:
        return None
    except ValueError as exc:
        log.warning("%s: unreadable (%s); building as if no version were current", storage.redact(url), exc)
        return None
    version = doc.get("version") if isinstance(doc, dict) else None
    if not isinstance(version, str) or not CATALOG_VERSION.match(version):
        log.warning("%s: names no site version; building as if none were current", storage.redact(url))
        return None
    if not storage.exists(version_root(site, version)):
        log.warning(
            "%s: version %s is missing; building as if none were current", storage.redact(url), version
        )
        return None
    return version


def entry_page(version: str) -> str:
    """The entry page: a redirect to the version's board (meta refresh, `location.replace` so that the
    back button skips it, and a plain link), nothing else."""
    target = escape(f"{VERSIONS}/{version}/{ENTRY}", quote=True)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="refresh" content="0; url={target}">
<title>Hephaestus monitoring</title>
<link rel="icon" href="data:,">
<script>location.replace("{target}");</script>
</head>
<body><a href="{target}">Status board</a></body>
</html>
"""


def switch(site: str, version: str) -> None:
    """Make a written version current: `current.json` (the switch, one atomic write), then the entry page."""
    built_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    pointer = json.dumps({"version": version, "built_at": built_at}, indent=1)
    storage.write_text_atomic(storage.join(site, POINTER), pointer)
    storage.write_text_atomic(storage.join(site, ENTRY), entry_page(version))


def versions(site: str) -> list[str]:
    """The version folders under SITE/v, oldest first (other names ignored)."""
    loc = storage.location(storage.join(site, VERSIONS))
    try:
        found = loc.fs.ls(loc.path, detail=False)
    except FileNotFoundError:
        return []
    return sorted(n for n in (p.rstrip("/").rsplit("/", 1)[-1] for p in found) if CATALOG_VERSION.match(n))


def prune(site: str, keep: set[str]) -> list[str]:
    """Remove the versions older than every one in `keep` (the new and the previous version), except the
    one `current.json` names right before each removal: a failed build's leftovers go, and so does a
    version nobody can still be reading, while a build that started later (a newer name) is left alone.
    Returns the removed names."""
    if not keep:
        return []
    oldest_kept = min(keep)
    removed = []
    for name in versions(site):
        if name in keep or name >= oldest_kept or name == current_version(site):
            continue
        storage.remove(version_root(site, name))
        removed.append(name)
    return removed


def abandon(site: str, version: str) -> None:
    """After a failed build: remove its version unless it became current (best effort; pruning removes it
    later otherwise). Never raises, so that the build's own error is what the caller sees."""
    try:
        if current_version(site) != version:
            storage.remove(version_root(site, version))
    except (HephaestusError, OSError, ValueError) as exc:
        log.warning("%s: could not remove a failed build's folder (%s)", storage.redact(site), exc)
