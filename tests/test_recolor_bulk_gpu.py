"""The GPU bulk path of ``python -m colorist.recolor --batch --backend triton|cuda``.

On a CPU-only machine it runs the Triton kernels in the interpreter with the OpenCV codec
fallback, so the same pipeline (byte prefetch, header sizes, device decode step, packed
batch, sampled colour check, encoded writes) is exercised; on a GPU (tests marked cuda)
it runs nvJPEG and the real kernels.
"""

import json

import cv2
import numpy as np
import pytest

from colorist.io import read_image, read_jsonl
from colorist.io.device_codec import DeviceCodec, jpeg_size
from colorist.recolor.__main__ import main
from colorist.recolor.backends import BACKENDS


def synthetic_object(h=40, w=48):
    """A red rectangle on a grey, slightly noisy background, and its polygon."""
    rng = np.random.default_rng(3)
    img = np.full((h, w, 3), 128, np.uint8) + rng.integers(0, 8, (h, w, 3), dtype=np.uint8)
    img[8:30, 10:40] = (200, 30, 25)
    img[8:30, 10:40, 1] += rng.integers(0, 20, (22, 30), dtype=np.uint8)
    return img, [[10, 8, 39, 8, 39, 29, 10, 29]]


@pytest.fixture
def small_jobs(tmp_path):
    img, poly = synthetic_object()
    bgr = cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
    cv2.imwrite(str(tmp_path / "a.png"), bgr)
    cv2.imwrite(str(tmp_path / "b.jpg"), bgr, [cv2.IMWRITE_JPEG_QUALITY, 98])
    (tmp_path / "truncated.jpg").write_bytes((tmp_path / "b.jpg").read_bytes()[:300])
    targets = ["blue", "green", "yellow"]
    jobs = [{"id": name.split(".")[0], "image": name, "mask": poly, "source": "red",
             "targets": targets} for name in ("a.png", "b.jpg", "truncated.jpg")]
    (tmp_path / "jobs.jsonl").write_text("".join(json.dumps(j) + "\n" for j in jobs))
    return tmp_path, targets


def test_jpeg_size_reads_the_frame_header(tmp_path):
    img = np.zeros((37, 53, 3), np.uint8)
    ok, jpg = cv2.imencode(".jpg", img)
    assert jpeg_size(jpg.tobytes()) == (37, 53)
    ok, png = cv2.imencode(".png", img)
    assert jpeg_size(png.tobytes()) is None
    exif = b"\xff\xd8\xff\xe1\x00\x10Exif\x00\x00" + b"\x00" * 8 + jpg.tobytes()[2:]
    assert jpeg_size(exif) is None  # orientation may apply: the CPU decoder takes it
    assert jpeg_size(b"\xff\xd8garbage") is None


def test_device_codec_cpu_fallback_round_trip(tmp_path):
    torch = pytest.importorskip("torch")
    img, _ = synthetic_object()
    ok, png = cv2.imencode(".png", cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    codec = DeviceCodec("cpu")
    out = codec.decode([("a.png", png.tobytes()), ("bad.jpg", b"\xff\xd8\xff nope")])
    assert isinstance(out[0], torch.Tensor) and np.array_equal(out[0].numpy(), img)
    assert "bad.jpg: not a decodable image" in str(out[1])
    blobs = codec.encode([out[0]], ".png", 95)
    decoded = cv2.imdecode(np.frombuffer(blobs[0], np.uint8), cv2.IMREAD_COLOR)
    assert np.array_equal(cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB), img)


def test_nvjpeg_calls_wait_for_the_callers_stream(monkeypatch):
    """torchvision's nvJPEG runs on a private stream that does not wait for the caller's:
    the caller's stream is drained before each decode and encode (no GPU needed: a stand-in
    torchvision.io records the order of the calls)."""
    torch = pytest.importorskip("torch")
    from types import SimpleNamespace

    from colorist.io import device_codec

    calls = []
    fake = SimpleNamespace(
        ImageReadMode=SimpleNamespace(RGB="RGB"),
        decode_jpeg=lambda data, mode, device: calls.append("decode")
        or [torch.zeros(3, 37, 53, dtype=torch.uint8) for _ in data],
        encode_jpeg=lambda images, quality: calls.append("encode")
        or [torch.zeros(4, dtype=torch.uint8) for _ in images],
    )
    monkeypatch.setattr(device_codec, "torchvision_io", lambda: fake)
    monkeypatch.setattr(device_codec, "wait_for_current_stream",
                        lambda device: calls.append(f"wait {device}"))
    ok, jpg = cv2.imencode(".jpg", np.zeros((37, 53, 3), np.uint8))
    codec = DeviceCodec("cuda:0")
    out = codec.decode([("a.jpg", jpg.tobytes()), ("b.jpg", jpg.tobytes())])
    assert [tuple(o.shape) for o in out] == [(37, 53, 3)] * 2
    codec.encode(out, ".jpg", 90)
    assert calls == ["wait cuda:0", "decode", "wait cuda:0", "encode"]


@pytest.mark.parametrize("name", ["triton", "cuda"])
def test_gpu_bulk_path_matches_the_cpu_path(name, small_jobs):
    if BACKENDS[name].unavailable() is not None:
        pytest.skip(BACKENDS[name].unavailable())
    root, targets = small_jobs
    common = ["--batch", str(root / "jobs.jsonl"), "--quiet", "--format", "png"]
    assert main([*common, "-o", str(root / "cpu"), "--backend", "cpu"]) == 0
    assert main([*common, "-o", str(root / "gpu"), "--backend", name, "--preview"]) == 0
    results = {r["id"]: r for r in read_jsonl(root / "gpu" / "results.jsonl")}
    assert sorted(results) == ["a", "b"]
    rejects = read_jsonl(root / "gpu" / "rejects.jsonl")
    assert [r["id"] for r in rejects] == ["truncated"]
    assert "truncated.jpg" in rejects[0]["error"]
    for rid, rec in results.items():
        # the quality check from pixels sampled on the device
        assert sorted(rec["check"]) == sorted(targets)
        assert all(rec["check"][t]["good"] and rec["check"][t]["sampled"] for t in targets)
        for t in targets:
            gpu = read_image(root / "gpu" / rec["outputs"][t]).astype(int)
            cpu = read_image(root / "cpu" / rec["outputs"][t]).astype(int)
            assert np.abs(gpu - cpu).max() <= (1 if name == "triton" else 3)
        assert (root / "gpu" / "previews" / f"{rid}.png").exists()
    # a rerun resumes: nothing to do, nothing rewritten
    before = {p: p.stat().st_mtime_ns for p in (root / "gpu" / "images").iterdir()}
    assert main([*common, "-o", str(root / "gpu"), "--backend", name]) == 0
    summary = json.loads((root / "gpu" / "summary.json").read_text())
    assert summary["resumed"] == 2 and summary["done"] == 0
    assert before == {p: p.stat().st_mtime_ns for p in (root / "gpu" / "images").iterdir()}
