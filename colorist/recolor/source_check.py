"""Does the masked region look like the colour the user says it is (``--from``)?

The recolouring maps the object's own pixels out of the ``--from`` colour's box, so a wrong
``--from`` gives a plausible-looking but wrong result. Real photos are shaded: a yellow
hydrant is half "brown" to people, a red stop sign in shade is "brown" to the namer and red
to the palette. So the check only flags clear mismatches: the independent colour namer
(colorist.naming) and the palette's classifier both name the region a colour that is
neither ``--from`` nor one of its neighbours (hue arcs that touch; adjacent greys).
"""

from __future__ import annotations

import numpy as np

from colorist.palette import Palette


def _neighbours(palette: Palette, a: str, b: str) -> bool:
    ca, cb = palette[a], palette[b]
    if ca.name == cb.name:
        return True
    if ca.chromatic and cb.chromatic:
        ha, hb = ca.hue, cb.hue
        return bool(ha.contains(hb.lo) or hb.contains(ha.lo)
                    or ha.hi % 180 == hb.lo % 180 or hb.hi % 180 == ha.lo % 180)
    if ca.chromatic or cb.chromatic:
        return False
    greys = sorted((c for c in palette.colors if not c.chromatic), key=lambda c: c.v_box)
    order = [c.name for c in greys]
    return abs(order.index(ca.name) - order.index(cb.name)) == 1


def source_mismatch(image: np.ndarray, mask: np.ndarray, source: str,
                    palette: Palette) -> str | None:
    """What the region looks like when that is clearly not ``source``, else None.

    Args:
        image: ``(H, W, 3)`` uint8 RGB.
        mask: ``(H, W)``, > 0 = the object.
        source: the colour the user gave (a palette name or alias).

    Returns:
        e.g. ``"brown (colour namer) / orange (palette)"``, or None when either judge
        names ``source`` or a neighbour of it (or the region is empty).
    """
    from colorist.naming import load_namer

    source = palette.canonical(source)
    seen = {"colour namer": load_namer().region_name(image, mask),
            "palette": palette.dominant_color(image, mask)}
    if any(name is None or name not in palette or _neighbours(palette, source, name)
           for name in seen.values()):
        return None
    return " / ".join(f"{palette.canonical(name)} ({judge})" for judge, name in seen.items())
