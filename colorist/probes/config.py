"""The probe suite's configuration: tasks, colours, sizes, fonts, prompts, seed."""

from __future__ import annotations

import string
from dataclasses import asdict, dataclass, field

from colorist.probes.colors import PROBE_COLORS, is_achromatic
from colorist.probes.shapes import SHAPES

COLOR_TASKS = ("whole", "object", "background")
TASKS = (*COLOR_TASKS, "stroop")

# Prompt families: templates with {c} (colour word), {C} (colour word in capitals) and, for
# the shape tasks, {shape}. A stimulus' score for a colour is the mean cosine similarity of
# its image with the family's templates filled with that colour (prompt ensembling).
DEFAULT_PROMPTS: dict[str, tuple[str, ...]] = {
    "whole": ("a {c} image.", "a photo of the color {c}."),
    "object": ("a {c} {shape}.", "a photo of a {c} {shape}."),
    "background": ("a {shape} on a {c} background.",
                   "a photo of a {shape} in front of a {c} background."),
    "ink": ("the word is written in {c}", "the text is {c} colored"),
    "word": ("the text says {C}",),
}
_FIELDS = {"whole": {"c", "C"}, "object": {"c", "C", "shape"}, "background": {"c", "C", "shape"},
           "ink": {"c", "C"}, "word": {"c", "C"}}


def _check_template(family: str, template: str) -> None:
    names = {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
    if not names & {"c", "C"}:
        raise ValueError(f"prompt {template!r} ({family}): needs a {{c}} or {{C}} colour slot")
    extra = names - _FIELDS[family]
    if extra:
        raise ValueError(f"prompt {template!r} ({family}): unknown field {sorted(extra)[0]!r}"
                         f"; allowed: {', '.join(sorted(_FIELDS[family]))}")


@dataclass(frozen=True)
class ProbeConfig:
    """What the probe suite holds. The same config (seed included) gives byte-identical
    stimuli.

    Attributes:
        tasks: any of ``TASKS``: ``whole`` (the whole image is the colour), ``object`` (a
            shape of the colour on a background of another colour), ``background`` (the
            background's colour behind a shape of another colour), ``stroop``.
        colors: namer terms to probe (at least 2, no repeats); the colour tasks name one of
            them, the Stroop words and inks are them.
        n_per_color: stimuli per colour and colour task (one per design slot: a slot fixes
            the shape, its pose and the other colour's offset for every colour).
        seed: seeds colours, poses, fonts and positions.
        image_size: side of the square stimuli in pixels, 32..1024.
        margin: namer probability margin of every sampled colour (``build_sampler``).
        shapes: keys of ``SHAPES`` the object/background tasks draw from.
        stroop_repeats: renderings of every (word, ink) cell of the Stroop grid; each also
            gets its neutral twin (a non-colour word of the same length, same ink, font,
            size and background).
        fonts: keys of ``colorist.probes.stroop.FONTS`` (OpenCV's Hershey fonts).
        prompts: prompt families: the three colour tasks, ``ink`` and ``word`` for the
            Stroop test; families given here replace those of ``DEFAULT_PROMPTS``.
    """

    tasks: tuple[str, ...] = TASKS
    colors: tuple[str, ...] = PROBE_COLORS
    n_per_color: int = 10
    seed: int = 0
    image_size: int = 224
    margin: float = 0.5
    shapes: tuple[str, ...] = tuple(SHAPES)
    stroop_repeats: int = 2
    fonts: tuple[str, ...] = ("simplex", "duplex", "complex", "triplex")
    prompts: dict[str, tuple[str, ...]] = field(default_factory=lambda: dict(DEFAULT_PROMPTS))

    def __post_init__(self) -> None:
        from colorist.probes.stroop import FONTS

        for name in ("tasks", "colors", "shapes", "fonts"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        prompts = {**DEFAULT_PROMPTS, **self.prompts}  # given families replace the defaults
        object.__setattr__(self, "prompts", {k: tuple(v) for k, v in prompts.items()})
        _check_members("task", self.tasks, TASKS)
        _check_members("shape", self.shapes, SHAPES)
        _check_members("font", self.fonts, FONTS)
        is_achromatic(self.colors)
        if len(set(self.colors)) != len(self.colors) or len(self.colors) < 2:
            raise ValueError(f"colors {list(self.colors)}: need at least 2, no repeats")
        for name, lo, hi in (("n_per_color", 1, None), ("image_size", 32, 1024),
                             ("stroop_repeats", 1, None)):
            value = getattr(self, name)
            if not isinstance(value, int) or value < lo or (hi is not None and value > hi):
                raise ValueError(f"{name}={value!r}: must be an integer >= {lo}"
                                 + (f" and <= {hi}" if hi else ""))
        for family, templates in self.prompts.items():
            if family not in _FIELDS:
                raise ValueError(f"unknown prompt family {family!r}; known: {', '.join(_FIELDS)}")
            if not templates:
                raise ValueError(f"prompt family {family!r} has no template")
            for t in templates:
                _check_template(family, t)

    def families(self) -> list[str]:
        """The prompt families the tasks use."""
        out = [t for t in self.tasks if t in COLOR_TASKS]
        return out + (["ink", "word"] if "stroop" in self.tasks else [])

    def to_dict(self) -> dict:
        """JSON-able dict; ``ProbeConfig(**d)`` rebuilds an equal config."""
        d = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()} | {
            "prompts": {k: list(v) for k, v in self.prompts.items()}}


def _check_members(what: str, values, known) -> None:
    for v in values:
        if v not in known:
            raise ValueError(f"unknown {what} {v!r}; choose from {', '.join(known)}")
    if not values:
        raise ValueError(f"no {what} given; choose from {', '.join(known)}")
