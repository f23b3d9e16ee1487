"""Folder jobs behind the CLI: colourise a folder (resumable), evaluate a split."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from colorist.colorize.data import list_images, split
from colorist.colorize.evaluate import evaluate
from colorist.colorize.predict import colorize, contact_sheet
from colorist.colorize.weights import load_model
from colorist.io.atomic import append_jsonl, atomic_write_json
from colorist.io.images import read_image, write_image
from colorist.io.names import safe_name
from colorist.rejects import Reject, RejectError


def output_names(files: Sequence[Path], root: Path, temperatures: Sequence[float]
                 ) -> dict[Path, list[str]]:
    """Safe output file names per input (its path under ``root``; ``_T<t>`` per temperature
    when there are several)."""
    out = {}
    for f in files:
        stem = safe_name(str(f.relative_to(root).with_suffix("")).replace("/", "__"))
        out[f] = ([f"{stem}.jpg"] if len(temperatures) == 1 else
                  [f"{stem}_T{t:g}.jpg" for t in temperatures])
    return out


def predict_folder(model_path: Path, images: Path, out: Path, temperatures: Sequence[float],
                   size: int = 256, device: str = "cpu", sheet: Path | None = None,
                   sheet_images: int = 6, progress: bool = True) -> dict:
    """Colourise every image under ``images`` into ``out``; existing outputs are skipped,
    unreadable images listed in ``out/rejects.jsonl``. Returns counts."""
    model = load_model(model_path, device)
    out.mkdir(parents=True, exist_ok=True)
    files = list_images(images)
    names = output_names(files, images, temperatures)
    done = skipped = rejected = 0
    seen, sheet_rgb = set(), []
    it = files
    if progress:
        from tqdm import tqdm

        it = tqdm(files, desc="colourise", unit="img")
    for f in it:
        targets = [out / n for n in names[f]]
        if any(n in seen for n in names[f]):
            append_jsonl(out / "rejects.jsonl", Reject(
                "duplicate-id", f"{f}: its output name {names[f][0]} is taken",
                image=str(f)).to_dict())
            rejected += 1
            continue
        seen.update(names[f])
        need_out = not all(t.exists() for t in targets)
        need_sheet = sheet is not None and len(sheet_rgb) < sheet_images
        if not (need_out or need_sheet):
            skipped += 1
            continue
        try:
            rgb = read_image(f)
        except RejectError as e:
            append_jsonl(out / "rejects.jsonl", Reject.from_error(e, image=str(f)).to_dict())
            rejected += 1
            continue
        if need_sheet:
            sheet_rgb.append(rgb)
        if not need_out:
            skipped += 1
            continue
        for t, c in zip(targets, colorize(model, rgb, temperatures, size)):
            write_image(t, c)
        done += 1
    if sheet and sheet_rgb:
        write_image(sheet, contact_sheet(model, sheet_rgb, size=size))
    return {"written": done, "skipped_existing": skipped, "rejected": rejected,
            "out": str(out)}


def eval_files(model_path: Path, images: Path, coco_json: Path | None, which: str,
               val_fraction: float, seed: int, T: float, size: int, side: int,
               scorer_name: str | None = None, device: str = "cpu",
               report: Path | None = None) -> dict:
    """``evaluate`` on a part of the train/held-out split (the trainer's split for the same
    ``val_fraction`` and ``seed``); the report also goes to ``report`` when given."""
    rejects: list[Reject] = []
    files = list_images(images, coco_json, rejects)
    train_files, held = split(files, val_fraction, seed)
    files = {"heldout": held, "train": train_files, "all": files}[which]
    scorer = None
    if scorer_name:
        from colorist.models.scorer import load_scorer

        scorer = load_scorer(scorer_name, device)
    result = evaluate(load_model(model_path, device), files, T, size, side, scorer=scorer,
                      progress=True, rejects=rejects)
    result.update(split=which, model_file=str(model_path),
                  rejects=[r.to_dict() for r in rejects])
    if report:
        atomic_write_json(report, result)
    return result
