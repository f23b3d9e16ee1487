"""Where captions and object annotations come from: COCO JSON or the thesis' standard format.

Every source yields ``ImageRecord``s (an image, its captions, its annotated instances) and
the category names, so the dataset builder never depends on a file format.
"""

from colorist.sources.coco import load_coco
from colorist.sources.records import ImageRecord, Instance, SourceError
from colorist.sources.standard import load_standard

__all__ = ["ImageRecord", "Instance", "SourceError", "load_coco", "load_standard"]
