"""Which figures of the previous build can stay: a rebuild draws only the images whose inputs changed.

A monitor rebuilds its site after every cycle; drawing every timeline and every alert's interferogram
again (each one a read of a pair's slices from its cube) would make the cost of a cycle grow with the
whole history instead of with what is new. Each image is written with a digest of everything it is drawn
from; the digests live in `data/images.json` in each version of the site (versions.py), written after the
images. A build reads the previous version's ledger: an image drawn from the same inputs is kept (the
new version gets that file by link or copy, site.py), every other one is drawn; a failed build's version
never becomes current, so its ledger is never read.
"""

from __future__ import annotations

import hashlib
import json
import logging

from hephaestus.monitor.dashboard.pages import DATA
from hephaestus.platform import storage

log = logging.getLogger(__name__)

MANIFEST = f"{DATA}/images.json"
"""Where a site keeps its images' digests (relative to the site root)."""

DRAWING_VERSION = 2
"""Part of every digest: raise it when figures.py draws differently, so that every image is redrawn."""


def digest(*inputs: object) -> str:
    """A stable digest of an image's inputs (rows of scalars, dates, polygons as text)."""
    text = json.dumps([DRAWING_VERSION, *inputs], sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


class ImageLedger:
    """The digests (and captions) of a site's images: those the previous version holds, those this build's
    version will hold."""

    def __init__(self, site: str | None) -> None:
        """`site`: the previous version's folder, whose images may be kept (None: none, draw every image)."""
        self.site = site
        self.previous: dict[str, dict[str, str]] = {}
        self.current: dict[str, dict[str, str]] = {}
        self.reused = 0
        self.kept_paths: list[str] = []
        """The files kept by this build (relative to a version's root), in the order asked."""
        if site is None:
            self._present: set[str] = set()
            return
        try:
            doc = json.loads(storage.read_bytes(storage.join(site, *MANIFEST.split("/"))))
            images = doc.get("images") if isinstance(doc, dict) else None
            if isinstance(images, dict):
                self.previous = {
                    str(k): {"digest": str(v.get("digest")), "caption": str(v.get("caption", ""))}
                    for k, v in images.items()
                    if isinstance(v, dict)
                }
        except FileNotFoundError:
            pass
        except ValueError as exc:  # a damaged ledger only costs a full redraw
            log.warning("%s: unreadable (%s); every image is drawn again", MANIFEST, exc)
        self._present = self._listing(site) if self.previous else set()

    @staticmethod
    def _listing(site: str) -> set[str]:
        """Every file under the previous version (one listing instead of one existence check per image)."""
        loc = storage.location(site)
        try:
            found = loc.fs.find(loc.path)
        except FileNotFoundError:
            return set()
        root = loc.path.rstrip("/") + "/"
        return {p[len(root) :] for p in found if p.startswith(root)}

    def kept(self, rel: str, key: str) -> dict[str, str] | None:
        """The previous entry of `rel` ({"digest", "caption"}) when the previous version holds it, drawn
        from the same inputs: then that file is kept (listed in `kept_paths`). None: draw it (and
        `record` it)."""
        before = self.previous.get(rel)
        if before is None or before["digest"] != key or rel not in self._present:
            return None
        self.current[rel] = before
        self.reused += 1
        self.kept_paths.append(rel)
        return before

    def record(self, rel: str, key: str, caption: str = "") -> None:
        self.current[rel] = {"digest": key, "caption": caption}

    def manifest(self) -> str:
        """The ledger to write after the images."""
        return json.dumps(
            {"drawing_version": DRAWING_VERSION, "images": self.current}, indent=0, sort_keys=True
        )
