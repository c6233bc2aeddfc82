"""Unsupervised scores of the codes alone, as disentanglement_lib 1.5's ``unsupervised_metrics``.

With C the sample covariance (ddof 1) of the codes:

- ``gaussian_total_correlation``: KL(N(0, C) ‖ N(0, diag C)) = ½ (Σ_i log C_ii − log det C);
- ``gaussian_wasserstein_correlation``: 2 tr C − 2 tr √(C · diag(C) row-wise), the squared
  Wasserstein-2 distance between N(0, C) and the product of its marginals, and its ``_norm``
  divided by tr C;
- ``mutual_info_score``: the mean, over ordered pairs of distinct codes, of the mutual
  information between their discretised values.

A constant code (all its values equal) has variance 0, or a rounding residue such as 1e-32, and
makes the first two log 0 − log 0 (NaN in disentanglement_lib) or rounding noise; it is
independent of every other code and adds nothing to either, so both are computed over the codes
that are not constant (the same numbers whenever no code is), and are 0 when every code is (the
normalised correlation too). With a single code there is no pair: ``mutual_info_score`` is 0.

Shapes: codes (d, N), discretised codes (d, N) integers, C (d, d).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.linalg

from jlonevae_lib.evaluate import metrics


def gaussian_total_correlation(cov: np.ndarray) -> float:
    """Total correlation (nats) of a Gaussian with covariance cov (d, d), all variances > 0."""
    return float(0.5 * (np.sum(np.log(np.diag(cov))) - np.linalg.slogdet(cov)[1]))


def gaussian_wasserstein_correlation(cov: np.ndarray) -> float:
    """2 tr C − 2 tr sqrtm(C · diag(C)[:, None]) for cov C (d, d)."""
    root = scipy.linalg.sqrtm(cov * np.diag(cov)[:, np.newaxis])
    return float(np.real(2 * np.trace(cov) - 2 * np.trace(root)))


def code_mutual_info_score(codes_discrete: np.ndarray) -> float:
    """Mean mutual information (nats) between distinct discretised codes (d, N); 0 if d = 1."""
    num_codes = codes_discrete.shape[0]
    if num_codes < 2:
        return 0.0
    mutual_info = metrics.discrete_mutual_info(codes_discrete, codes_discrete)
    np.fill_diagonal(mutual_info, 0.0)
    return float(np.sum(mutual_info) / (num_codes ** 2 - num_codes))


def unsupervised_scores(codes: np.ndarray, codes_discrete: np.ndarray) -> dict[str, Any]:
    """disentanglement_lib's unsupervised result dict from codes (d, N) and their
    discretisation (d, N)."""
    codes = np.asarray(codes)
    if codes.ndim != 2 or codes.shape[1] < 2:
        raise ValueError(f"unsupervised scores need codes (d, N >= 2), got shape {codes.shape}")
    cov = np.atleast_2d(np.cov(codes))
    varying = np.any(codes != codes[:, :1], axis=1)
    active = cov[np.ix_(varying, varying)]
    if varying.any():
        total_correlation = gaussian_total_correlation(active)
        wasserstein = gaussian_wasserstein_correlation(active)
        wasserstein_norm = wasserstein / float(np.sum(np.diag(cov)))
    else:
        total_correlation = wasserstein = wasserstein_norm = 0.0
    return {"gaussian_total_correlation": total_correlation,
            "gaussian_wasserstein_correlation": wasserstein,
            "gaussian_wasserstein_correlation_norm": wasserstein_norm,
            "mutual_info_score": code_mutual_info_score(np.asarray(codes_discrete))}
