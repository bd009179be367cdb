"""Hard negatives: the highest-scoring window of a training pair without deformation, fed back as a window.

Expectations by hand: a model whose window score grows with the window's mean of channel 0 must pick the
window holding a bright square placed by hand, on the monitor's half-window grid; a dataset given that
window draws it for about half of its non-covering windows (400 draws) and uniform ones otherwise.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from loader_rows import STATS, make_cube, pair_rows

from hephaestus.platform.errors import InputError
from hephaestus.platform.inputs import InputSpec
from hephaestus.train.config import RunConfig
from hephaestus.train.data import LoaderConfig, MinicubeDataset
from hephaestus.train.data.mined import HARD_SHARE, read_mined, write_mined
from hephaestus.train.hard_negatives import top_window
from hephaestus.train.predict import LoadedModel

pytestmark = pytest.mark.filterwarnings("ignore::zarr.errors.UnstableSpecificationWarning")


class MeanOfPhase(torch.nn.Module):
    """Logits (0, mean of channel 0): the deformation probability rises with the window's mean."""

    def __init__(self) -> None:
        super().__init__()
        self.anchor = torch.nn.Parameter(torch.zeros(1))  # a device to run on

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = x[:, 0].mean(dim=(1, 2))
        return torch.stack([torch.zeros_like(m), m], dim=1)


def test_the_top_window_is_the_one_holding_the_bright_square() -> None:
    spec = InputSpec.from_record(
        dict(atmosphere=False, series_length=1, crop_size=32, statistics_source="train",
             statistics={k: v for k, v in STATS.items() if k in ("insar_difference", "insar_coherence", "dem")})
    )  # fmt: skip
    model = LoadedModel(MeanOfPhase(), RunConfig(model="mobilenetv3_large_100", crop_size=32), spec)
    image = np.zeros((3, 100, 90), np.float32)
    image[0, 50:66, 66:82] = 5.0  # 16 x 16, wholly inside one grid window only: (48, 58)
    r0, c0, score = top_window(model, image)
    # the grid: rows 0,16,...,64 and the last start 68; columns 0,16,...,48 and 58 (90 - 32)
    assert c0 == 58 and r0 == 48
    assert score == pytest.approx(1 / (1 + np.exp(-5.0 * 256 / 1024)))


@pytest.fixture(scope="module")
def cube_rows(tmp_path_factory):  # type: ignore[no-untyped-def]
    ds, url = make_cube(tmp_path_factory.mktemp("hard"), "platform", height=96, width=96, tile=32)
    return pair_rows(ds, url)


def test_mined_windows_are_drawn_about_half_the_time(cube_rows, tmp_path) -> None:  # type: ignore[no-untyped-def]
    table = cube_rows.to_pylist()
    negatives = [r for r in table if not r["positive"]]
    assert negatives
    mined_url = str(tmp_path / "mined.json")
    mined: dict[str, dict[str, tuple[int, int]]] = {}
    for r in negatives:
        mined.setdefault(str(r["cube_url"]), {})[str(r["unique_id"])] = (40, 8)
    write_mined(mined_url, mined)
    cfg = LoaderConfig(
        store_url="u",
        crop_size=32,
        augment=False,
        undersample=False,
        windows="frame",
        hard_negatives=mined_url,
    )
    data = MinicubeDataset(cube_rows, None, STATS, cfg)
    hits = draws = 0
    for epoch in range(400 // len(negatives) + 1):
        data.set_epoch(epoch)
        for i, row in enumerate(table):
            if row["positive"]:
                continue
            draws += 1
            hits += data.window(i)[:2] == (40, 8)
    # P(hit) = HARD_SHARE + (1 - HARD_SHARE) / 65**2 (a uniform draw on 65 x 65 starts)
    assert abs(hits / draws - HARD_SHARE) < 4 * np.sqrt(HARD_SHARE * (1 - HARD_SHARE) / draws)
    plain = MinicubeDataset(cube_rows, None, STATS, cfg.model_copy(update={"hard_negatives": None}))
    assert sum(plain.window(i)[:2] == (40, 8) for i in range(len(table))) <= 1
    assert LoaderConfig.for_split(cfg, "val").hard_negatives is None  # evaluation crops stay fixed


def test_a_malformed_file_is_one_line_naming_it(tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "mined.json"
    bad.write_text('{"cube": {"7": [1]}}')
    with pytest.raises(InputError, match=r"mined\.json: not a hard-negatives file"):
        read_mined(str(bad))
