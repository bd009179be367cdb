"""Issue 27, item 6: sites publish atomically, text from data is never markup, coordinates are finite."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from harness import assert_one_line, run_hmc

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "catalog"))
from dashboard_store import current_root, make_monitored_store  # noqa: E402

from hephaestus.monitor.dashboard import build_dashboard, pages  # noqa: E402
from hephaestus.platform.volcanoes import VolcanoTableError, read_table  # noqa: E402

TEX = r"Kilauea $\alpha$ $"  # a TeX pair and an unbalanced dollar: both crashed matplotlib's mathtext


def _rename_volcano(store: Path, old: str, new: str) -> None:
    for path in (store / "monitor").glob("*.parquet"):
        table = pq.read_table(path)
        if "volcano" in table.column_names:
            names = [new if v == old else v for v in table["volcano"].to_pylist()]
            i = table.column_names.index("volcano")
            table = table.set_column(
                i, table.schema.field(i), pa.array(names, type=table.schema.field(i).type)
            )
            pq.write_table(table, path)


def _linked(site: Path, page: Path) -> list[Path]:
    hrefs = re.findall(r'href="([^"#?]+)"', page.read_text())
    return [
        (page.parent / h).resolve()
        for h in hrefs
        if not h.startswith(("http:", "https:", "mailto:", "data:"))
    ]


def test_volcano_name_with_tex_builds(tmp_path: Path) -> None:
    made = make_monitored_store(tmp_path / "made")
    _rename_volcano(made.store, "Kilauea", TEX)
    site = tmp_path / "site"
    out = run_hmc(["dashboard", str(made.store), "--out", str(site)], timeout=300)
    assert out.rc == 0, out.stderr[-2000:]
    board = current_root(site) / "index.html"
    index = board.read_text()
    assert "alpha" in index  # the name is listed as text
    assert all(p.exists() for p in _linked(site, site / "index.html"))
    assert all(p.exists() for p in _linked(site, board))


def test_crash_mid_build_leaves_the_previous_site_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = make_monitored_store(tmp_path / "made")
    site = tmp_path / "site"
    build_dashboard(made.store, site)
    before = {p: p.read_bytes() for p in site.rglob("*") if p.is_file()}
    index_before = (site / "index.html").read_bytes()

    def broken(*_a: object, **_k: object) -> str:
        raise OSError("injected: a page writer failed")

    monkeypatch.setattr(pages, "stac_index_page", broken)  # late in the build: after volcano and alert pages
    with pytest.raises(OSError, match="injected"):
        build_dashboard(made.store, site)
    assert (site / "index.html").read_bytes() == index_before
    for page in _linked(site, site / "index.html") + _linked(site, current_root(site) / "index.html"):
        assert page.exists(), page
    for path in before:
        assert path.exists() and path.stat().st_size > 0, path
    assert not [p for p in site.rglob("*.tmp")], "a temporary file outlived its writer"


@pytest.mark.parametrize("bad", ["nan", "inf", "-inf"])
def test_non_finite_volcano_coordinates_are_refused(tmp_path: Path, bad: str) -> None:
    table = tmp_path / "gvp.csv"
    table.write_text(
        "volcano_number,volcano_name,latitude,longitude,elevation_m\n"
        "1,Good,19.4,-155.3,1222\n"
        f"2,Bad,{bad},14.9,3300\n"
    )
    with pytest.raises(VolcanoTableError) as err:
        read_table(table)
    assert str(table) in str(err.value) and "line 3" in str(err.value)


def test_dashboard_with_a_nan_volcano_list_is_one_line(tmp_path: Path) -> None:
    made = make_monitored_store(tmp_path / "made")
    table = tmp_path / "gvp.csv"
    table.write_text("volcano_number,volcano_name,latitude,longitude,elevation_m\n1,Bad,nan,14.9,3300\n")
    out = run_hmc(["dashboard", str(made.store), "--out", str(tmp_path / "site"), "--volcanoes", str(table)])
    assert_one_line(out, 2, str(table), "line 2")
