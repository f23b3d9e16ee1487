"""Image and mask I/O: decode/encode (OpenCV), COCO masks (pycocotools), atomic writes,
untrusted paths and files (regular files only, size and pixel limits)."""

from colorist.io.atomic import append_jsonl, atomic_write_bytes, atomic_write_json, read_jsonl
from colorist.io.images import (
    MAX_PIXELS,
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
    mask_to_u8,
    read_mask_png,
    require_nonempty,
    write_mask_png,
)
from colorist.io.names import UnsafePathError, path_inside, safe_name

__all__ = [
    "MAX_PIXELS", "ImageReadError", "MaskError", "UnsafePathError", "append_jsonl",
    "atomic_write_bytes", "atomic_write_json", "decode_image", "encode_image", "map_threaded",
    "mask_from_coco", "mask_to_u8", "path_inside", "read_image", "read_jsonl", "read_mask_png",
    "require_nonempty", "safe_name", "write_image", "write_mask_png",
]
