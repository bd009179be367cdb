"""The batched augmentation (`batch_augment`, applied by the training step on its device) gives what the
per-sample path (`augment.apply`, in the loader workers) gives for the same drawn parameters: images
allclose, masks equal, transform by transform and for the authors' draws; and the dataset hands the
parameters over unchanged when `augment_on` is "device"."""

from __future__ import annotations

import pytest
import torch
from augment_cases import ONE_STEP, K
from loader_rows import STATS

from hephaestus.train.data import AugmentConfig, LoaderConfig, MinicubeDataset
from hephaestus.train.data.augment import AUGMENT_KEY, AugmentParams, apply, augment_rng, draw
from hephaestus.train.data.batch_augment import augment_batch, augment_on_device

pytestmark = pytest.mark.filterwarnings("ignore::zarr.errors.UnstableSpecificationWarning")

ONE_EACH = {
    **ONE_STEP,
    "rotate -81.5": AugmentParams(None, None, False, False, -81.5),
    "everything": AugmentParams((5, 1.1), (3, 2, 50, 44), True, True, 12.25),
}


def batch(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    image = torch.randn(n, 4, K, K, generator=g)
    mask = (torch.rand(n, K, K, generator=g) > 0.6).long()
    mask[:, 10:30, 20:50] = 1  # a blob, so geometry shows in the mask
    return image, mask


def assert_same_as_per_sample(image, mask, params) -> None:  # type: ignore[no-untyped-def]
    expected = [apply(image[i], mask[i], p) for i, p in enumerate(params)]
    out_image, out_mask = augment_batch(image.clone(), mask.clone(), params)
    assert out_mask.dtype == mask.dtype
    for i, p in enumerate(params):
        assert torch.allclose(out_image[i], expected[i][0], atol=1e-5, rtol=1e-5), p
        assert torch.equal(out_mask[i], expected[i][1]), p


@pytest.mark.parametrize("name", list(ONE_EACH))
def test_each_transform_alone_and_mixed_with_untouched_samples(name):
    params = [ONE_EACH[name], ONE_EACH["nothing"], ONE_EACH[name]]
    image, mask = batch(len(params))
    assert_same_as_per_sample(image, mask, params)


def test_a_batch_of_the_authors_draws():
    params = [draw(AugmentConfig(), K, augment_rng(7, 2, i)) for i in range(24)]
    assert any(p.angle for p in params) and any(p.crop for p in params) and any(p.blur for p in params)
    image, mask = batch(len(params), seed=1)
    assert_same_as_per_sample(image, mask, params)


def test_parameters_survive_their_encoding():
    params = [*ONE_EACH.values(), *(draw(AugmentConfig(), 512, augment_rng(1, 0, i)) for i in range(50))]
    rows = torch.stack([p.encode() for p in params])
    assert AugmentParams.decode(rows) == params


def test_the_dataset_hands_its_draws_to_the_training_step(cubes, rows):
    base = dict(store_url="u", crop_size=32, max_offset=8, augment=True, seed=11, undersample=False)
    on_device = MinicubeDataset(rows["platform"], None, STATS, LoaderConfig(**base, augment_on="device"))
    in_loader = MinicubeDataset(rows["platform"], None, STATS, LoaderConfig(**base, augment_on="loader"))
    for ds in (on_device, in_loader):
        ds.set_epoch(3)
    items = [on_device[i] for i in range(min(len(on_device), 6))]
    assert AUGMENT_KEY not in in_loader[0]
    collated = {
        "image": torch.stack([x["image"] for x in items]),
        "mask": torch.stack([x["mask"] for x in items]),
        AUGMENT_KEY: torch.stack([x[AUGMENT_KEY] for x in items]),
        "label": torch.stack([x["label"] for x in items]),
    }
    out = augment_on_device(collated, torch.device("cpu"))
    assert AUGMENT_KEY not in out and torch.equal(out["label"], collated["label"])
    for i in range(len(items)):
        expected = in_loader[i]
        assert torch.allclose(out["image"][i], expected["image"], atol=1e-5)
        assert torch.equal(out["mask"][i], expected["mask"])


def test_a_batch_without_parameters_is_left_as_it_is():
    image, mask = batch(2)
    plain = {"image": image, "mask": mask}
    assert augment_on_device(plain, torch.device("cpu")) is plain
