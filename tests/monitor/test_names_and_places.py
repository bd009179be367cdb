"""Volcano names as people write them, and a frame names only a volcano inside it (issue 24, item 3).

Hand-made rows: a tiny GVP-shaped table, footprints drawn around its volcanoes, and the distances worked
out from the geometry (1 degree of arc on the mean sphere is 111.19 km).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hephaestus.catalog import stac
from hephaestus.platform import volcanoes

KM_PER_DEG = 111.19


@pytest.mark.parametrize(
    ("gvp", "written"),
    [
        ("Negra, Sierra", "Sierra Negra"),
        ("Fournaise, Piton de la", "Piton de la Fournaise"),
        ("Est, Ile de l'", "Ile de l'Est"),
        ("Sawad, Harra Es-", "Harra Es-Sawad"),
        ("Cumbres,  Las", "Las Cumbres"),
        ("Whakaari/White Island", "Whakaari/White Island"),
        ("Etna", "Etna"),
    ],
)
def test_display_name(gvp: str, written: str) -> None:
    assert volcanoes.display_name(gvp) == written


def test_both_spellings_still_match() -> None:
    v = volcanoes.GvpVolcano("Negra, Sierra", -0.83, -91.17, 1124.0, 353050)
    index = volcanoes.name_index([v])
    assert index["sierra negra"] == index["negra, sierra"] == [v]
    assert v.display == "Sierra Negra"


@pytest.fixture
def table(tmp_path: Path) -> Path:
    path = tmp_path / "gvp.csv"
    path.write_text(
        "volcano_number,volcano_name,latitude,longitude,elevation_m\n"
        '1,"Negra, Sierra",0.0,0.0,1124\n'
        "2,Far Away,0.0,10.0,500\n"
    )
    return path


def test_a_volcano_inside_the_frame_is_named_as_people_write_it(table: Path) -> None:
    frame = (-0.1, -0.1, 0.1, 0.1)
    got = volcanoes.place(0.05, 0.05, frame, table)
    assert (got.name, got.number, got.note) == ("Sierra Negra", 1, None)
    assert [v.display for v in volcanoes.in_footprint(frame, table)] == ["Sierra Negra"]


def test_a_frame_whose_nearest_volcano_is_outside_it_names_none_and_says_so(table: Path) -> None:
    frame = (0.5, -0.1, 0.7, 0.1)  # Sierra Negra is 0.5 degrees west of its west edge: 55.6 km
    got = volcanoes.place(0.0, 0.6, frame, table)
    assert got.volcano is None and got.name is None and got.number is None
    assert got.note == f"nearest listed volcano Sierra Negra is {0.5 * KM_PER_DEG:.0f} km outside the frame"
    assert volcanoes.in_footprint(frame, table) == []
    assert volcanoes.km_outside(frame, 0.0, 0.0) == pytest.approx(0.5 * KM_PER_DEG, rel=1e-3)
    assert volcanoes.km_outside(frame, 0.0, 0.6) == 0.0


def test_a_volcano_inside_but_far_from_the_detection_is_not_named(table: Path) -> None:
    frame = (-0.1, -0.1, 2.1, 0.1)  # Sierra Negra inside, the detection 2 degrees east of it
    got = volcanoes.place(0.0, 2.0, frame, table, max_km=100.0)
    assert got.volcano is None
    assert got.note == f"nearest listed volcano in the frame, Sierra Negra, is {2 * KM_PER_DEG:.0f} km away"


def test_the_footprint_is_the_pixel_edges() -> None:
    assert volcanoes.footprint([1.0, 1.002], [5.0, 5.004], spacing=0.002) == (4.999, 0.999, 5.005, 1.003)


@pytest.mark.skipif(not volcanoes.DEFAULT_GVP.exists(), reason="no GVP table beside this checkout")
def test_stac_items_carry_the_volcanoes_inside_their_frame() -> None:
    # Sierra Negra (GVP -0.83, -91.17); Cerro Azul (-0.92, -91.408) lies outside this 0.2 degree box
    assert stac.frame_volcanoes("000A_00000_000000", (-91.27, -0.93, -91.07, -0.73)) == ["Sierra Negra"]
    assert stac.frame_volcanoes("000A_00000_000000", (-150.1, -30.1, -149.9, -29.9)) == []  # open Pacific
    # a frame of the authors' list keeps it
    assert stac.frame_volcanoes("022D_04826_121209", (0, 0, 1, 1)) == [
        "Campi Flegrei", "colli_albani", "Ischia", "vesuvius"
    ]  # fmt: skip
