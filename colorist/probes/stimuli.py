"""Synthetic, seeded probe stimuli (colour tasks and Stroop), in memory or on disk.

    suite = build_suite(ProbeConfig(n_per_color=10, seed=0))
    image, mask = suite.stimuli["object"][0].render()   # (S, S, 3) uint8, (S, S) 0/1
    write_stimuli("probes", suite)                       # images/*.png + probes.json

A suite holds specifications (colour values, shape poses, fonts, positions), drawn once
from the seed; ``render`` is a pure function of them, so the same seed gives identical
bytes. The colour tasks use a crossed design: slot ``j`` fixes the shape, its pose and the
offset of the "other" colour, and every colour is rendered in every slot (with its own
colour value, sampled from the namer's region of that colour).

On disk the suite is in the standard format (``colorist.sources.standard``): PNG images
and one JSON list of records with a caption and the object's polygon (``entities``), plus
a ``probe`` field with the stimulus' specification that the reader ignores.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from colorist.io.atomic import atomic_write_bytes
from colorist.io.images import encode_image
from colorist.probes.colors import build_sampler
from colorist.probes.config import COLOR_TASKS, TASKS, ProbeConfig
from colorist.probes.shapes import polygon_mask, shape_polygon
from colorist.probes.stroop import BACKGROUNDS, StroopStimulus, build_stroop


@dataclass(frozen=True)
class ShapeStimulus:
    """A colour-task stimulus: a background, and for ``object``/``background`` a shape.

    Attributes:
        id: unique id, ``{task}-{slot:04d}-{label}``.
        task: ``whole``, ``object`` or ``background``.
        slot: design slot (shared by the slot's stimuli of every colour).
        label: the colour the task asks for (whole: the image; object: the shape;
            background: the background).
        background, background_rgb: the background's colour name and sRGB value.
        shape: a key of ``SHAPES``, or None (``whole``); object, object_rgb: its colour.
        center: ``(x, y)``; radius: pixels; angle: degrees.
        size: side of the square image in pixels.
    """

    id: str
    task: str
    slot: int
    label: str
    background: str
    background_rgb: tuple[int, int, int]
    size: int
    shape: str | None = None
    object: str | None = None
    object_rgb: tuple[int, int, int] | None = None
    center: tuple[float, float] = (0.0, 0.0)
    radius: float = 0.0
    angle: float = 0.0

    def polygon(self) -> np.ndarray | None:
        """The shape's ``(K, 2)`` vertices, or None without a shape."""
        if self.shape is None:
            return None
        return shape_polygon(self.shape, self.center, self.radius, self.angle)

    def render(self) -> tuple[np.ndarray, np.ndarray]:
        """``(size, size, 3)`` uint8 RGB image and ``(size, size)`` uint8 0/1 object mask
        (all 0 without a shape)."""
        image = np.empty((self.size, self.size, 3), np.uint8)
        image[...] = self.background_rgb
        poly = self.polygon()
        if poly is None:
            return image, np.zeros((self.size, self.size), np.uint8)
        mask = polygon_mask(poly, self.size)
        image[mask > 0] = self.object_rgb
        return image, mask

    def caption(self) -> str:
        if self.shape is None:
            return f"A plain {self.background} image."
        return f"A {self.object} {self.shape} on a {self.background} background."


@dataclass
class ProbeSuite:
    """The stimuli of one config, per task (in ``config.tasks`` order)."""

    config: ProbeConfig
    stimuli: dict[str, list] = field(default_factory=dict)

    def __len__(self) -> int:
        return sum(len(v) for v in self.stimuli.values())

    def all(self) -> list:
        return [s for items in self.stimuli.values() for s in items]


def _color_task(task: str, config: ProbeConfig, sampler, rng) -> list[ShapeStimulus]:
    colors, size, out = config.colors, config.image_size, []
    for slot in range(config.n_per_color):
        shape = config.shapes[rng.integers(len(config.shapes))]
        radius = float(size * rng.uniform(0.18, 0.36))
        center = tuple(float(v) for v in rng.uniform(radius + 1, size - radius - 1, 2))
        angle = float(rng.uniform(0, 360))
        offset = int(rng.integers(1, len(colors)))
        for i, c in enumerate(colors):
            sid = f"{task}-{slot:04d}-{c}"
            rgb = sampler.sample(c, rng)
            if task == "whole":
                out.append(ShapeStimulus(sid, task, slot, c, c, rgb, size))
                continue
            other = colors[(i + offset) % len(colors)]
            other_rgb = sampler.sample(other, rng)
            fg, fg_rgb, bg, bg_rgb = ((c, rgb, other, other_rgb) if task == "object"
                                      else (other, other_rgb, c, rgb))
            out.append(ShapeStimulus(sid, task, slot, c, bg, bg_rgb, size, shape, fg, fg_rgb,
                                     center, radius, angle))
    return out


def build_suite(config: ProbeConfig | None = None) -> ProbeSuite:
    """The stimuli of ``config`` (default ``ProbeConfig()``). Each task draws from its own
    random stream (seeded by the seed and the task), so choosing fewer tasks leaves the
    others' stimuli unchanged."""
    config = config or ProbeConfig()
    pooled = list(dict.fromkeys([*config.colors,
                                 *(BACKGROUNDS if "stroop" in config.tasks else ())]))
    sampler = build_sampler(pooled, config.margin, config.seed)
    suite = ProbeSuite(config)
    for task in config.tasks:
        rng = np.random.default_rng([config.seed, TASKS.index(task)])
        if task in COLOR_TASKS:
            suite.stimuli[task] = _color_task(task, config, sampler, rng)
        else:
            suite.stimuli[task] = build_stroop(config.colors, config.fonts,
                                               config.stroop_repeats, config.image_size,
                                               sampler, rng)
    return suite


def _record(stim, image_id: int, file_name: str, mask: np.ndarray) -> dict:
    """The standard-format record of one stimulus (``probe``: its full specification)."""
    size = stim.size
    if isinstance(stim, StroopStimulus):
        ys, xs = np.nonzero(mask)
        x0, y0, x1, y1 = int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1
        entities = {"word": [[[x0, y0, x1, y0, x1, y1, x0, y1]]]}
    elif stim.shape is None:
        entities = {"image": [[[0, 0, size, 0, size, size, 0, size]]]}
    else:
        entities = {stim.shape: [[stim.polygon().ravel().tolist()]]}
    return {"image_id": image_id, "file_name": file_name, "height": size, "width": size,
            "captions": [stim.caption()], "entities": entities, "probe": asdict(stim)}


def _write_new(path: Path, data: bytes, overwrite: bool) -> None:
    """Write ``data`` atomically unless ``path`` already holds exactly it (a rerun)."""
    if path.is_file() and path.read_bytes() == data:
        return
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists with other content (another seed or config?); "
                              "choose another folder or pass overwrite=True")
    atomic_write_bytes(path, data)


def write_stimuli(out: str | Path, suite: ProbeSuite | ProbeConfig | None = None,
                  overwrite: bool = False, progress: bool | None = False) -> Path:
    """Write ``out/images/{id}.png`` and ``out/probes.json`` (standard format).

    Resumable: files that already hold the bytes this suite gives are left as they are;
    a file with other content (another seed or config) is refused unless ``overwrite``.
    ``out/probes-config.json`` records the config (checked first). ``progress``: a
    progress bar (None: when stderr is a terminal).

    Returns:
        The path of ``probes.json``.
    """
    suite = suite if isinstance(suite, ProbeSuite) else build_suite(suite)
    out = Path(out)
    _write_new(out / "probes-config.json", _json_bytes(suite.config.to_dict()), overwrite)
    items = suite.all()
    if progress is not False:  # the bar lives with the eval reports (the 'train' extra)
        from colorist.eval.report import progress as bar

        items = bar(items, "writing stimuli", "image", show=progress)
    records = []
    for i, stim in enumerate(items):
        image, mask = stim.render()
        name = f"{stim.id}.png"
        _write_new(out / "images" / name, encode_image(image, ".png"), overwrite)
        records.append(_record(stim, i, name, mask))
    path = out / "probes.json"
    _write_new(path, _json_bytes(records), overwrite)
    return path


def _json_bytes(obj) -> bytes:
    return (json.dumps(obj, indent=1, sort_keys=True) + "\n").encode("utf-8")
