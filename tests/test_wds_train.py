"""Training from WebDataset shards: groups streamed back whole and equal to the folder's,
ranks on disjoint shards with equal step counts, a streamed batch equal to the in-memory
bank, and ``train(wds=True)`` end to end on a tiny CLIP."""

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("peft")
pytest.importorskip("spacy")
pytest.importorskip("webdataset")

from colorist.dataset.bank import GroupBank  # noqa: E402
from colorist.dataset.schema import DatasetError, load_groups  # noqa: E402
from colorist.io import read_image  # noqa: E402
from colorist.models import build_tiny_clip, load_scorer  # noqa: E402
from colorist.train import TrainConfig, train  # noqa: E402
from colorist.train.wds_data import WdsGroups, streamed_bank  # noqa: E402


@pytest.fixture(scope="module")
def shapes_wds(tmp_path_factory):
    """48 synthetic shapes (38 train groups) built with --format wds, 8 objects a shard."""
    from colorist.dataset.__main__ import main as dataset_main
    from colorist.dataset.synthetic import write_shapes

    root = tmp_path_factory.mktemp("shapes")
    src = write_shapes(root / "src", n=48, seed=1)
    assert dataset_main(["build", "--standard", str(src), "--images", str(root / "src/images"),
                         "--out", str(root / "ds"), "--backend", "cpu", "--quiet",
                         "--format", "wds", "--shard-size", "8"]) == 0
    return root / "ds"


def test_streamed_groups_are_the_folders_groups(shapes_wds):
    stream = WdsGroups(shapes_wds, "train")
    folder = {g.id: g for g in load_groups(shapes_wds, "train")}
    assert sum(stream.groups.values()) == len(folder) == 38
    assert stream.steps(4) == 9
    seen = [g for batch in stream.batches(4, epoch=0) for g in batch]
    assert len(seen) == 36 and len({g.id for g, _ in seen}) == 36  # no group twice
    for g, images in seen[:5]:
        ref = folder[g.id]
        assert (g.colors, g.captions, g.color, g.category) == (ref.colors, ref.captions,
                                                              ref.color, ref.category)
        assert all(np.array_equal(im, read_image(p)) for im, p in zip(images, ref.paths))
    again = [g.id for batch in stream.batches(4, epoch=0) for g, _ in batch]
    other = [g.id for batch in stream.batches(4, epoch=1) for g, _ in batch]
    assert again == [g.id for g, _ in seen] and other != again  # seeded by epoch


def test_ranks_read_disjoint_shards_and_take_the_same_steps(shapes_wds):
    stream = WdsGroups(shapes_wds, "train")
    ids = [{g.id for batch in stream.batches(2, 0, rank=r, world=2) for g, _ in batch}
           for r in (0, 1)]
    assert not ids[0] & ids[1]
    steps = stream.steps(2, world=2)
    assert [len(i) for i in ids] == [2 * steps, 2 * steps]
    with pytest.raises(DatasetError, match="shard"):
        stream.steps(1, world=len(stream.urls) + 1)


def test_a_streamed_batch_equals_the_bank_of_the_same_groups(shapes_wds, tmp_path):
    build_tiny_clip(tmp_path / "clip", words=["triangle"])
    scorer = load_scorer(tmp_path / "clip", device="cpu")
    batch = next(WdsGroups(shapes_wds, "train").batches(3, epoch=0))
    folder = {g.id: g for g in load_groups(shapes_wds, "train")}
    streamed = streamed_bank(scorer, batch)
    ref = GroupBank.build(scorer, [folder[g.id] for g, _ in batch])
    assert torch.equal(streamed.pixels, ref.pixels)
    assert torch.equal(streamed.input_ids, ref.input_ids)
    assert streamed.rows == ref.rows and torch.equal(streamed.original, ref.original)


def test_train_streams_from_shards(shapes_wds, tmp_path):
    build_tiny_clip(tmp_path / "clip", words=["triangle"])
    result = train(TrainConfig(model=str(tmp_path / "clip"), data=str(shapes_wds), wds=True,
                               out=str(tmp_path / "run"), epochs=1, groups_per_batch=8,
                               progress=False, device="cpu", compile="off"))
    (row,) = result.log
    assert row["steps"] == 38 // 8 and np.isfinite(row["loss"])
    assert "val_accuracy" in row  # validation still reads the folder layout
    assert json.loads((tmp_path / "run" / "train_config.json").read_text())["wds"] is True
