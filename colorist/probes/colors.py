"""Colours of probe stimuli: sRGB values the namer names confidently as each term.

A probe colour is never one swatch. ``build_sampler`` draws ``n_candidates`` uniform random
sRGB values (seeded), asks the independent namer (``colorist.naming``) for their soft names,
and keeps, per term, those whose most probable term is that term by a probability margin of
at least ``margin`` over the runner-up. Each stimulus then picks its own value from its
term's pool, so a "red" stimulus is any confidently red colour the namer knows, from dark
crimson to bright scarlet.

    sampler = build_sampler(PROBE_COLORS, margin=0.5, seed=0)
    sampler.sample("gray", np.random.default_rng(1))      # e.g. (121, 118, 124)
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from colorist.naming import load_namer

# the 11 basic colour terms of Berlin & Kay plus cyan, in the order reports list them
PROBE_COLORS = ("black", "white", "gray", "red", "green", "yellow", "blue", "brown", "purple",
                "pink", "orange", "cyan")


def is_achromatic(colors: Sequence[str], namer=None) -> np.ndarray:
    """``(C,)`` bool: True for the namer's achromatic terms (white, gray, black)."""
    namer = namer or load_namer()
    flags = dict(zip(namer.terms, namer.chromatic))
    unknown = [c for c in colors if c not in flags]
    if unknown:
        raise ValueError(f"unknown colour {unknown[0]!r}: the namer knows "
                         f"{', '.join(namer.terms)}")
    return np.array([not flags[c] for c in colors], dtype=bool)


@dataclass(frozen=True)
class ColorSampler:
    """Per-term pools of sRGB values the namer names as that term with a margin.

    Attributes:
        pools: term -> ``(n, 3)`` uint8 sRGB values (n >= 1).
        margin: the probability margin every pooled value has over its runner-up term.
    """

    pools: dict[str, np.ndarray]
    margin: float

    def sample(self, color: str, rng: np.random.Generator) -> tuple[int, int, int]:
        """One sRGB value of ``color``, drawn uniformly from its pool with ``rng``."""
        if color not in self.pools:
            raise ValueError(f"no pool for colour {color!r}; have {', '.join(self.pools)}")
        pool = self.pools[color]
        return tuple(int(v) for v in pool[rng.integers(len(pool))])


def build_sampler(colors: Sequence[str], margin: float = 0.5, seed: int = 0,
                  n_candidates: int = 1 << 18, namer=None) -> ColorSampler:
    """Pools for ``colors`` from ``n_candidates`` seeded uniform sRGB draws.

    Args:
        colors: namer terms (e.g. ``PROBE_COLORS``).
        margin: in [0, 1): p(term) - p(runner-up) that a value needs to join the pool.
        seed: seeds the candidate draws (same seed -> same pools).
        n_candidates: uniform sRGB draws; at margin 0.5 and 2**18 draws the smallest pool
            (white) holds about 130 values.
        namer: a ``ColorNamer``; the shipped "xkcd" namer when None (its samplers are
            cached: suites of the same colours, margin and seed share one).

    Raises:
        ValueError: an unknown colour, a margin outside [0, 1), or a colour with no value
            that passes the margin (names the colour; lower the margin or draw more).
    """
    if namer is None:
        return _shipped_sampler(tuple(colors), float(margin), int(seed), int(n_candidates))
    return _sampler(colors, margin, seed, n_candidates, namer)


@functools.lru_cache(maxsize=8)
def _shipped_sampler(colors: tuple[str, ...], margin: float, seed: int,
                     n_candidates: int) -> ColorSampler:
    return _sampler(colors, margin, seed, n_candidates, load_namer())


def _sampler(colors, margin, seed, n_candidates, namer) -> ColorSampler:
    is_achromatic(colors, namer)  # refuses unknown terms with a clear message
    if not 0 <= margin < 1:
        raise ValueError(f"margin {margin} must lie in [0, 1)")
    rng = np.random.default_rng([seed, 0x5EED])
    rgb = rng.integers(0, 256, (n_candidates, 3), dtype=np.uint8)
    probs = namer.probabilities(rgb)
    top2 = np.sort(probs, axis=1)[:, -2:]
    confident = top2[:, 1] - top2[:, 0] >= margin
    label = probs.argmax(axis=1)
    pools = {}
    for c in colors:
        pool = rgb[confident & (label == namer.terms.index(c))]
        if not len(pool):
            raise ValueError(f"colour {c!r}: none of {n_candidates} sRGB draws is named "
                             f"{c!r} with margin {margin}; lower the margin or draw more")
        pool.setflags(write=False)  # shared by cached samplers
        pools[c] = pool
    return ColorSampler(pools, margin)
