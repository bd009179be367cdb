"""The one annotation model: the real tarball, field rules, hostile files, and the same verdict in every stage."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hephaestus.platform.annotation import AnnotationError, RawAnnotation, iter_raw, parse_file
from hephaestus.platform.errors import HephaestusError, InputError

GOOD = {
    "uniqueID": 5,
    "frameID": "124D_04854_171313",
    "primary_date": "20200101",
    "secondary_date": "20200113",
    "corrupted": 0,
    "processing_error": 0,
    "glacier_fringes": 0,
    "orbital_fringes": 0,
    "atmospheric_fringes": 1,
    "low_coherence": 0,
    "no_info": 0,
    "image_artifacts": 0,
    "label": ["Earthquake"],
    "activity_type": ["Earthquake"],
    "intensity_level": ["None"],
    "phase": "None",
    "confidence": 0.6,
    "segmentation_mask": [[1, 1, 10, 1, 10, 8]],
    "is_crowd": 0,
    "caption": "quake",
}


def _raw(d: object) -> RawAnnotation:
    return RawAnnotation("x.json", "mem://x.json", json.dumps(d).encode())


def test_real_annotation_tarball_parses_by_member_name(shared_dir: Path) -> None:
    tar = shared_dir / "data" / "hephaestus" / "annotations.tar.gz"
    parsed = [a for raw in iter_raw(str(tar)) for a in parse_file(raw)]
    assert len(parsed) == 19919  # the published count
    assert len({a.unique_id for a in parsed}) == 19919
    positives = [a for a in parsed if "Non_Deformation" not in a.labels]
    assert len(positives) == 1764 + 40 + 15  # label counts read off the tarball by hand
    assert all(a.polygons for a in positives)


def test_good_annotation_codes() -> None:
    (a,) = parse_file(_raw(GOOD))
    (p,) = a.polygons
    assert (p.deformation, p.activity, p.intensity) == (2, 5, -1)
    assert a.fields["unique_id"] == "5" and a.fields["phase"] == "None"
    assert a.record == GOOD


def test_list_and_mapping_files_hold_several_records() -> None:
    other = dict(GOOD, uniqueID=6)
    assert [a.unique_id for a in parse_file(_raw([GOOD, other]))] == [5, 6]
    assert [a.unique_id for a in parse_file(_raw({"5": GOOD, "6": other}))] == [5, 6]


def test_error_is_an_input_error() -> None:
    assert issubclass(AnnotationError, InputError) and issubclass(AnnotationError, HephaestusError)


@pytest.mark.parametrize(
    "change, text",
    [
        ({"primary_date": "2020-01-01"}, "YYYYMMDD"),
        ({"secondary_date": "20191231"}, "not after"),
        ({"label": ["Non_Deformation"]}, "polygon(s) drawn"),
        ({"label": ["Deformation", "Non_Deformation"]}, "mixes"),
        ({"segmentation_mask": []}, "without any polygon"),
        ({"activity_type": ["Volcano"]}, "unknown activity_type"),
        ({"confidence": 1.5}, "confidence"),
        ({"processing_error": 1}, "processing_error=1"),
        ({"segmentation_mask": [[1, 2, 3]]}, "at least 3"),
        ({"segmentation_mask": [[1, 1, 10, 1, 10**400, 8]]}, "at least 3 finite"),
        ({"uniqueID": "5"}, "uniqueID must be an int"),
        ({"frameID": "../../etc"}, "not a safe path component"),
        ({"caption": [[[[[["deep"]]]]]]}, "caption must be a string"),
    ],
)
def test_bad_annotations_name_the_file_and_the_problem(change: dict, text: str) -> None:
    with pytest.raises(AnnotationError) as info:
        parse_file(_raw({**GOOD, **change}))
    message = str(info.value)
    assert message.startswith("mem://x.json: ") and text in message
    assert "\n" not in message and len(message) < 400


def test_missing_field_lists_the_schema_fields() -> None:
    record = {k: v for k, v in GOOD.items() if k not in ("is_crowd", "caption")}
    with pytest.raises(AnnotationError, match="missing field" r"\(s\): is_crowd, caption$"):
        parse_file(_raw(record))


@pytest.mark.parametrize(
    "data, text",
    [
        (b"[" * 100_000 + b"]" * 100_000, "nested too deep"),  # RecursionError inside the decoder
        (json.dumps(GOOD).replace('"uniqueID": 5', '"uniqueID": ' + "7" * 5000).encode(), "digits"),
        (b'{"uniqueID": 9, "frameID": ', "not valid JSON"),
        (b"\xff\xfe\x00", "not valid JSON"),
        (b"", "empty or oversized"),
    ],
)
def test_hostile_files_raise_only_annotation_error(data: bytes, text: str) -> None:
    with pytest.raises(AnnotationError) as info:
        parse_file(RawAnnotation("h.json", "mem://h.json", data))
    assert str(info.value).startswith("mem://h.json: ") and text in str(info.value)
    assert "\n" not in str(info.value)


# ------------------------------------------------------------------------------------------------
# The same file, the same verdict and the same message in ingest, `hmc catalog from-annotations`
# and the demo
# ------------------------------------------------------------------------------------------------
BAD_FILES = {
    "code": json.dumps(dict(GOOD, atmospheric_fringes=9)),
    "confidence": json.dumps(dict(GOOD, confidence=-0.5)),
    "polygon": json.dumps(dict(GOOD, segmentation_mask=[[1, 1, 2, 2]])),
    "deep": "[" * 50_000 + "]" * 50_000,
    "digits": json.dumps(GOOD).replace('"uniqueID": 5', '"uniqueID": ' + "7" * 5000),
    "unsafe": json.dumps(dict(GOOD, frameID="../x")),
    "truncated": '{"uniqueID": 9, "frameID": ',
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_same_verdict_and_message_in_every_stage(case: str, tmp_path: Path) -> None:
    from hephaestus.cli.app import app
    from hephaestus.cli.demo import first_positive
    from hephaestus.ingest.plan import Plan, plan_annotations

    folder = tmp_path / "annotations"
    folder.mkdir()
    (folder / "5.json").write_text(BAD_FILES[case])

    plan = Plan()  # ingest: the file is quarantined, with the message as its reason
    assert plan_annotations(str(folder), plan) == []
    (record,) = plan.quarantine
    ingest_message = record.reason

    with pytest.raises(AnnotationError) as info:  # the demo: refused with the same error
        first_positive(folder)
    demo_message = str(info.value)

    res = CliRunner().invoke(app, ["catalog", "from-annotations", str(folder), "--out", str(tmp_path / "s")])
    assert res.exit_code != 0 and not (tmp_path / "s" / "catalog").exists()
    assert isinstance(res.exception, SystemExit)

    assert ingest_message == demo_message
    assert ingest_message.startswith(f"{folder / '5.json'}: ")
    assert f"error: {ingest_message}" in res.output.replace("\n", "") or ingest_message in res.output


def test_a_record_whose_unique_id_differs_from_its_file_name_is_refused_naming_the_file() -> None:
    """The published files are `<uniqueID>.json`: a renumbered or flipped uniqueID must not relabel a pair."""
    renumbered = RawAnnotation("12.json", "mem://ann/12.json", json.dumps({**GOOD, "uniqueID": 0}).encode())
    with pytest.raises(AnnotationError, match=r"mem://ann/12\.json: uniqueID 0 does not match the file name"):
        parse_file(renumbered)
    same = RawAnnotation("12.json", "mem://ann/12.json", json.dumps({**GOOD, "uniqueID": 12}).encode())
    assert [a.unique_id for a in parse_file(same)] == [12]
    other_name = RawAnnotation(
        "pair.json", "mem://ann/pair.json", json.dumps({**GOOD, "uniqueID": 0}).encode()
    )
    assert [a.unique_id for a in parse_file(other_name)] == [0]
