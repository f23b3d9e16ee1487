"""The output folder of a dataset build: its settings are recorded, a rerun with other
settings is refused, and ``--rebuild`` sets the previous build aside (never deletes it).

Settings that change the content of an object's files or where they go are recorded in
``OUT/build_config.json``: the colours, the split fraction and seed, the mask source and its
options (and the shard size of ``--format wds``). ``--limit``, ``--shard``, ``--workers``,
``--engine`` and the backend are not: a rerun with a larger limit extends the same build.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from colorist.io.atomic import remove_stale_temporaries
from colorist.io.run_config import check_run_config

SETTINGS = "build_config.json"
REPLACED = "replaced"
SCHEMA_VERSION = 2
# What a build writes in OUT (and --rebuild moves aside); rejected.jsonl: older builds.
GENERATED = ("images", "masks", "objects.jsonl", "rejects.jsonl", "rejected.jsonl",
             "results.jsonl", "summary.json", "batch_config.json", "dataset_summary.json",
             "preview.png", "shards", "wds", SETTINGS)


def build_settings(cfg: Any) -> dict:
    """The settings of a ``BuildConfig`` that change its outputs (the WebDataset shard size
    only for ``--format wds``: folder builds keep the settings they always had)."""
    settings = {"schema": SCHEMA_VERSION, "colors": list(cfg.colors),
                "complementary": list(cfg.complementary), "split": cfg.split,
                "seed": cfg.seed, "mask_source": cfg.mask_source,
                "mask_options": dict(cfg.mask_options), "refine_color": cfg.refine_color}
    if cfg.format == "wds":
        settings["wds_shard_size"] = cfg.shard_size
    return settings


def set_aside(out: Path) -> Path | None:
    """Move what an earlier build wrote in ``out`` to ``out/replaced/<time>/``; returns
    that folder (None when there was nothing to move)."""
    present = [name for name in GENERATED if (out / name).exists()]
    if not present:
        return None
    stamp = time.strftime("%Y%m%d-%H%M%S")
    dest, n = out / REPLACED / stamp, 1
    while dest.exists():
        dest, n = out / REPLACED / f"{stamp}-{n}", n + 1
    dest.mkdir(parents=True)
    for name in present:
        os.replace(out / name, dest / name)
    return dest


def prepare_out(cfg: Any) -> None:
    """Create ``cfg.out``, set an earlier build aside (``cfg.rebuild``) and check the
    folder's settings.

    Raises:
        ValueError: ``out`` is a file or cannot be created.
        ConfigChangedError: ``out`` holds a build made with other (or unknown) settings.
    """
    out = Path(cfg.out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"output folder {out} is a file; pass a folder to --out")
    try:
        out.mkdir(parents=True, exist_ok=True)
        if cfg.rebuild:
            set_aside(out)
    except OSError as e:
        raise ValueError(f"cannot prepare the output folder {out} ({e.strerror or e})") \
            from None
    check_run_config(out, SETTINGS, build_settings(cfg), "results.jsonl",
                     "pass a new --out, or --rebuild to build it again with these settings "
                     f"(the previous build is moved to {out / REPLACED}/, nothing is deleted)")
    remove_stale_temporaries(out)  # a killed run's half-written temporaries
