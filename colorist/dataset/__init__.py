"""The synthetic colour dataset: select objects from mined captions, recolour, write."""

from colorist.dataset.build import BuildConfig, build, mine
from colorist.dataset.select import (
    COMPLEMENTARY_COLORS,
    DEFAULT_COLORS,
    SelectedObject,
    select_objects,
)

__all__ = ["COMPLEMENTARY_COLORS", "DEFAULT_COLORS", "BuildConfig", "SelectedObject", "build",
           "mine", "select_objects"]
