"""Disentanglement, completeness and informativeness (DCI) from boosted-tree importances.

Eastwood & Williams (2018), as disentanglement_lib 1.5's ``dci`` computes it: one
``GradientBoostingClassifier`` per factor predicts the factor from all codes; R[i, j] = |feature
importance of code i| in factor j's classifier. Then, with the normalised entropy
H_K(p) = −Σ p log p / log K of a column or row normalised to sum 1 (after adding 1e-11):

- disentanglement of code i: 1 − H_F(R[i, :]), weighted by the code's share of the total
  importance (uniform weights when R is all zero);
- completeness of factor j: 1 − H_d(R[:, j]), weighted by the factor's share;
- informativeness: the classifiers' mean accuracy on the training and the test points.

Shapes: codes (d, N), factors (F, N), importance R (d, F).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.stats

from jlonevae_lib.evaluate import predictors

#: Added to every importance before the entropies (disentanglement_lib's constant).
IMPORTANCE_EPSILON = 1e-11


def importance_gbt(codes_train: np.ndarray, factors_train: np.ndarray, codes_test: np.ndarray,
                   factors_test: np.ndarray, n_jobs: int | None = 1
                   ) -> tuple[np.ndarray, float, float]:
    """Importance R (d, F) and mean train / test accuracy of one boosted-tree classifier per
    factor (codes (d, N) / (d, M), factors (F, N) / (F, M)); the F fits run in parallel."""
    fits = predictors.fit_and_score_each(predictors.gradient_boosting_classifier, codes_train,
                                         factors_train, codes_test, factors_test,
                                         importances=True, n_jobs=n_jobs)
    importance = np.stack([fit.importances for fit in fits], axis=1).astype(np.float64)
    train = float(np.mean([fit.train_accuracy for fit in fits]))
    test = float(np.mean([fit.test_accuracy for fit in fits]))
    return importance, train, test


def _one_minus_entropy(weights: np.ndarray) -> np.ndarray:
    """1 − H_K of each column of weights (K, M) -> (M,), K = number of rows.

    With K = 1 the entropy is 0 / log 1; it is taken as 0 (a single code carries all of a
    factor; a single factor is all a code can carry), so the score is 1.
    """
    if weights.shape[0] == 1:
        return np.ones(weights.shape[1])
    return 1.0 - scipy.stats.entropy(weights + IMPORTANCE_EPSILON, base=weights.shape[0])


def disentanglement_per_code(importance: np.ndarray) -> np.ndarray:
    """1 − H_F(R[i, :]) per code: R (d, F) -> (d,)."""
    return _one_minus_entropy(np.asarray(importance).T)


def completeness_per_factor(importance: np.ndarray) -> np.ndarray:
    """1 − H_d(R[:, j]) per factor: R (d, F) -> (F,)."""
    return _one_minus_entropy(np.asarray(importance))


def _weights(importance: np.ndarray, axis: int) -> np.ndarray:
    """Share of the total importance per code (axis=1) or factor (axis=0); uniform when R = 0."""
    if importance.sum() == 0.0:
        importance = np.ones_like(importance)
    return importance.sum(axis=axis) / importance.sum()


def disentanglement(importance: np.ndarray) -> float:
    """Importance-weighted mean disentanglement over codes: R (d, F) -> scalar."""
    importance = np.asarray(importance, dtype=np.float64)
    return float(np.sum(disentanglement_per_code(importance) * _weights(importance, axis=1)))


def completeness(importance: np.ndarray) -> float:
    """Importance-weighted mean completeness over factors: R (d, F) -> scalar."""
    importance = np.asarray(importance, dtype=np.float64)
    return float(np.sum(completeness_per_factor(importance) * _weights(importance, axis=0)))


def dci_scores(codes_train: np.ndarray, factors_train: np.ndarray, codes_test: np.ndarray,
               factors_test: np.ndarray, n_jobs: int | None = 1) -> dict[str, Any]:
    """disentanglement_lib's DCI result dict from codes (d, N) / (d, M) and factors (F, N) /
    (F, M): ``informativeness_train``, ``informativeness_test``, ``disentanglement``,
    ``completeness``."""
    importance, train, test = importance_gbt(codes_train, factors_train, codes_test,
                                             factors_test, n_jobs)
    return {"informativeness_train": train, "informativeness_test": test,
            "disentanglement": disentanglement(importance),
            "completeness": completeness(importance)}
