"""The benchmarks print their results and write bench/results/ only with --save."""

import json

import pytest

pytest.importorskip("torch")


def _fake_run(monkeypatch):
    import bench.run as run

    monkeypatch.setattr(run, "run_cpu", lambda quick: [])
    monkeypatch.setattr(run.torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(run, "bulk_images_per_second", lambda *a, **k: {
        "images_in": 1, "k": 7, "backend": "cpu", "check": True, "output_images_per_s": 1.0})
    return run


def test_run_writes_only_with_save(tmp_path, monkeypatch, capsys):
    run = _fake_run(monkeypatch)
    run.main(["--out", str(tmp_path / "res")])
    assert not (tmp_path / "res").exists() and "not saved" in capsys.readouterr().out
    run.main(["--out", str(tmp_path / "res"), "--save"])
    assert len(list((tmp_path / "res").glob("*.json"))) == 1


def test_masks_writes_only_with_save(tmp_path, capsys):
    import bench.masks as masks

    rows = [{"model": "refine", "size": "640x480", "row": "x", "threads": 1, "ms": 1.0}]
    masks.write(rows, "dev", res=tmp_path)
    assert not list(tmp_path.iterdir()) and "| refine |" in capsys.readouterr().out
    masks.write(rows, "dev", save=True, res=tmp_path)
    assert json.loads((tmp_path / "masks-dev.json").read_text())["rows"] == rows


def test_train_writes_only_with_save(tmp_path, monkeypatch):
    import bench.train as bt

    monkeypatch.setattr(bt, "measure", lambda *a: {"steps_per_s": 2.0, "epoch_s": 1.0,
                                                   "epochs50_s": 50.0})
    assert bt.main(["--size", "tiny", "--out", str(tmp_path / "res")]) == 0
    assert not (tmp_path / "res").exists()
    assert bt.main(["--size", "tiny", "--out", str(tmp_path / "res"), "--save"]) == 0
    assert len(list((tmp_path / "res").glob("train-*.md"))) == 1


def test_mining_runs_on_the_shipped_captions_and_writes_only_with_save(tmp_path):
    pytest.importorskip("spacy")
    import bench.mining as mining

    shipped = mining.COCO_DIRS[-1] / "annotations"
    assert (shipped / "captions_train2017.json").is_file()  # no ../shared needed
    args = ["--captions", str(shipped / "captions_train2017.json"), "--instances",
            str(shipped / "instances_train2017.json"), "--n", "40", "--n-process", "1",
            "--out", str(tmp_path / "res")]
    assert mining.main(args) == 0 and not (tmp_path / "res").exists()
    assert mining.main([*args, "--save"]) == 0
    assert len(list((tmp_path / "res").glob("mining-*.json"))) == 1
