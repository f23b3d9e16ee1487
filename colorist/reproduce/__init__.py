"""One-command reproductions (``python -m colorist.reproduce``): the thesis' chain from COCO
to the report, resumable stage by stage (see ``thesis.py`` and ``stages.py``).

Importing this package loads no torch, transformers or spaCy: the stages import what they
need when they run.
"""

from colorist.reproduce.stages import StageResult, StageRunner
from colorist.reproduce.thesis import ThesisConfig, ThesisRun, coco_files, run_thesis

__all__ = ["StageResult", "StageRunner", "ThesisConfig", "ThesisRun", "coco_files",
           "run_thesis"]
