"""The β-VAE and FactorVAE scores' computations, as disentanglement_lib 1.5's ``beta_vae`` and
``factor_vae`` (the batches they are computed from are drawn in :mod:`.sampling`).

β-VAE score (Higgins et al., 2017): a sample is a pair of batches of B points sharing the value
of one random factor; its feature is the mean over the batch of |z(x₁) − z(x₂)| per code. A
``LogisticRegression(random_state=<the metric's RandomState>)`` learns the shared factor from
the feature; the scores are its accuracy on the training and on the evaluation samples.

FactorVAE score (Kim & Mnih, 2018): codes whose standard deviation over a global sample is below
``prune_dims.threshold`` are dropped; a sample is a batch of B points sharing one random factor,
and votes for the (active) code with the smallest variance in the batch relative to its global
variance. Each code is assigned the factor it got most training votes for; the scores are the
fractions of training and of evaluation votes that this majority vote gets right.

disentanglement_lib reports FactorVAE's ``num_active_dims`` as the length of its boolean mask,
i.e. every code; that value is kept under its key for comparability and the number of codes that
pass the threshold is ``num_active_dims_count``.

Shapes: batches of codes (S, B, d) for S samples of B points; variances (d,); votes (F, d).
"""

from __future__ import annotations

import numpy as np
from sklearn import linear_model

from jlonevae_lib.evaluate.predictors import accuracy, single_threaded_blas


def beta_vae_features(codes_a: np.ndarray, codes_b: np.ndarray) -> np.ndarray:
    """Mean |z_a − z_b| over each batch: codes (S, B, d) twice -> features (S, d)."""
    return np.mean(np.abs(codes_a - codes_b), axis=1)


def fit_beta_vae_classifier(features: np.ndarray, labels: np.ndarray,
                            random_state: np.random.RandomState
                            ) -> linear_model.LogisticRegression:
    """The β-VAE score's classifier, fitted on features (S, d) and factor indices (S,)."""
    with single_threaded_blas():
        return linear_model.LogisticRegression(random_state=random_state).fit(features, labels)


def beta_vae_accuracy(model: linear_model.LogisticRegression, features: np.ndarray,
                      labels: np.ndarray) -> float:
    """Accuracy of the β-VAE classifier on features (S, d), labels (S,)."""
    return accuracy(model, features, labels)


def prune_dims(variances: np.ndarray, threshold: float = 0.0) -> np.ndarray:
    """Codes kept by FactorVAE's score: sqrt(variance) ≥ threshold, variances (d,) -> (d,)."""
    return np.sqrt(variances) >= threshold


def factor_vae_argmins(codes: np.ndarray, global_variances: np.ndarray,
                       active: np.ndarray) -> np.ndarray:
    """Per batch, the index among the active codes of the smallest variance (ddof 1) relative
    to the global variance: codes (S, B, d), global_variances (d,), active (d,) bool -> (S,).

    A zero global variance of an active code (threshold 0) gives 0/0: NumPy's argmin then picks
    that code, as in disentanglement_lib.
    """
    local = np.var(codes, axis=1, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = local[:, active] / global_variances[active]
    return np.argmin(ratio, axis=1)


def factor_vae_votes(factor_indices: np.ndarray, argmins: np.ndarray, num_factors: int,
                     num_codes: int) -> np.ndarray:
    """Vote counts (F, d) int64: one vote per sample for (its fixed factor, its argmin)."""
    votes = np.zeros((num_factors, num_codes), dtype=np.int64)
    np.add.at(votes, (np.asarray(factor_indices), np.asarray(argmins)), 1)
    return votes


def majority_classifier(votes: np.ndarray) -> np.ndarray:
    """The factor each code got most votes for (ties: the first): votes (F, d) -> (d,)."""
    return np.argmax(votes, axis=0)


def vote_accuracy(votes: np.ndarray, classifier: np.ndarray) -> float:
    """Fraction of votes (F, d) cast for the factor ``classifier`` (d,) assigns to the code."""
    return float(np.sum(votes[classifier, np.arange(votes.shape[1])]) / np.sum(votes))
