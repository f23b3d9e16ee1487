"""Build ``colorist/data/color_namer.npz``: colour namers from human naming data.

The namers judge recolours by the name a PERSON would give a colour, independently of the
palette's own HSV ranges (nothing here reads ``colorist.palette``'s ranges; ``--report``
only compares against them). Each namer maps an sRGB colour to soft probabilities over the
12 basic terms red, orange, yellow, green, cyan, blue, purple, pink, brown, white, gray,
black.

Sources (both ship with matplotlib, which only this script needs):

* ``xkcd`` (the main namer): the XKCD colour survey (Randall Munroe, 2010; about 222,000
  participants naming random monitor colours freely). ``matplotlib.colors.XKCD_COLORS``
  holds the sRGB centroids of its 949 most frequent names. The survey results are released
  into the public domain under CC0 1.0 (https://xkcd.com/color/rgb/,
  https://creativecommons.org/publicdomain/zero/1.0/).
* ``css`` (a held-out second opinion, a different source): the 148 CSS Color Module 4 /
  X11 named colours (``matplotlib.colors.CSS4_COLORS``; W3C specification data, colour
  values are facts) plus approximate English focal colours of the 11 Berlin & Kay (1969)
  terms, given as Munsell notations and converted once to sRGB (``FOCAL_COLORS``).

Every name is mapped to one basic term by its head word (the last word: "dark teal" ->
teal -> cyan) through the reviewable tables ``HEAD_TERMS`` (non-basic head words) and
``XKCD_OVERRIDES`` / ``CSS_OVERRIDES`` (whole names, each with its reason), or dropped
(None) when it is ambiguous or no colour. Fused compounds keep English head-final
semantics ("bluegrey" is a grey, "greyblue" a blue); "x/y" names are mixtures and dropped.
Non-basic heads take the basic term that their everyday referent is called by (the head
noun of dictionary definitions: tan "a yellowish brown" -> brown); where dictionaries
disagree the name is dropped and its neighbours decide. Decisions worth a note:

* teal, turquoise, aqua, aquamarine -> cyan (our 12th term is the blue-green category).
* magenta, fuchsia -> pink: the survey's own "magenta" centroid (hue ~323 deg) sits among
  its "hot pink" / "deep pink" centroids, on the pink side of its "pink/purple" name
  (hue ~303 deg), and fuchsia is commonly "fuchsia pink". Violet, lilac, lavender, mauve,
  plum, orchid -> purple.
* beige, tan, khaki, sand, fawn, camel -> brown ("light brown" in dictionary definitions);
  taupe -> gray ("brownish gray"). Off-white names (cream, parchment, ecru, "pale") are
  dropped: they are between white and yellow; ivory and eggshell are "creamy white" ->
  white.
* olive, lime, chartreuse -> green; gold, mustard, ochre -> yellow; peach -> orange,
  salmon -> pink, coral dropped (dictionaries say pink, red and orange); maroon,
  burgundy, wine -> red; navy -> blue.

The survey has few achromatic names (white 2, black 3, grey about 20, most of them
tinted), so ``neutral_anchors`` adds 52 neutral greys (R = G = B = 0, 5, ..., 255), each
labelled with the term of the survey's nearest near-neutral (C* < 10) achromatic centroid in
lightness: black up to L* ~18 (its "dark" #1b2431, L* 14, against "dark grey" at L* 23),
gray up to L* ~93 ("light grey" at L* 87 against "pale grey" -> white at L* 99), white
above. The CSS set has its own neutral series.

Classifier: k nearest samples in CIELAB (D65, ``colorist.recolor.reference.rgb_to_lab``,
the one Lab definition of the project), weights 1 / max(dE, 1), probabilities = weight
share per term. k = 10 for xkcd and k = 4 for css: the best leave-one-out accuracy
(``--loo``) in k = 4..10; every known name of tests/test_naming.py comes out right for
k = 7..10. The tables are evaluated on a 33^3 RGB grid (channel values i * 255 / 32,
i = 0..32, so 0 and 255 are grid points and uint8 inputs interpolate trilinearly) and
stored as uint8 probabilities summing to 255 per grid point.

Usage::

    python scripts/make_color_namer.py               # writes colorist/data/color_namer.npz
    python scripts/make_color_namer.py --out DIR     # writes DIR/color_namer.npz
    python scripts/make_color_namer.py --report      # namer vs palette disagreement table
    python scripts/make_color_namer.py --loo         # leave-one-out accuracy per k
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from colorist.recolor.reference import rgb_to_lab  # noqa: E402

TERMS = (
    "red", "orange", "yellow", "green", "cyan", "blue", "purple", "pink", "brown",
    "white", "gray", "black",
)
ACHROMATIC = ("white", "gray", "black")
GRID_LEVELS = 33  # grid values i * 255 / 32, i = 0..32
K = {"xkcd": 10, "css": 4}
MIN_DISTANCE = 1.0  # dE below which samples weigh the same (about one JND)
NEUTRAL_STEP = 5  # neutral anchors R = G = B = 0, 5, ..., 255
NEUTRAL_CHROMA = 10.0  # survey centroids below this C* label the anchors (tinted greys: ~12)
DEFAULT_OUT = ROOT / "colorist" / "data" / "color_namer.npz"

# Basic words and their spelled / suffixed / fused variants.
_BASIC = {t: t for t in TERMS} | {
    "grey": "gray", "greyish": "gray", "reddish": "red", "orangish": "orange",
    "orangeish": "orange", "yellowish": "yellow", "greenish": "green", "bluish": "blue",
    "purplish": "purple", "purpleish": "purple", "purply": "purple", "purpley": "purple",
    "urple": "purple", "pinkish": "pink", "pinky": "pink", "brownish": "brown",
    "darkgreen": "green", "lightgreen": "green", "darkblue": "blue", "lightblue": "blue",
    # fused compounds are head-final: a "bluegrey" is a grey, a "greyblue" a blue
    "bluegrey": "gray", "greyblue": "blue", "bluegreen": "green", "greenblue": "blue",
    "yellowgreen": "green", "orangered": "red",
}

# Non-basic head words -> basic term (None: dropped, with the reason).
HEAD_TERMS: dict[str, str | None] = {
    # cyan: the blue-green category
    "teal": "cyan", "tealish": "cyan", "turquoise": "cyan", "aqua": "cyan",
    "aquamarine": "cyan", "petrol": "cyan",
    # blue
    "navy": "blue", "cobalt": "blue", "azure": "blue", "azul": "blue", "cerulean": "blue",
    "sapphire": "blue", "ultramarine": "blue", "denim": "blue", "sky": "blue",
    "cornflower": "blue", "royal": "blue", "marine": "blue", "midnight": "blue",
    "ocean": "blue", "blueberry": "blue",
    "periwinkle": "blue", "perrywinkle": "blue",  # "a light purplish blue"
    # purple
    "violet": "purple", "lavender": "purple", "lavendar": "purple", "lilac": "purple",
    "liliac": "purple", "mauve": "purple", "plum": "purple", "eggplant": "purple",
    "aubergine": "purple", "grape": "purple", "amethyst": "purple", "orchid": "purple",
    "heliotrope": "purple", "wisteria": "purple", "heather": "purple", "iris": "purple",
    "indigo": "purple", "barney": "purple", "bruise": "purple", "mulberry": "purple",
    # pink
    "rose": "pink", "rosa": "pink", "blush": "pink", "bubblegum": "pink",
    "carnation": "pink", "salmon": "pink", "magenta": "pink", "fuchsia": "pink",
    "raspberry": "pink",  # "a reddish-pink colour"
    # red
    "maroon": "red", "burgundy": "red", "wine": "red", "claret": "red", "bordeaux": "red",
    "merlot": "red", "crimson": "red", "scarlet": "red", "carmine": "red",
    "vermillion": "red", "cherry": "red", "blood": "red", "ruby": "red", "lipstick": "red",
    "strawberry": "red", "tomato": "red", "cranberry": "red", "rouge": "red",
    "cerise": "red", "brick": "red",
    # orange
    "peach": "orange", "apricot": "orange", "tangerine": "orange", "mango": "orange",
    "pumpkin": "orange", "melon": "orange", "squash": "orange",
    "terracotta": "orange", "terracota": "orange",  # "a brownish-orange"
    # yellow
    "gold": "yellow", "golden": "yellow", "goldenrod": "yellow", "mustard": "yellow",
    "lemon": "yellow", "banana": "yellow", "butter": "yellow", "canary": "yellow",
    "sunflower": "yellow", "dandelion": "yellow", "custard": "yellow", "maize": "yellow",
    "straw": "yellow", "manilla": "yellow", "wheat": "yellow", "saffron": "yellow",
    "ochre": "yellow", "ocher": "yellow", "ocre": "yellow",
    # brown
    "tan": "brown", "beige": "brown", "khaki": "brown", "sand": "brown", "sandy": "brown",
    "sandstone": "brown", "fawn": "brown", "camel": "brown", "mushroom": "brown",
    "coffee": "brown", "mocha": "brown", "cocoa": "brown", "chocolate": "brown",
    "caramel": "brown", "chestnut": "brown", "hazel": "brown", "auburn": "brown",
    "umber": "brown", "sienna": "brown", "siena": "brown", "sepia": "brown",
    "copper": "brown", "bronze": "brown", "rust": "brown", "russet": "brown",
    "cinnamon": "brown", "adobe": "brown", "clay": "brown", "mud": "brown", "dirt": "brown",
    "earth": "brown", "leather": "brown", "mahogany": "brown", "drab": "brown",
    "poo": "brown", "poop": "brown", "shit": "brown",
    # green
    "lime": "green", "olive": "green", "sage": "green", "mint": "green",
    "seafoam": "green", "apple": "green", "pea": "green", "fern": "green", "moss": "green",
    "forest": "green", "grass": "green", "leaf": "green", "pine": "green",
    "spruce": "green", "evergreen": "green", "emerald": "green", "jade": "green",
    "viridian": "green", "shamrock": "green", "wintergreen": "green",
    "spearmint": "green", "celadon": "green", "celery": "green", "pistachio": "green",
    "kiwi": "green", "avocado": "green", "asparagus": "green", "algae": "green",
    "seaweed": "green", "lichen": "green", "camo": "green", "swamp": "green",
    "booger": "green", "snot": "green", "chartreuse": "green", "pear": "green",
    "tea": "green", "bile": "green",
    # gray
    "silver": "gray", "charcoal": "gray", "gunmetal": "gray", "slate": "gray",
    "steel": "gray", "stone": "gray", "cement": "gray",
    "taupe": "gray", "toupe": "gray",  # "a brownish gray"
    # white and black
    "ivory": "white", "eggshell": "white",  # "a creamy / yellowish white"
    "dark": "black",  # the survey's "dark" is a near-black (#1b2431)
    # dropped: between two terms, or no colour
    "cream": None, "creme": None, "parchment": None, "ecru": None, "pale": None,
    "buff": None,  # dictionary: pale yellowish brown; survey centroid: pale yellow
    "coral": None,  # dictionaries: pink, red or orange
    "amber": None, "marigold": None, "butterscotch": None,  # yellow or orange
    "watermelon": None, "grapefruit": None, "berry": None,  # pink or red
    "puce": None,  # a brownish purple by definition, brown in the survey
    "topaz": None, "sea": None, "ice": None,  # gem of many colours, sea green/blue
    "twilight": None, "dusk": None, "velvet": None, "desert": None, "dust": None,
    "putty": None, "bland": None, "cheese": None,
    "vomit": None, "puke": None, "diarrhea": None,
    "burple": None, "blurple": None,  # blue + purple blends
}

# Whole XKCD names whose head word misleads (reason in the comment).
XKCD_OVERRIDES: dict[str, str | None] = {
    "pale grey": "white",  # centroid #fdfdfe (L* 99): a white in a 12-term choice
    "light beige": None,  # centroid #fffeb6: a cream, not a brown
    "olive drab": "green",  # the military olive green, not a drab brown
    "aqua marine": "cyan",  # = aquamarine
    "egg shell": "white",  # = eggshell
    "robin's egg": "cyan",  # robin's egg blue, a light turquoise
    "golden rod": "yellow",  # = goldenrod
    "terra cotta": "orange",  # = terracotta
    "pea soup": "green",  # pea green
    "macaroni and cheese": None,  # a food
}

# CSS names are fused ("mediumvioletred"); their head is the basic word or HEAD_TERMS
# word they end with. These names need a decision of their own.
CSS_OVERRIDES: dict[str, str | None] = {
    # CSS "tinted whites": L* > 94 and chroma of a few units, whatever the head word
    "aliceblue": "white", "azure": "white", "ghostwhite": "white", "honeydew": "white",
    "lavenderblush": "white", "mintcream": "white", "seashell": "white", "snow": "white",
    "floralwhite": "white", "ivory": "white", "linen": "white", "oldlace": "white",
    "whitesmoke": "white", "cornsilk": "white", "beige": "white",  # #f5f5dc, L* 96
    "antiquewhite": None, "navajowhite": None, "papayawhip": None,  # tan / peach tints
    "blanchedalmond": None, "bisque": None, "moccasin": None, "peachpuff": None,
    "lemonchiffon": "yellow", "lightgoldenrodyellow": "yellow",
    "mediumvioletred": "pink", "palevioletred": "pink",  # Crayola's violet-red is a pink
    "mistyrose": "pink", "thistle": "purple", "burlywood": "brown", "peru": "brown",
    "gainsboro": "gray", "lightgray": "gray", "darkgray": "gray", "dimgray": "gray",
    "lightcoral": "red", "indianred": "red", "firebrick": "red", "darksalmon": "pink",
    "lightsalmon": "pink", "tomato": "red", "coral": None,
    "darkmagenta": "purple",  # #8b008b is a near twin of CSS "purple" #800080
    "olivedrab": "green",  # the military olive green, not a drab brown
    "khaki": None, "darkkhaki": None, "wheat": None,  # CSS's are pale yellows / tans
}

# Approximate English foci of Berlin & Kay's 11 terms: Munsell notation -> sRGB (8 bit),
# converted once with colour-science 0.4 (munsell_colour_to_xyY, Illuminant C -> D65 by
# Bradford, clipped to the gamut); ``focal_from_munsell`` redoes it.
FOCAL_COLORS: dict[str, tuple[str, tuple[int, int, int]]] = {
    "red": ("5R 4/14", (188, 26, 51)),
    "orange": ("2.5YR 6/14", (235, 112, 13)),
    "yellow": ("5Y 8/12", (234, 198, 0)),
    "green": ("2.5G 5/10", (0, 142, 78)),
    "blue": ("2.5PB 4/10", (0, 101, 162)),
    "purple": ("5P 3/10", (102, 48, 122)),
    "pink": ("7.5RP 7/8", (232, 150, 170)),
    "brown": ("5YR 3/4", (99, 63, 42)),
    "white": ("N9.5", (241, 241, 241)),
    "gray": ("N5", (121, 121, 121)),
    "black": ("N1.5", (38, 38, 38)),
}


# ---- name -> term ------------------------------------------------------------------------


def head_term(word: str) -> str | None:
    """The basic term of one head word; raises KeyError for a word in no table."""
    if word in _BASIC:
        return _BASIC[word]
    if "/" in word:  # "green/blue": a mixture of two terms
        return None
    return HEAD_TERMS[word]


def xkcd_term(name: str) -> str | None:
    """Basic term of an XKCD name ("dark teal" -> "cyan"), None when dropped."""
    if name in XKCD_OVERRIDES:
        return XKCD_OVERRIDES[name]
    return head_term(name.split()[-1])


def css_term(name: str) -> str | None:
    """Basic term of a fused CSS name ("darkolivegreen" -> "green"), None when dropped."""
    if name in CSS_OVERRIDES:
        return CSS_OVERRIDES[name]
    words = sorted({**_BASIC, **HEAD_TERMS}, key=len, reverse=True)
    for word in words:  # the longest known word the name ends with is its head
        if name.endswith(word) and "/" not in word:
            return head_term(word)
    raise KeyError(f"CSS name {name!r}: no head word in the tables")


def _hex_to_rgb(code: str) -> tuple[int, int, int]:
    return tuple(int(code[i : i + 2], 16) for i in (1, 3, 5))


def _labelled(named: dict[str, str], to_term) -> tuple[list, np.ndarray, np.ndarray, list]:
    """(kept names, (n, 3) uint8 RGB, (n,) int term labels, dropped names)."""
    kept, rgb, labels, dropped = [], [], [], []
    for name, code in named.items():
        term = to_term(name)
        if term is None:
            dropped.append(name)
            continue
        kept.append(name)
        rgb.append(_hex_to_rgb(code))
        labels.append(TERMS.index(term))
    return kept, np.array(rgb, np.uint8), np.array(labels, np.int64), dropped


# ---- samples ---------------------------------------------------------------------------


def xkcd_samples() -> dict:
    """The survey's named centroids mapped to terms, plus the neutral anchors."""
    from matplotlib.colors import XKCD_COLORS

    named = {k.removeprefix("xkcd:"): v for k, v in XKCD_COLORS.items()}
    names, rgb, labels, dropped = _labelled(named, xkcd_term)
    anchor_rgb, anchor_labels = neutral_anchors(rgb, labels)
    return {
        "names": names + [f"anchor {v[0]}" for v in anchor_rgb],
        "rgb": np.concatenate([rgb, anchor_rgb]),
        "labels": np.concatenate([labels, anchor_labels]),
        "dropped": dropped,
        "n_named": len(names),
    }


def neutral_anchors(rgb: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Neutral greys labelled like the survey's nearest near-neutral achromatic centroid in L*.

    Args:
        rgb: ``(n, 3)`` uint8 sample colours.
        labels: ``(n,)`` term indices of the samples.

    Returns:
        ``(m, 3)`` uint8 greys R = G = B = 0, 5, ..., 255 and their ``(m,)`` labels.
    """
    lab = rgb_to_lab(rgb)
    chroma = np.hypot(lab[:, 1], lab[:, 2])
    achromatic = np.isin(labels, [TERMS.index(t) for t in ACHROMATIC]) & (chroma < NEUTRAL_CHROMA)
    ref_l, ref_label = lab[achromatic, 0], labels[achromatic]
    levels = np.arange(0, 256, NEUTRAL_STEP, dtype=np.uint8)
    grey = np.repeat(levels[:, None], 3, axis=1)
    nearest = np.abs(rgb_to_lab(grey)[:, :1] - ref_l[None]).argmin(axis=1)
    return grey, ref_label[nearest]


def css_samples() -> dict:
    """CSS4 named colours (one spelling of each grey) plus the Berlin & Kay foci."""
    from matplotlib.colors import CSS4_COLORS

    named = {k: v for k, v in CSS4_COLORS.items() if "grey" not in k}
    names, rgb, labels, dropped = _labelled(named, css_term)
    focal_rgb = np.array([c for _, c in FOCAL_COLORS.values()], np.uint8)
    focal_labels = np.array([TERMS.index(t) for t in FOCAL_COLORS], np.int64)
    return {
        "names": names + [f"focal {t}" for t in FOCAL_COLORS],
        "rgb": np.concatenate([rgb, focal_rgb]),
        "labels": np.concatenate([labels, focal_labels]),
        "dropped": dropped,
        "n_named": len(names),
    }


def focal_from_munsell() -> dict[str, tuple[int, int, int]]:
    """Recompute ``FOCAL_COLORS``' sRGB from the Munsell notations (needs colour-science)."""
    import colour

    cat = colour.CCS_ILLUMINANTS["CIE 1931 2 Degree Standard Observer"]["C"]
    out = {}
    for term, (notation, _) in FOCAL_COLORS.items():
        xyz = colour.xyY_to_XYZ(colour.munsell_colour_to_xyY(notation))
        rgb = colour.XYZ_to_sRGB(xyz, illuminant=cat, chromatic_adaptation_transform="Bradford")
        out[term] = tuple(int(v) for v in np.rint(np.clip(rgb, 0, 1) * 255))
    return out


SAMPLERS = {"xkcd": xkcd_samples, "css": css_samples}


# ---- classifier ------------------------------------------------------------------------


def knn_probabilities(
    query_lab: np.ndarray, sample_lab: np.ndarray, labels: np.ndarray, k: int
) -> np.ndarray:
    """Distance-weighted k-NN term probabilities.

    Args:
        query_lab: ``(q, 3)`` float CIELAB points to name.
        sample_lab: ``(n, 3)`` float CIELAB samples.
        labels: ``(n,)`` int term indices of the samples.
        k: number of neighbours.

    Returns:
        ``(q, len(TERMS))`` float64 probabilities (rows sum to 1); weight 1 / max(dE, 1).
    """
    out = np.zeros((len(query_lab), len(TERMS)))
    for start in range(0, len(query_lab), 4096):
        q = query_lab[start : start + 4096]
        d = np.sqrt(((q[:, None, :] - sample_lab[None]) ** 2).sum(-1))
        idx = np.argpartition(d, k - 1, axis=1)[:, :k]
        w = 1.0 / np.maximum(np.take_along_axis(d, idx, axis=1), MIN_DISTANCE)
        rows = np.repeat(np.arange(len(q)), k)
        np.add.at(out[start : start + len(q)], (rows, labels[idx].ravel()), w.ravel())
    return out / out.sum(axis=1, keepdims=True)


def grid_rgb(levels: int = GRID_LEVELS) -> np.ndarray:
    """``(levels**3, 3)`` float64 RGB grid points, R slowest, values i * 255 / (levels-1)."""
    v = np.arange(levels) * (255.0 / (levels - 1))
    r, g, b = np.meshgrid(v, v, v, indexing="ij")
    return np.stack([r.ravel(), g.ravel(), b.ravel()], axis=1)


def quantize(p: np.ndarray, total: int = 255) -> np.ndarray:
    """Rows of probabilities -> uint8 rows summing exactly to ``total`` (largest remainder)."""
    scaled = p * total
    q = np.floor(scaled).astype(np.int64)
    missing = total - q.sum(axis=1)
    order = np.argsort(-(scaled - q), axis=1, kind="stable")
    ranks = np.argsort(order, axis=1, kind="stable")
    q += ranks < missing[:, None]
    return q.astype(np.uint8)


def build_table(model: str) -> tuple[np.ndarray, dict]:
    """``(GRID_LEVELS**3, 12)`` uint8 table of one model and its metadata."""
    s = SAMPLERS[model]()
    probs = knn_probabilities(rgb_to_lab(grid_rgb()), rgb_to_lab(s["rgb"]), s["labels"], K[model])
    counts = np.bincount(s["labels"], minlength=len(TERMS))
    meta = {
        "k": K[model],
        "n_samples": len(s["labels"]),
        "n_named": s["n_named"],
        "dropped": s["dropped"],
        "samples_per_term": dict(zip(TERMS, counts.tolist())),
    }
    return quantize(probs), meta


METADATA = {
    "generator": "scripts/make_color_namer.py",
    "terms": list(TERMS),
    "grid": f"{GRID_LEVELS}^3 RGB points, R slowest; channel values i * 255 / "
    f"{GRID_LEVELS - 1}; rows: uint8 probabilities summing to 255",
    "lab": "CIELAB D65 by colorist.recolor.reference.rgb_to_lab",
    "classifier": f"k-NN in CIELAB, weights 1 / max(dE, {MIN_DISTANCE})",
    "sources": {
        "xkcd": "XKCD colour survey centroids (matplotlib.colors.XKCD_COLORS), Randall "
        "Munroe 2010, CC0 1.0 public domain dedication; plus neutral anchors",
        "css": "CSS Color Module 4 named colours (matplotlib.colors.CSS4_COLORS, W3C) "
        "plus approximate Berlin & Kay (1969) English focal colours",
    },
    "license": "CC0 1.0 (XKCD survey data); CSS colour values are W3C specification facts",
}


def build_arrays() -> dict[str, np.ndarray]:
    """Every array of the npz: terms, chromatic flags, grid levels, tables, metadata."""
    arrays = {
        "terms": np.array(TERMS),
        "chromatic": np.array([t not in ACHROMATIC for t in TERMS]),
        "grid_levels": np.array(GRID_LEVELS),
    }
    meta = dict(METADATA, models={})
    for model in SAMPLERS:
        arrays[f"{model}_probs"], meta["models"][model] = build_table(model)
    arrays["metadata"] = np.array(json.dumps(meta, indent=1, sort_keys=True))
    return arrays


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Compressed npz written atomically (a temporary file renamed over ``path``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    tmp.replace(path)


# ---- reports ---------------------------------------------------------------------------


def loo_accuracy(model: str, ks: range) -> dict[int, float]:
    """Leave-one-out accuracy of the k-NN on the model's own named samples, per k."""
    s = SAMPLERS[model]()
    lab = rgb_to_lab(s["rgb"])
    n = s["n_named"]  # anchors/foci stay in as neighbours but are not scored
    d = np.sqrt(((lab[:n, None] - lab[None]) ** 2).sum(-1))
    d[np.arange(n), np.arange(n)] = np.inf
    out = {}
    for k in ks:
        idx = np.argpartition(d, k - 1, axis=1)[:, :k]
        w = 1.0 / np.maximum(np.take_along_axis(d, idx, axis=1), MIN_DISTANCE)
        votes = np.zeros((n, len(TERMS)))
        np.add.at(votes, (np.repeat(np.arange(n), k), s["labels"][idx].ravel()), w.ravel())
        out[k] = float((votes.argmax(1) == s["labels"][:n]).mean())
    return out


def disagreement_report(model: str = "xkcd", step: int = 5, top: int = 15) -> str:
    """Markdown: confusion of the palette classifier vs the namer over an RGB grid.

    The grid is every RGB triple with channels 0, step, ..., 255 (52^3 points for step 5),
    uniform in RGB, not weighted by how often colours occur in photos.
    """
    from colorist.naming import load_namer
    from colorist.palette import DEFAULT_PALETTE

    v = np.arange(0, 256, step, dtype=np.uint8)
    rgb = np.stack(np.meshgrid(v, v, v, indexing="ij"), axis=-1).reshape(-1, 3)
    namer = load_namer(model)
    pal = DEFAULT_PALETTE.classify_rgb(rgb).astype(np.int64)
    nam = namer.name_pixels(rgb).astype(np.int64)
    conf = np.zeros((len(TERMS), len(TERMS)), np.int64)
    np.add.at(conf, (pal, nam), 1)
    lines = [_confusion_markdown(conf, model, len(rgb))]
    others = [m for m in SAMPLERS if m != model]
    for other in others:
        same = (load_namer(other).name_pixels(rgb) == nam).mean()
        lines.append(f"The `{other}` namer agrees with `{model}` on {100 * same:.1f}% of the "
                     f"points, the palette on {100 * np.trace(conf) / len(rgb):.1f}%.\n")
    lines.append(_top_disagreements(conf, rgb, pal, nam, namer, top))
    lines.append(_swatch_table(DEFAULT_PALETTE))
    return "\n".join(lines)


def _swatch_table(palette) -> str:
    """Markdown: what each namer calls the palette's swatch colours."""
    from colorist.naming import load_namer

    rows = ["", "| palette colour | swatch RGB | " + " | ".join(SAMPLERS) + " |",
            "|---|---|" + "---|" * len(SAMPLERS)]
    for color in palette.colors:
        names = []
        for model in SAMPLERS:
            namer = load_namer(model)
            p = namer.probabilities(np.array(color.rgb, np.uint8))
            names.append(f"{namer.terms[int(p.argmax())]} ({p.max():.2f})")
        rows.append(f"| {color.name} | {color.rgb} | " + " | ".join(names) + " |")
    return "\n".join(rows)


def _confusion_markdown(conf: np.ndarray, model: str, n: int) -> str:
    agree = np.trace(conf) / n
    head = "| palette \\ namer | " + " | ".join(TERMS) + " | total |"
    rows = [f"Namer `{model}` vs palette over {n} RGB grid points: "
            f"agreement {100 * agree:.1f}% (cells: % of all points).", "", head,
            "|" + "---|" * (len(TERMS) + 2)]
    for i, term in enumerate(TERMS):
        cells = " | ".join(f"{100 * c / n:.1f}" if c else "." for c in conf[i])
        rows.append(f"| {term} | {cells} | {100 * conf[i].sum() / n:.1f} |")
    return "\n".join(rows) + "\n"


def _top_disagreements(conf, rgb, pal, nam, namer, top: int) -> str:
    off = [(conf[i, j], i, j) for i in range(len(TERMS)) for j in range(len(TERMS)) if i != j]
    rows = ["| palette says | namer says | points | % of palette's | examples (RGB, namer p) |",
            "|---|---|---|---|---|"]
    for count, i, j in sorted(off, reverse=True)[:top]:
        sel = np.flatnonzero((pal == i) & (nam == j))
        p = namer.probabilities(rgb[sel])[:, j]
        picks = sel[np.argsort(-p, kind="stable")[[0, len(sel) // 2, -1]]]
        ex = ", ".join(f"{tuple(int(c) for c in rgb[s])} {namer.probabilities(rgb[s])[j]:.2f}"
                       for s in picks)
        share = 100 * count / conf[i].sum()
        rows.append(f"| {TERMS[i]} | {TERMS[j]} | {count} | {share:.1f} | {ex} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=None,
                    help=f"output folder (default: write {DEFAULT_OUT.relative_to(ROOT)})")
    ap.add_argument("--report", action="store_true",
                    help="print the namer-vs-palette disagreement tables (default: off)")
    ap.add_argument("--model", default="xkcd", choices=sorted(SAMPLERS),
                    help="namer model for --report (default: xkcd)")
    ap.add_argument("--loo", action="store_true",
                    help="print leave-one-out accuracy for k = 3..15 (default: off)")
    args = ap.parse_args(argv)
    if args.report:
        print(disagreement_report(args.model))
        return 0
    if args.loo:
        for model in SAMPLERS:
            acc = loo_accuracy(model, range(3, 16))
            print(model, " ".join(f"k={k}:{a:.3f}" for k, a in acc.items()))
        return 0
    path = DEFAULT_OUT if args.out is None else args.out / DEFAULT_OUT.name
    write_npz(path, build_arrays())
    print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
