"""Image and mask I/O: decode/encode (OpenCV), COCO masks (pycocotools), atomic writes."""

from colorist.io.atomic import append_jsonl, atomic_write_bytes, atomic_write_json, read_jsonl
from colorist.io.images import (
    ImageReadError,
    decode_image,
    encode_image,
    map_threaded,
    read_image,
    write_image,
)
from colorist.io.masks import (
    MaskError,
    mask_from_coco,
    read_mask_png,
    require_nonempty,
    write_mask_png,
)

__all__ = [
    "ImageReadError", "MaskError", "append_jsonl", "atomic_write_bytes", "atomic_write_json",
    "decode_image", "encode_image", "map_threaded", "mask_from_coco", "read_image",
    "read_jsonl", "read_mask_png", "require_nonempty", "write_image", "write_mask_png",
]
