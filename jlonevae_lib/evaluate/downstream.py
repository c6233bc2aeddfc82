"""The downstream classification task, as disentanglement_lib 1.5's ``downstream_task``.

For each training size, a fresh predictor per factor learns the factor from all codes; the
result holds each factor's train and test accuracy and their mean and minimum over factors,
under keys prefixed with the training size (``"100:mean_test_accuracy"``).

Shapes: codes (d, N), factors (F, N).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from jlonevae_lib.evaluate import predictors


def downstream_accuracies(codes_train: np.ndarray, factors_train: np.ndarray,
                          codes_test: np.ndarray, factors_test: np.ndarray,
                          make_predictor: predictors.PredictorFactory,
                          n_jobs: int | None = 1) -> tuple[list[float], list[float]]:
    """Per-factor (train accuracies (F,), test accuracies (F,)) of one predictor per factor,
    trained on codes_train (d, N), factors_train (F, N), tested on (d, M), (F, M)."""
    fits = predictors.fit_and_score_each(make_predictor, codes_train, factors_train,
                                         codes_test, factors_test, n_jobs=n_jobs)
    return [fit.train_accuracy for fit in fits], [fit.test_accuracy for fit in fits]


def summary_scores(train_accuracy: Sequence[float], test_accuracy: Sequence[float]
                   ) -> dict[str, float]:
    """Mean and minimum over factors of the train and test accuracies (F,) each."""
    return {"mean_train_accuracy": float(np.mean(train_accuracy)),
            "mean_test_accuracy": float(np.mean(test_accuracy)),
            "min_train_accuracy": float(np.min(train_accuracy)),
            "min_test_accuracy": float(np.min(test_accuracy))}


def size_scores(train_size: int | str, train_accuracy: Sequence[float],
                test_accuracy: Sequence[float]) -> dict[str, Any]:
    """The result keys of one training size, in disentanglement_lib's order."""
    prefix = str(train_size)
    scores: dict[str, Any] = {f"{prefix}:{key}": value for key, value
                              in summary_scores(train_accuracy, test_accuracy).items()}
    for j, (train, test) in enumerate(zip(train_accuracy, test_accuracy, strict=True)):
        scores[f"{prefix}:train_accuracy_factor_{j}"] = float(train)
        scores[f"{prefix}:test_accuracy_factor_{j}"] = float(test)
    return scores
