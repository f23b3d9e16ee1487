"""``colorist.recolor``: recolour the masked object of one image or a batch into colours."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from colorist._native import check_threads
from colorist.io.masks import mask_to_u8
from colorist.palette import DEFAULT_PALETTE, Palette
from colorist.recolor.backends import Backend, get_backend
from colorist.recolor.plan import SourceBox, default_box, plan_batch
from colorist.recolor.prepass import DEFAULT_PREPASS, PrepassConfig


class RecolorInputError(ValueError):
    """An image or mask of the wrong shape or dtype; the message names the item."""


def _is_torch(x: Any) -> bool:
    return type(x).__module__.startswith("torch")


def _is_cupy(x: Any) -> bool:
    return type(x).__module__.startswith("cupy")


def _to_numpy(x: Any) -> np.ndarray:
    if _is_torch(x):
        return x.detach().cpu().numpy()
    if _is_cupy(x):
        return x.get()
    return np.asarray(x)


def _to_device_array(x: Any, on_gpu: bool) -> Any:
    """numpy for host backends; GPU backends keep torch tensors where they are (CuPy arrays
    become torch views of the same memory), so device data never round-trips the host."""
    if not on_gpu:
        return _to_numpy(x)
    if _is_torch(x):
        return x.detach()
    if _is_cupy(x):
        import torch

        return torch.as_tensor(x, device="cuda")
    return np.asarray(x)


def _check_image(image: Any, i: int, on_gpu: bool = False) -> Any:
    a = _to_device_array(image, on_gpu)
    if str(a.dtype).removeprefix("torch.") != "uint8":
        raise RecolorInputError(f"image {i}: dtype must be uint8 RGB, got {a.dtype}")
    if a.ndim != 3 or a.shape[2] != 3:
        raise RecolorInputError(f"image {i}: shape must be (H, W, 3) RGB, got {tuple(a.shape)}")
    if a.shape[0] == 0 or a.shape[1] == 0:
        raise RecolorInputError(f"image {i}: empty image of shape {tuple(a.shape)}")
    return a.contiguous() if _is_torch(a) else np.ascontiguousarray(a)


def _check_mask(mask: Any, shape: tuple[int, ...], i: int, on_gpu: bool = False) -> Any:
    m = _to_device_array(mask, on_gpu)
    if m.ndim == 3 and m.shape[2] == 1:
        m = m[..., 0]
    if tuple(m.shape) != tuple(shape[:2]):
        raise RecolorInputError(
            f"image {i}: mask shape {tuple(m.shape)} does not match the image's (H, W) "
            f"{tuple(shape[:2])}"
        )
    if _is_torch(m):
        if m.dtype.is_complex:
            raise RecolorInputError(f"image {i}: mask dtype {m.dtype} is neither bool nor real")

        return mask_to_u8(m)
    if m.dtype == bool or np.issubdtype(m.dtype, np.number):
        return np.ascontiguousarray(mask_to_u8(m))  # > 0 is object; NaN and < 0 are not
    raise RecolorInputError(f"image {i}: mask dtype {m.dtype} is neither bool nor numeric")


def _as_list(x: Any) -> tuple[list, bool]:
    """(items, was_batch): a 4-D array/tensor or a list is a batch; a 3-D one is one image."""
    if isinstance(x, (list, tuple)):
        return list(x), True
    if getattr(x, "ndim", None) == 4:
        return list(x), True
    return [x], False


def _per_item(value: Any, n: int, what: str) -> list:
    if isinstance(value, str):
        return [value] * n
    value = list(value)
    if value and all(isinstance(v, str) for v in value) and what == "targets":
        return [value] * n
    if len(value) != n:
        raise RecolorInputError(f"{what}: got {len(value)} entries for a batch of {n}")
    return value


def recolor(
    image_or_batch: Any,
    mask_or_batch: Any,
    source: str | Sequence[str],
    targets: str | Sequence[str] | Sequence[Sequence[str]],
    backend: str = "auto",
    palette: Palette = DEFAULT_PALETTE,
    threads: int = 0,
    fit_source: bool = True,
    selective: bool = True,
) -> Any:
    """Recolour the object in ``mask`` from colour ``source`` into each of ``targets``.

    Pixels outside the mask are copied bit for bit. Inside it, the pre-pass
    (``colorist.recolor.prepass``) makes a soft alpha from the pixels that have the source
    colour, so windows, tyres and lettering keep their colours and edges are feathered.

    Args:
        image_or_batch: ``(H, W, 3)`` uint8 RGB, a batch ``(B, H, W, 3)``, or a list of
            images of different sizes. numpy arrays or torch tensors.
        mask_or_batch: ``(H, W)`` (bool or uint8, > 0 marks the object), or a batch/list
            matching the images.
        source: the object's colour, or one colour per image.
        targets: K colour names, or one list of K names per image.
        backend: "auto" (fastest available), "reference", "cpu", ... (see
            ``colorist.available_backends()``).
        palette: colour definitions (default: ``colorist.DEFAULT_PALETTE``).
        threads: CPU threads for the cpu backend (0: all).
        fit_source: scale from the object's own source box (hue arc fitted to its S x V
            weighted hue histogram, its S and V ranges; captions name hues loosely: a
            "yellow" lab is golden); False uses the source colour's palette box.
        selective: recolour only the pixels of the source colour (soft alpha); False
            recolours every masked pixel (alpha = feathered mask).

    Returns:
        ``(K, H, W, 3)`` uint8 for one image; ``(B, K, H, W, 3)`` for a 4-D batch; a list of
        ``(K, H_i, W_i, 3)`` for a list. numpy in, numpy out; torch tensors in, torch
        tensors out on the input's device; CuPy arrays in, CuPy arrays out.

    Raises:
        RecolorInputError: wrong shapes or dtypes (the message names the item).
        UnknownColorError: a colour the palette does not know.
        BackendUnavailableError: the named backend cannot run here (says how to get it).
    """
    return prepare(image_or_batch, mask_or_batch, source, backend, palette, threads,
                   fit_source, selective).recolor(targets, threads)


@dataclass(frozen=True, eq=False)
class PreparedObjects:
    """Validated images with their objects' pre-pass (alpha + source box) done once:
    ``recolor(targets)`` then only plans and runs the kernel, for any number of calls.

    Made by ``prepare``; ``recolor(image, mask, source, targets)`` is
    ``prepare(image, mask, source).recolor(targets)``.
    """

    backend: Backend
    images: list  # validated, contiguous; torch tensors on the device for GPU backends
    alphas: list  # (H_i, W_i) uint8 per image (the backend's array type)
    boxes: list[SourceBox]
    sources: list[str]
    palette: Palette
    inputs: list = field(repr=False)  # the caller's items: outputs take their type/device
    original: Any = field(repr=False)
    batched: bool

    def __len__(self) -> int:
        return len(self.images)

    def params(self, targets: str | Sequence[str] | Sequence[Sequence[str]]) -> np.ndarray:
        """The ``(N, K, NUM_PARAMS)`` table from each object's source box to ``targets``."""
        n = len(self.images)
        return plan_batch(self.sources, _per_item(targets, n, "targets"), self.palette,
                          self.boxes)

    def recolor(self, targets: str | Sequence[str] | Sequence[Sequence[str]],
                threads: int = 0) -> Any:
        """The prepared objects in each of ``targets``; outputs as ``colorist.recolor``'s."""
        threads = check_threads(threads)
        params, impl = self.params(targets), self.backend
        arrays, alphas = self.images, self.alphas
        if impl.on_gpu:  # lay the batch out once for the kernel
            arrays, alphas = impl.pack(arrays, alphas), None
        outs = impl.run(arrays, alphas, params, threads)
        return _package(outs, self.original, self.inputs, self.batched)


def prepare(
    image_or_batch: Any,
    mask_or_batch: Any,
    source: str | Sequence[str],
    backend: str = "auto",
    palette: Palette = DEFAULT_PALETTE,
    threads: int = 0,
    fit_source: bool = True,
    selective: bool = True,
) -> PreparedObjects:
    """Validate and pre-pass objects once, to recolour them into many targets later
    (arguments as ``recolor``'s). The pre-pass (soft alpha, source box) costs more than a
    few variants of the kernel: recolouring the same objects in several calls should share
    it, as the bulk CLI does.

    Raises:
        RecolorInputError, UnknownColorError, BackendUnavailableError: as ``recolor``.
    """
    threads = check_threads(threads)
    if not (isinstance(source, str) or (isinstance(source, (list, tuple))
                                        and all(isinstance(c, str) for c in source))):
        raise RecolorInputError(
            f"source must be a colour name or a list of them, got {type(source).__name__}")
    images, batched = _as_list(image_or_batch)
    masks = list(mask_or_batch) if batched else [mask_or_batch]  # (B, H, W) or a list
    if len(masks) != len(images):
        raise RecolorInputError(f"got {len(images)} images but {len(masks)} masks")
    impl = get_backend(backend)
    arrays = [_check_image(im, i, impl.on_gpu) for i, im in enumerate(images)]
    mask_arrays = [_check_mask(m, a.shape, i, impl.on_gpu)
                   for i, (m, a) in enumerate(zip(masks, arrays))]
    sources = _per_item(source, len(arrays), "source")
    for name in set(sources):
        palette[name]  # an unknown colour fails here, before the pre-pass runs
    alphas, boxes = _prepass_objects(impl, arrays, mask_arrays, sources, palette,
                                     fit_source, selective)
    if not impl.on_gpu:
        arrays = [_to_numpy(a) for a in arrays]
    return PreparedObjects(impl, arrays, alphas, boxes, sources, palette, images,
                           image_or_batch, batched)


def _prepass_objects(impl: Backend, images: list, masks: list, sources: list[str],
                     palette: Palette, fit_source: bool, selective: bool):
    """The backend's pre-pass: alphas and source boxes (the palette's if not fit_source)."""
    cfg = DEFAULT_PREPASS if selective else PrepassConfig(selective=False)
    if not impl.on_gpu:  # GPU backends take device arrays as they are (no host round trip)
        images, masks = [_to_numpy(im) for im in images], [_to_numpy(m) for m in masks]
    alphas, boxes = impl.prepass(images, masks, sources, palette, cfg)
    if not fit_source:
        boxes = [_palette_box(palette, s, b) for s, b in zip(sources, boxes)]
    return alphas, boxes


def plan_objects(
    impl: Backend,
    images: Any,
    masks: Any,
    source: str | Sequence[str],
    targets: Any,
    palette: Palette,
    threads: int = 0,
    fit_source: bool = True,
    selective: bool = True,
) -> tuple[list, np.ndarray]:
    """The pre-pass (the backend's: ``impl.prepass``) and the plan of validated images and
    masks (see ``recolor``).

    Returns:
        N ``(H_i, W_i)`` uint8 alphas (numpy for host backends; torch tensors on the device
        for GPU backends), and the ``(N, K, NUM_PARAMS)`` parameter table.
    """
    check_threads(threads)
    n = len(images)
    sources = _per_item(source, n, "source")
    alphas, boxes = _prepass_objects(impl, images, masks, sources, palette, fit_source,
                                     selective)
    return alphas, plan_batch(sources, _per_item(targets, n, "targets"), palette, boxes)


def _palette_box(palette: Palette, source: str, measured: SourceBox) -> SourceBox:
    """The palette's box of ``source``, keeping the measured mean lightness."""
    box = default_box(palette[source])
    return SourceBox(box.arc, box.s, box.v, measured.l_mean, measured.weight,
                     measured.lightness)


def _convert_like(out: Any, like: Any) -> Any:
    """One backend output, as the type (and device) of the input item ``like``."""
    if _is_torch(like):
        import torch

        return (out if isinstance(out, torch.Tensor) else torch.from_numpy(out)).to(like.device)
    if _is_cupy(like):
        import cupy

        return cupy.asarray(out)
    return out if isinstance(out, np.ndarray) else out.cpu().numpy()


def _package(outs: list, original: Any, images: list, batched: bool) -> Any:
    outs = [_convert_like(o, im) for o, im in zip(outs, images)]
    if not batched:
        return outs[0]
    if isinstance(original, (list, tuple)):
        return outs
    if _is_torch(images[0]):
        import torch

        return torch.stack(outs)
    if _is_cupy(images[0]):
        import cupy

        return cupy.stack(outs)
    return np.stack(outs)
