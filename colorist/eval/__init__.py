"""Evaluation: the colour-choice task, complementary colours, Flickr8k-Expert correlation,
side-by-side reports (``python -m colorist.eval``)."""

from colorist.eval.metrics import (
    accuracy,
    choose,
    confusion_matrix,
    correlations,
    per_class_accuracy,
    score_differences,
)

__all__ = ["accuracy", "choose", "confusion_matrix", "correlations", "per_class_accuracy",
           "score_differences"]
