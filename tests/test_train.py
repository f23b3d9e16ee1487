"""LoRA trainer on tiny random CLIPs: towers, prefix cache, resume, DDP, outputs, learning."""

import json
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("peft")
pytest.importorskip("spacy")

from colorist.models import build_tiny_clip, load_scorer  # noqa: E402
from colorist.train import (  # noqa: E402
    ColorGroupLoss,
    DatasetError,
    GroupBank,
    TrainConfig,
    load_groups,
    train,
)
from colorist.train.lora import apply_lora, resolve_layers  # noqa: E402
from colorist.train.towers import (  # noqa: E402
    text_prefix,
    text_suffix,
    vision_prefix,
    vision_suffix,
)

WORDS = ["triangle", "plain", "background"]


def free_port() -> int:
    """A TCP port free right now (fixed ports collide when two test runs overlap)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def shapes_ds(tmp_path_factory):
    """48 synthetic shapes built into colour groups by our own builder (38 train, 10 val)."""
    from colorist.dataset.__main__ import main as dataset_main
    from colorist.dataset.synthetic import write_shapes

    root = tmp_path_factory.mktemp("shapes")
    src = write_shapes(root / "src", n=48, seed=1)
    assert dataset_main(["build", "--standard", str(src), "--images", str(root / "src/images"),
                         "--out", str(root / "ds"), "--backend", "cpu", "--quiet"]) == 0
    return root / "ds"


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("tiny") / "clip"
    build_tiny_clip(path, words=WORDS)
    return path


def cfg(model, data, out, **kw):
    base = dict(model=str(model), data=str(data), out=str(out), epochs=2, lr=3e-3,
                groups_per_batch=4, progress=False, device="cpu", compile="off")
    return TrainConfig(**{**base, **kw})


def test_split_towers_equal_the_transformers_forward():
    model, proc = build_tiny_clip(words=WORDS)
    px = torch.randn(3, 3, 32, 32)
    for k in (0, 1, 2):
        ref = model.get_image_features(pixel_values=px).pooler_output
        assert torch.equal(vision_suffix(model, vision_prefix(model, px, k), k), ref)
    tok = proc.tokenizer(["a red car", "a blue bus on the street", "x"], padding=True,
                         return_tensors="pt")
    ref = model.get_text_features(**tok).pooler_output
    for k in (0, 1, 2):
        hidden = text_prefix(model, tok["input_ids"], tok["attention_mask"], k)
        got = text_suffix(model, hidden, tok["input_ids"], tok["attention_mask"], k)
        assert torch.equal(got, ref)


def test_resolve_layers():
    assert resolve_layers(12, 1) == [11]
    assert resolve_layers(12, 3) == [9, 10, 11]
    assert resolve_layers(12, [-2]) == [10]
    with pytest.raises(ValueError, match="blocks=13"):
        resolve_layers(12, 13)
    with pytest.raises(ValueError, match="out of range"):
        resolve_layers(12, [12])


def test_prefix_cache_gives_the_same_loss_and_lora_gradients(shapes_ds, tiny_model):
    scorer = load_scorer(tiny_model, device="cpu")
    bank = GroupBank.build(scorer, load_groups(shapes_ds, "train")[:4])
    peft_model = apply_lora(scorer.model, [1], [1])
    torch.manual_seed(0)
    for name, p in peft_model.named_parameters():
        if "lora_B" in name:  # peft starts B at 0; make the adapter non-trivial
            torch.nn.init.normal_(p, std=0.2)
    loss_mod = ColorGroupLoss(peft_model, 1, 1, pairs_weight=0.5, negatives="batch")
    rows = torch.arange(len(bank.input_ids))
    ids, mask = bank.input_ids[rows], bank.attention_mask[rows]
    args = (ids, mask, bank.group_of, bank.original)

    def run(cached):
        loss_mod.zero_grad()
        with torch.no_grad():
            v = vision_prefix(loss_mod.clip, bank.pixels, 1) if cached else bank.pixels
            t = text_prefix(loss_mod.clip, ids, mask, 1) if cached else None
        loss = loss_mod(v, t, *args, cached=cached)
        loss.backward()
        grads = {n: p.grad.clone() for n, p in loss_mod.named_parameters() if p.requires_grad}
        return loss.detach(), grads

    loss_a, grads_a = run(False)
    loss_b, grads_b = run(True)
    assert len(grads_a) == 16  # A and B of q/k/v/out in one block of each tower
    torch.testing.assert_close(loss_b, loss_a, rtol=1e-6, atol=1e-7)
    for name in grads_a:
        torch.testing.assert_close(grads_b[name], grads_a[name], rtol=1e-5, atol=1e-7)
    assert any(g.abs().max() > 0 for g in grads_a.values())


def _adapter(out):
    from safetensors.torch import load_file

    return load_file(str(out / "adapter" / "adapter_model.safetensors"))


def test_train_writes_adapter_merged_log_and_plot_and_merged_round_trips(
        shapes_ds, tiny_model, tmp_path):
    from peft import PeftModel
    from transformers import CLIPModel

    result = train(cfg(tiny_model, shapes_ds, tmp_path / "run"))
    out = tmp_path / "run"
    for name in ("adapter/adapter_config.json", "merged/config.json", "merged/tokenizer.json",
                 "log.jsonl", "loss.png", "checkpoint.pt", "train_config.json"):
        assert (out / name).is_file(), name
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in log] == [1, 2] and log == result.log
    assert all(np.isfinite(r["loss"]) and 0 <= r["val_accuracy"] <= 1 for r in log)
    # merged == base + adapter, through the public from_pretrained paths
    merged = load_scorer(out / "merged", device="cpu")
    base = CLIPModel.from_pretrained(str(tiny_model))
    adapted = PeftModel.from_pretrained(base, str(out / "adapter")).eval()
    px = torch.randn(2, 3, 32, 32)
    tok = merged.tokenize(["a red square on a plain background", "a blue circle"])
    with torch.no_grad():
        a = adapted.get_image_features(pixel_values=px).pooler_output
        b = merged.image_features(px)
        torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-5)
        a = adapted.get_text_features(**tok).pooler_output
        torch.testing.assert_close(merged.text_features(**tok), a, rtol=1e-4, atol=1e-5)
    assert abs(float(merged.model.logit_scale.detach().exp()) - 1 / 0.07) < 1e-3


def test_resume_continues_to_the_same_weights(shapes_ds, tiny_model, tmp_path):
    train(cfg(tiny_model, shapes_ds, tmp_path / "straight", epochs=3))
    train(cfg(tiny_model, shapes_ds, tmp_path / "resumed", epochs=1))
    resumed = train(cfg(tiny_model, shapes_ds, tmp_path / "resumed", epochs=3))
    assert [r["epoch"] for r in resumed.log] == [1, 2, 3]
    a, b = _adapter(tmp_path / "straight"), _adapter(tmp_path / "resumed")
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(b[k], a[k], rtol=1e-5, atol=1e-6)


def test_ddp_two_cpu_processes_match_one_process(shapes_ds, tiny_model, tmp_path):
    """torchrun, 2 ranks x 2 groups (gloo) == 1 process x 4 groups: same global batches,
    gradients averaged over ranks."""
    args = ["--model", str(tiny_model), "--data", str(shapes_ds), "--epochs", "2",
            "--lr", "3e-3", "--compile", "off", "--device", "cpu", "--quiet"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    ddp = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node",
                          "2", "--master_port", str(free_port()), "-m", "colorist.train", *args,
                          "--groups-per-batch", "4", "--out", str(tmp_path / "ddp")],
                         env=env, capture_output=True, text=True, timeout=300)
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    single = train(cfg(tiny_model, shapes_ds, tmp_path / "single", groups_per_batch=4))
    config = json.loads((tmp_path / "ddp" / "train_config.json").read_text())
    assert config["world"] == 2
    # one process keeps the last partial batch, DDP drops it: 38 groups -> 10 vs 9 steps
    assert single.log[0]["steps"] == 10
    log = [json.loads(x) for x in (tmp_path / "ddp" / "log.jsonl").read_text().splitlines()]
    assert log[0]["steps"] == 9


def test_ddp_equals_single_process_on_full_batches(shapes_ds, tiny_model, tmp_path):
    """With a group count that fills every batch, DDP and one process give the same adapter."""
    data = tmp_path / "ds"
    import shutil

    shutil.copytree(shapes_ds, data)
    meta = data / "images" / "train" / "metadata.jsonl"
    keep = sorted({r["group"] for r in map(json.loads, meta.read_text().splitlines())})[:36]
    meta.write_text("".join(line + "\n" for line in meta.read_text().splitlines()
                            if json.loads(line)["group"] in keep))  # 36 groups = 9 x 4
    args = ["--model", str(tiny_model), "--data", str(data), "--epochs", "2", "--lr", "3e-3",
            "--compile", "off", "--device", "cpu", "--quiet", "--groups-per-batch", "4"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    ddp = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node",
                          "2", "--master_port", str(free_port()), "-m", "colorist.train", *args,
                          "--out", str(tmp_path / "ddp")], env=env, capture_output=True,
                         text=True, timeout=300)
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    train(cfg(tiny_model, data, tmp_path / "single", groups_per_batch=4))
    a, b = _adapter(tmp_path / "single"), _adapter(tmp_path / "ddp")
    for k in a:
        torch.testing.assert_close(b[k], a[k], rtol=1e-4, atol=1e-5)


def test_learning_raises_held_out_colour_accuracy(shapes_ds, tiny_model, tmp_path):
    """A tiny random CLIP + LoRA (default: last block, r=8) on our own shapes dataset:
    held-out (val) colour accuracy rises far above the untrained model's."""
    from colorist.eval.color import color_choice_scorer

    scorer = load_scorer(tiny_model, device="cpu")
    val = GroupBank.build(scorer, load_groups(shapes_ds, "val"))
    before = color_choice_scorer(scorer, val)["accuracy"]
    train(cfg(tiny_model, shapes_ds, tmp_path / "run", epochs=12))
    after_scorer = load_scorer(tmp_path / "run" / "merged", device="cpu")
    after = color_choice_scorer(after_scorer, GroupBank.build(after_scorer,
                                                              load_groups(shapes_ds, "val")))
    after = after["accuracy"]
    print(f"held-out colour accuracy: untrained {before:.2f} -> trained {after:.2f}")
    assert before <= 0.4 and after >= 0.8, (before, after)


def test_bad_inputs_give_clear_errors(shapes_ds, tiny_model, tmp_path):
    with pytest.raises(DatasetError, match="no such split folder"):
        train(cfg(tiny_model, tmp_path / "nowhere", tmp_path / "o"))
    import shutil

    data = tmp_path / "ds"
    shutil.copytree(shapes_ds, data)
    first = sorted((data / "images" / "train").glob("*.json"))[0]
    desc = json.loads(first.read_text())
    desc["variants"] = desc["variants"][:1]
    first.write_text(json.dumps(desc))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        groups = load_groups(data, "train")
    assert len(groups) == 37 and any("1 variant(s)" in str(w.message) for w in caught)
    victim = sorted((data / "images" / "train").glob("*.jpg"))[-1]
    victim.unlink()
    with pytest.raises(DatasetError, match=f"variant image .*{victim.name} does not exist"):
        load_groups(data, "train")
    with pytest.raises(FloatingPointError, match="loss is nan at epoch 1, step 1"):
        train(cfg(tiny_model, shapes_ds, tmp_path / "nan", temperature=float("nan")))


def test_train_cli_and_compile(shapes_ds, tiny_model, tmp_path):
    from colorist.train.__main__ import main

    assert main(["--model", str(tiny_model), "--data", str(shapes_ds), "--out",
                 str(tmp_path / "c"), "--epochs", "1", "--compile", "on", "--device", "cpu",
                 "--quiet", "--blocks", "-1"]) == 0
    config = json.loads((tmp_path / "c" / "train_config.json").read_text())
    assert config["compile"] == "on" and config["vision_layers"] == [1]
    assert main(["--model", str(tiny_model), "--data", str(tmp_path / "none"), "--out",
                 str(tmp_path / "d"), "--quiet"]) == 2


class _Planted:
    """What an attacker pickles into OUT/checkpoint.pt: unpickling it creates a file."""

    def __init__(self, target):
        self.target = str(target)

    def __reduce__(self):
        return (open, (self.target, "w"))


def test_resume_refuses_a_planted_pickle(shapes_ds, tiny_model, tmp_path):
    from colorist.train.trainer import CheckpointError

    out = tmp_path / "run"
    out.mkdir()
    pwned = tmp_path / "PWNED"
    torch.save({"epoch": 1, "x": _Planted(pwned)}, out / "checkpoint.pt")
    with pytest.raises(CheckpointError, match="checkpoint.pt: not a checkpoint this trainer"):
        train(cfg(tiny_model, shapes_ds, out, epochs=1))
    assert not pwned.exists()
