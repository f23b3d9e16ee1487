"""The Stroop test for vision-language models: colour words rendered in ink colours.

Every cell of the word x ink grid (12 x 12 with the default colours) is rendered
``stroop_repeats`` times: the colour word in capitals ("BLUE") in an ink sampled from the
namer's region of the ink colour, on an achromatic background (white, gray or black, never
the ink's or the word's colour), in one of OpenCV's Hershey fonts at a random size and
position. Each rendering has a neutral twin: a non-colour word of the same length ("LAMP")
with the same ink value, font, size, background and relative position, so that only the
word differs. Items where the word names the ink are congruent, the others incongruent.

Metrics (``stroop_outcomes``; predictions are 12-way choices over the colours):

* ink accuracy on congruent, incongruent and neutral items (``ink`` prompts, e.g. "the
  word is written in {c}");
* word-over-ink rate: incongruent items on which the ink prompts choose the *word*;
* word reading: colour-word items on which the ``word`` prompts ("the text says {C}")
  choose the word;
* interference: ink accuracy on the neutral twins of the incongruent items minus ink
  accuracy on those items (paired; > 0: the word gets in the way of the ink), and
  facilitation: congruent minus their neutral twins.

Ink pixels are drawn without anti-aliasing, so every ink pixel holds exactly the ink value
and every other pixel the background value; ``render`` returns the ink mask too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from colorist.probes.colors import ColorSampler

FONTS = {
    "simplex": cv2.FONT_HERSHEY_SIMPLEX,
    "duplex": cv2.FONT_HERSHEY_DUPLEX,
    "complex": cv2.FONT_HERSHEY_COMPLEX,
    "triplex": cv2.FONT_HERSHEY_TRIPLEX,
    "plain": cv2.FONT_HERSHEY_PLAIN,
    "simplex-italic": cv2.FONT_HERSHEY_SIMPLEX | cv2.FONT_ITALIC,
}
BACKGROUNDS = ("white", "gray", "black")
# non-colour words without a typical colour, by length (the colour words have 3 to 6 letters)
NEUTRAL_WORDS = {
    3: ("DOG", "CUP", "PEN", "HAT", "BOX"),
    4: ("LAMP", "DESK", "BOOK", "DOOR", "FORK"),
    5: ("CHAIR", "TABLE", "CLOCK", "SPOON", "HOUSE"),
    6: ("BOTTLE", "PENCIL", "WINDOW", "BASKET", "CAMERA"),
}
CONDITIONS = ("congruent", "incongruent", "neutral")


@dataclass(frozen=True)
class StroopStimulus:
    """One rendered word: ``text`` in ``ink`` on ``background``.

    Attributes:
        id: unique id (``stroop-{repeat}-{word}-{ink}``, ``-neutral`` for the twin).
        pair: id shared by a colour-word item and its neutral twin.
        condition: ``congruent``, ``incongruent`` or ``neutral``.
        text: the rendered string.
        word: the colour the text names; None for neutral items.
        ink, ink_rgb: the ink's colour name and its sRGB value.
        background, background_rgb: the background's colour name and sRGB value.
        font: a key of ``FONTS``; scale, thickness: ``cv2.putText``'s.
        origin: ``(x, y)`` of the text's bottom-left corner in pixels.
        size: side of the square image in pixels.
    """

    id: str
    pair: int
    condition: str
    text: str
    word: str | None
    ink: str
    ink_rgb: tuple[int, int, int]
    background: str
    background_rgb: tuple[int, int, int]
    font: str
    scale: float
    thickness: int
    origin: tuple[int, int]
    size: int
    task: str = "stroop"

    @property
    def label(self) -> str:
        """The colour the ink prompts should choose."""
        return self.ink

    def render(self) -> tuple[np.ndarray, np.ndarray]:
        """``(size, size, 3)`` uint8 RGB image and ``(size, size)`` uint8 0/1 ink mask."""
        mask = np.zeros((self.size, self.size), np.uint8)
        cv2.putText(mask, self.text, self.origin, FONTS[self.font], self.scale, 1,
                    self.thickness, cv2.LINE_8)
        image = np.empty((self.size, self.size, 3), np.uint8)
        image[...] = self.background_rgb
        image[mask > 0] = self.ink_rgb
        return image, mask

    def caption(self) -> str:
        return f"The word {self.text} written in {self.ink} on a {self.background} background."


MIN_CAP_HEIGHT = 6  # pixels: smaller Hershey capitals lose strokes (or vanish) in 8-bit
_TRIES = 20


def _ink_pixels(text: str, face: int, scale: float, thickness: int, origin, size: int):
    """(ink pixels inside the image, ink pixels outside it) of one rendering."""
    pad = max(8, 4 * thickness)  # strokes overshoot the text box by about the thickness
    canvas = np.zeros((size + 2 * pad, size + 2 * pad), np.uint8)
    cv2.putText(canvas, text, (origin[0] + pad, origin[1] + pad), face, scale, 1, thickness,
                cv2.LINE_8)
    inside = int(canvas[pad : pad + size, pad : pad + size].sum())
    return inside, int(canvas.sum()) - inside


def _layout(texts: Sequence[str], font: str, size: int, rng: np.random.Generator):
    """Scale, thickness and one origin per text: the widest text spans 45-85% of the image
    (more where that keeps capitals at least ``MIN_CAP_HEIGHT`` pixels tall), all share the
    scale and the relative position in their free space; every text lies inside the image.

    Raises:
        ValueError: the image is too small for the texts in this font.
    """
    face = FONTS[font]
    width_1 = max(cv2.getTextSize(t, face, 1.0, 1)[0][0] for t in texts)
    height_1 = cv2.getTextSize(texts[0], face, 1.0, 1)[0][1]
    lo = min(0.85, max(0.45, MIN_CAP_HEIGHT / height_1 * width_1 / size))
    scale = size * rng.uniform(lo, 0.85) / width_1
    thickness = max(1, int(round(scale * rng.uniform(1.0, 2.5))))
    u, v = rng.uniform(0, 1, 2)
    for _ in range(_TRIES):  # the stroke widens the text: shrink until every text fits
        scale = round(float(scale), 4)
        boxes = [cv2.getTextSize(t, face, scale, thickness)[0] for t in texts]
        pad = thickness + 1
        origins = [(int(pad + u * max(0, size - w - 2 * pad)),
                    int(h + pad + v * max(0, size - h - 2 * pad))) for w, h in boxes]
        ink = [_ink_pixels(t, face, scale, thickness, o, size) for t, o in zip(texts, origins)]
        if all(outside == 0 for _, outside in ink):
            break
        scale *= 0.95
    if not all(outside == 0 and inside >= 2 * len(t) for t, (inside, outside) in
               zip(texts, ink)):
        raise ValueError(f"Stroop: {size} px images are too small for {texts} in font "
                         f"{font!r}; use a larger image_size")
    return scale, thickness, origins


def build_stroop(colors: Sequence[str], fonts: Sequence[str], repeats: int, size: int,
                 sampler: ColorSampler, rng: np.random.Generator) -> list[StroopStimulus]:
    """The Stroop items: for each repeat, word and ink, a colour-word item then its twin.

    ``sampler`` must have pools for ``colors`` and the ``BACKGROUNDS``.
    """
    out = []
    for rep in range(repeats):
        for word in colors:
            for ink in colors:
                pair = len(out) // 2
                neutral = NEUTRAL_WORDS[len(word)][rng.integers(len(NEUTRAL_WORDS[len(word)]))]
                font = fonts[rng.integers(len(fonts))]
                backs = [b for b in BACKGROUNDS if b not in (ink, word)]
                back = backs[rng.integers(len(backs))]
                ink_rgb, back_rgb = sampler.sample(ink, rng), sampler.sample(back, rng)
                scale, thick, origins = _layout([word.upper(), neutral], font, size, rng)
                common = dict(pair=pair, ink=ink, ink_rgb=ink_rgb, background=back,
                              background_rgb=back_rgb, font=font, scale=scale,
                              thickness=thick, size=size)
                cond = "congruent" if word == ink else "incongruent"
                out.append(StroopStimulus(f"stroop-{rep}-{word}-{ink}", condition=cond,
                                          text=word.upper(), word=word, origin=origins[0],
                                          **common))
                out.append(StroopStimulus(f"stroop-{rep}-{word}-{ink}-neutral",
                                          condition="neutral", text=neutral, word=None,
                                          origin=origins[1], **common))
    return out


# ---- metrics (pure numpy) --------------------------------------------------------------


def stroop_outcomes(ink_pred, word_pred, ink, word, pair) -> dict[str, np.ndarray]:
    """Per-item outcomes of the Stroop test.

    Args:
        ink_pred: ``(N,)`` int colour index chosen by the ink prompts.
        word_pred: ``(N,)`` int colour index chosen by the word prompts.
        ink: ``(N,)`` int true ink index.
        word: ``(N,)`` int index of the colour the word names, -1 for neutral items.
        pair: ``(N,)`` int: a colour-word item and its neutral twin share it.

    Returns:
        bool arrays: ``ink_congruent``, ``ink_incongruent``, ``ink_neutral`` (ink chosen),
        ``word_over_ink`` (incongruent items whose ink choice is the word),
        ``word_reading`` (colour-word items whose word choice is the word); and the
        paired ``(2, n)`` arrays ``interference`` (row 0: neutral twin's ink correct, row 1:
        the incongruent item's) and ``facilitation`` (row 0: congruent item, row 1: its
        twin), over the items that have a twin.
    """
    ink_pred, word_pred, ink, word, pair = (np.asarray(a, dtype=int) for a in
                                            (ink_pred, word_pred, ink, word, pair))
    ink_ok = ink_pred == ink
    neutral, congruent = word < 0, word == ink
    incongruent = ~neutral & ~congruent
    twin_ok = {p: ok for p, ok in zip(pair[neutral], ink_ok[neutral])}

    def paired(items: np.ndarray, twin_first: bool) -> np.ndarray:
        idx = [i for i in np.flatnonzero(items) if pair[i] in twin_ok]
        rows = [[twin_ok[pair[i]] for i in idx], [ink_ok[i] for i in idx]]
        return np.array(rows if twin_first else rows[::-1], dtype=bool).reshape(2, -1)

    return {
        "ink_congruent": ink_ok[congruent],
        "ink_incongruent": ink_ok[incongruent],
        "ink_neutral": ink_ok[neutral],
        "word_over_ink": (ink_pred == word)[incongruent],
        "word_reading": (word_pred == word)[~neutral],
        "interference": paired(incongruent, twin_first=True),
        "facilitation": paired(congruent, twin_first=False),
    }


def stroop_heatmaps(ink_pred, ink, word, n_colors: int) -> dict[str, np.ndarray]:
    """Word x ink grids over the colour-word items: ``ink_rate`` (share of items whose ink
    choice is the ink), ``word_rate`` (share choosing the word), both ``(C, C)`` float
    with rows = word, columns = ink (NaN for an empty cell); ``neutral_ink_rate`` ``(C,)``
    is the ink accuracy of the neutral items per ink."""
    ink_pred, ink, word = (np.asarray(a, dtype=int) for a in (ink_pred, ink, word))
    count = np.zeros((n_colors, n_colors))
    hits_ink, hits_word = np.zeros_like(count), np.zeros_like(count)
    cw = word >= 0
    np.add.at(count, (word[cw], ink[cw]), 1)
    np.add.at(hits_ink, (word[cw], ink[cw]), ink_pred[cw] == ink[cw])
    np.add.at(hits_word, (word[cw], ink[cw]), ink_pred[cw] == word[cw])
    n_neutral = np.bincount(ink[~cw], minlength=n_colors).astype(float)
    neutral_ok = np.bincount(ink[~cw], ink_pred[~cw] == ink[~cw], minlength=n_colors)
    with np.errstate(invalid="ignore", divide="ignore"):
        return {"ink_rate": hits_ink / count, "word_rate": hits_word / count,
                "neutral_ink_rate": neutral_ok / n_neutral}
