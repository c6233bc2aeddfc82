"""Interventional robustness score (IRS), as disentanglement_lib 1.5's ``irs``.

Suter et al. (2019). Codes with zero variance are dropped first. For each remaining code k and
factor j: within each group of points sharing a value v of factor j, the ``diff_quantile``
quantile of |z_k − mean of z_k in the group|; their mean over the values v, divided by the
code's largest deviation from its overall mean, is how much z_k moves when everything but
factor j changes. IRS[k, j] = 1 − that; a code's score is its best IRS over factors, and the
result is the mean of the codes' scores weighted by their largest deviations.

disentanglement_lib reports ``num_active_dims`` as ``np.sum`` of the active codes' *values*
(all points), not their number; that value is kept under its key for comparability and the
count is ``num_active_dims_count``.

Shapes: codes (d, N), factors (F, N) (already discretised by the caller, as
disentanglement_lib does with its configured discretiser).
"""

from __future__ import annotations

from typing import Any

import numpy as np


def active_codes(codes: np.ndarray) -> np.ndarray:
    """The rows of codes (d, N) with non-zero variance: (k, N)."""
    codes = np.asarray(codes)
    if codes.ndim != 2:
        raise ValueError(f"codes must be a 2-D array (d, N), got shape {codes.shape}")
    return codes[codes.var(axis=1) > 0.0]


def irs_matrix(factors: np.ndarray, codes: np.ndarray, diff_quantile: float = 0.99
               ) -> tuple[np.ndarray, np.ndarray]:
    """(IRS matrix (k, F), largest deviation per code (k,)) of active codes (k, N) and
    factors (F, N)."""
    latents = np.asarray(codes).T
    max_deviations = np.max(np.abs(latents - latents.mean(axis=0)), axis=0)
    spread = np.zeros((latents.shape[1], factors.shape[0]))
    for j, factor in enumerate(np.asarray(factors)):
        values = np.unique(factor)
        for value in values:
            group = latents[factor == value, :]
            deviations = np.abs(group - np.mean(group, axis=0))
            spread[:, j] += np.percentile(deviations, q=diff_quantile * 100, axis=0)
        spread[:, j] /= values.shape[0]
    return 1.0 - spread / max_deviations[:, np.newaxis], max_deviations


def irs_from_matrix(matrix: np.ndarray, max_deviations: np.ndarray) -> float:
    """Mean over codes of their best IRS (matrix (k, F)), weighted by max_deviations (k,)
    (unweighted if they are all 0)."""
    best = matrix.max(axis=1)
    if np.sum(max_deviations) > 0.0:
        return float(np.average(best, weights=max_deviations))
    return float(np.mean(best))


def irs_scores(factors: np.ndarray, codes: np.ndarray, diff_quantile: float = 0.99
               ) -> dict[str, Any]:
    """disentanglement_lib's IRS result dict (``IRS``, ``num_active_dims``) plus the corrected
    ``num_active_dims_count``: factors (F, N) discretised, codes (d, N). IRS is 0 when no code
    varies."""
    active = active_codes(codes)
    if active.size == 0:
        score = 0.0
    else:
        score = irs_from_matrix(*irs_matrix(factors, active, diff_quantile))
    return {"IRS": score, "num_active_dims": float(np.sum(active)),
            "num_active_dims_count": int(active.shape[0])}
