"""A dashboard build publishes a whole new version of the site and switches to it (issue 27, item 6).

Expectations are the site's own files and what the test did: a build made to fail part way (a page renderer
that raises after some pages were written) leaves the version that was current current, with every link of
its pages resolving; its own folder never becomes current and is gone; the next good build switches and
removes the version before the previous one. An unchanged rebuild draws nothing and holds the same image
files (hard links locally, server-side copies on S3).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from dashboard_store import MonitoredStore, current_root, make_monitored_store, set_cube_version

from hephaestus.monitor.dashboard import build_dashboard, pages, versions
from hephaestus.platform import storage

LINK = re.compile(r'(?:href|src)="([^"#?]+)"')


@pytest.fixture
def monitored(tmp_path: Path) -> MonitoredStore:
    """A monitored store whose cubes carry the version the alerts were scored from (so an unchanged
    rebuild can keep every image)."""
    made = make_monitored_store(tmp_path / "made")
    for cube in (made.store / "cubes").iterdir():
        set_cube_version(cube, "v1", [])
    return made


def _version_folders(site: Path) -> set[str]:
    return {p.name for p in (site / "v").iterdir()}


def _broken_links(site: Path) -> list[str]:
    """Every href/src of the entry page and of the current version's pages that names no file."""
    root = current_root(site).resolve()
    broken = []
    for page in [site / "index.html", *root.rglob("*.html")]:
        for href in LINK.findall(page.read_text()):
            if href.startswith(("data:", "http:", "https:", "mailto:")):
                continue
            target = (page.parent / href).resolve()
            if not target.is_file() or not (page == site / "index.html" or target.is_relative_to(root)):
                broken.append(f"{page.relative_to(site)} -> {href}")
    return broken


def _failing_after(calls: int, render):  # type: ignore[no-untyped-def]
    """`render`, raising from its `calls`+1-th call on: pages before it are already written."""
    seen = {"n": 0}

    def render_or_fail(*args, **kwargs):  # type: ignore[no-untyped-def]
        seen["n"] += 1
        if seen["n"] > calls:
            raise ValueError("injected: a pair page cannot be rendered")
        return render(*args, **kwargs)

    return render_or_fail


def test_a_build_that_fails_part_way_leaves_the_previous_version_whole(
    monitored: MonitoredStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    first = build_dashboard(monitored.store, site)
    second = build_dashboard(monitored.store, site)
    assert first.version < second.version and _version_folders(site) == {first.version, second.version}
    entry = (site / "index.html").read_bytes()

    with monkeypatch.context() as patch:
        patch.setattr(pages, "scored_pair_page", _failing_after(3, pages.scored_pair_page))
        with pytest.raises(ValueError, match="injected"):
            build_dashboard(monitored.store, site)
    assert json.loads((site / "current.json").read_text())["version"] == second.version
    assert (site / "index.html").read_bytes() == entry
    assert _broken_links(site) == []
    assert _version_folders(site) == {first.version, second.version}  # the failed one removed
    assert not [p for p in site.rglob("*.tmp")], "a temporary file outlived its writer"

    third = build_dashboard(monitored.store, site)
    assert current_root(site) == Path(third.root) == site / "v" / third.version
    assert _version_folders(site) == {second.version, third.version}  # the one before the previous: gone
    assert _broken_links(site) == []


def test_a_failed_build_left_behind_is_never_current_and_pruned_later(
    monitored: MonitoredStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A build killed before it could remove its folder: the folder is ignored, then pruned."""
    site = tmp_path / "site"
    first = build_dashboard(monitored.store, site)
    with monkeypatch.context() as patch:
        patch.setattr(versions, "abandon", lambda *_a: None)  # as if the process died
        patch.setattr(pages, "stac_index_page", _failing_after(0, pages.stac_index_page))
        with pytest.raises(ValueError, match="injected"):
            build_dashboard(monitored.store, site)
    (failed,) = _version_folders(site) - {first.version}
    assert (site / "v" / failed / "pairs").is_dir()  # it had written pages
    assert current_root(site) == Path(first.root) and _broken_links(site) == []
    second = build_dashboard(monitored.store, site)  # previous: the first; the failed one is newer: left
    assert second.images == 0 and _version_folders(site) == {first.version, failed, second.version}
    third = build_dashboard(monitored.store, site)
    assert _version_folders(site) == {second.version, third.version}
    assert _broken_links(site) == []


def test_an_unchanged_rebuild_keeps_the_images_by_link(monitored: MonitoredStore, tmp_path: Path) -> None:
    site = tmp_path / "site"
    first = build_dashboard(monitored.store, site)
    second = build_dashboard(monitored.store, site)
    assert first.images > 0 and first.pair_images == len(monitored.scores)
    assert (second.images, second.pair_images, second.geotiffs) == (0, 0, 0)
    assert second.kept_images == first.images and second.kept_geotiffs == first.geotiffs
    old, new = Path(first.root), Path(second.root)
    images = sorted(p.relative_to(old) for p in old.rglob("*") if p.suffix in (".png", ".tif"))
    assert len(images) >= first.images + first.pair_images + first.geotiffs
    for rel in images:
        assert (new / rel).read_bytes() == (old / rel).read_bytes(), rel
        if rel.parts[0] != "assets":  # drawn images: the same file, linked, not copied
            assert (new / rel).stat().st_ino == (old / rel).stat().st_ino, rel
    # the entry page: a redirect to the current board and nothing else
    entry = (site / "index.html").read_text()
    target = f"v/{second.version}/index.html"
    assert LINK.findall(entry) == ["data:,", target]
    assert f'http-equiv="refresh" content="0; url={target}"' in entry
    assert f'location.replace("{target}")' in entry
    assert re.sub(r"<[^>]+>", "", entry.split("<body>")[1]).strip() == "Status board"
    assert second.index == str(site / "index.html") and second.root == str(site / "v" / second.version)


def test_versions_in_a_bucket_keep_images_by_server_side_copy(
    monitored: MonitoredStore, s3_bucket: str
) -> None:
    out = f"{s3_bucket}/site"
    first = build_dashboard(monitored.store, out)
    second = build_dashboard(monitored.store, out)
    assert second.images == second.pair_images == 0 and second.kept_pair_images == first.pair_images
    loc = storage.location(first.root)
    drawn = [p[len(loc.path) + 1 :] for p in loc.fs.find(loc.path) if p.endswith((".png", ".tif"))]
    for rel in drawn:
        assert storage.read_bytes(f"{second.root}/{rel}") == storage.read_bytes(f"{first.root}/{rel}"), rel
    third = build_dashboard(monitored.store, out)
    pointer = json.loads(storage.read_bytes(f"{out}/current.json"))
    assert pointer["version"] == third.version
    assert not storage.exists(first.root) and storage.exists(second.root)
    assert f"v/{third.version}/index.html" in storage.read_bytes(third.index).decode()
