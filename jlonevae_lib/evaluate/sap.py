"""Separated attribute predictability (SAP), as disentanglement_lib 1.5's ``sap_score``.

Kumar et al. (2018), Section 3. A score matrix S (d, F) says how well each single code predicts
each factor; SAP is the mean over factors of the gap between the two best codes.

- continuous factors: S[i, j] = Cov(z_i, y_j)² / (Var z_i · Var y_j) (sample moments, ddof 1),
  0 where Var z_i ≤ 1e-12, and 0 where the factor is constant (disentanglement_lib: 0/0, NaN);
- discrete factors (the study's setting): S[i, j] is the test accuracy of a
  ``LinearSVC(C=0.01, class_weight="balanced")`` trained on code i alone to predict factor j
  (a training set with one class gets the constant classifier, see :mod:`.predictors`).

Shapes: codes (d, N), factors (F, N), S (d, F).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn import svm

from jlonevae_lib.evaluate import predictors

#: A code with at most this variance scores 0 against a continuous factor.
MIN_CODE_VARIANCE = 1e-12


def linear_svc() -> svm.LinearSVC:
    """SAP's classifier of one code."""
    return svm.LinearSVC(C=0.01, class_weight="balanced")


def continuous_score(code: np.ndarray, factor: np.ndarray) -> float:
    """Squared correlation-like score of one code (N,) and one factor (N,)."""
    covariance = np.cov(code, factor, ddof=1)
    if covariance[0, 0] <= MIN_CODE_VARIANCE or covariance[1, 1] == 0.0:
        return 0.0
    return float(covariance[0, 1] ** 2 / (covariance[0, 0] * covariance[1, 1]))


def _code_accuracies(code_train: np.ndarray, factors_train: np.ndarray, code_test: np.ndarray,
                     factors_test: np.ndarray) -> np.ndarray:
    """Test accuracy of one code (N,) / (M,) for every factor (F, N) / (F, M) -> (F,)."""
    x_train, x_test = code_train[:, np.newaxis], code_test[:, np.newaxis]
    return np.array([predictors.fit_and_score(linear_svc(), x_train, y_train, x_test,
                                              y_test).test_accuracy
                     for y_train, y_test in zip(factors_train, factors_test, strict=True)])


def score_matrix(codes: np.ndarray, factors: np.ndarray, codes_test: np.ndarray,
                 factors_test: np.ndarray, continuous_factors: bool,
                 n_jobs: int | None = 1) -> np.ndarray:
    """S (d, F) from codes (d, N), factors (F, N) and, for discrete factors, the test points
    codes_test (d, M), factors_test (F, M); the d codes' classifiers run in parallel."""
    codes, factors = np.asarray(codes), np.asarray(factors)
    if continuous_factors:
        return np.array([[continuous_score(code, factor) for factor in factors]
                         for code in codes])
    tasks = [(_code_accuracies, (codes[i], factors, codes_test[i], factors_test))
             for i in range(codes.shape[0])]
    return np.stack(predictors.run_parallel(tasks, n_jobs))


def sap_from_matrix(matrix: np.ndarray) -> float:
    """Mean over factors of (best − second best score over codes): S (d, F) -> scalar.

    Needs d ≥ 2 (disentanglement_lib fails on an index error with one code).
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[0] < 2:
        raise ValueError(f"SAP needs scores of at least two codes, got a matrix of shape "
                         f"{matrix.shape}")
    ordered = np.sort(matrix, axis=0)
    return float(np.mean(ordered[-1, :] - ordered[-2, :]))


def sap_scores(codes: np.ndarray, factors: np.ndarray, codes_test: np.ndarray,
               factors_test: np.ndarray, continuous_factors: bool,
               n_jobs: int | None = 1) -> dict[str, Any]:
    """disentanglement_lib's SAP result dict: ``{"SAP_score"}``."""
    if np.asarray(codes).shape[0] < 2:
        raise ValueError(f"SAP needs at least two codes, got {np.asarray(codes).shape[0]}")
    return {"SAP_score": sap_from_matrix(score_matrix(codes, factors, codes_test, factors_test,
                                                      continuous_factors, n_jobs))}
