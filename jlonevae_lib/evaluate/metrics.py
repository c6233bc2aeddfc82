"""Disentanglement metrics as pure functions of arrays (docs/metrics.md).

Codes are (d, N) arrays (one row per latent), factors (F, N) integer arrays (one row per ground
truth factor), as in disentanglement_lib. Every function here reproduces disentanglement_lib
1.5's definition (``utils._histogram_discretize``, ``utils.discrete_mutual_info``,
``mig._compute_mig``, ``modularity_explicitness.modularity`` and ``explicitness_per_factor``);
tests compare them with that library's own functions.

Two differences, both where disentanglement_lib gives no number:
- MIG averages over the factors with non-zero entropy. disentanglement_lib divides by a zero
  entropy and returns NaN when a factor is constant; the paper's local MIG meant to skip such
  factors (a local cluster holds some factors fixed) but its code filled them with
  uninitialised memory. With every factor varying the two definitions are the same number.
- Explicitness standardises a constant code row by 1 instead of dividing by its zero spread
  (disentanglement_lib's classifier then fails on NaN), and averages its ROC-AUC over the
  classes present in a sample (disentanglement_lib fails when a class is missing).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn import linear_model
from sklearn import metrics as sklearn_metrics

from jlonevae_lib.evaluate import predictors
from jlonevae_lib.runs.metric_table import local_samples_key

#: Largest dense contingency block (cells) and label-index block (entries) built at once.
_MAX_BLOCK_CELLS = 1 << 22
_MAX_BLOCK_ENTRIES = 1 << 23


@dataclass(frozen=True)
class LocalScores:
    """A local metric: one score per local cluster and their mean."""

    per_cluster: list[float]
    mean: float

    @classmethod
    def from_scores(cls, scores: Iterable[float]) -> LocalScores:
        per_cluster = [float(s) for s in scores]
        return cls(per_cluster=per_cluster, mean=float(np.mean(per_cluster)))


def local_results(per_cluster: Iterable[Mapping[str, float]]) -> dict[str, Any]:
    """A local metric's result dict from each cluster's result dict (the same keys each):
    every key's mean over clusters under the key, and the clusters' values under
    ``local_<key>_samples`` (:func:`~jlonevae_lib.runs.metric_table.local_samples_key`)."""
    clusters = [dict(scores) for scores in per_cluster]
    if not clusters:
        raise ValueError("a local metric needs at least one cluster")
    results: dict[str, Any] = {}
    for key in clusters[0]:
        values = [float(scores[key]) for scores in clusters]
        results[key] = float(np.mean(values))
        results[local_samples_key(key)] = values
    return results


def _as_rows(x: np.ndarray, name: str) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (rows, points), got shape {x.shape}")
    if x.shape[1] == 0:
        raise ValueError(f"{name} has no points")
    return x


def histogram_discretize(codes: np.ndarray, num_bins: int) -> np.ndarray:
    """Discretise each code row into ``num_bins`` equal-width bins over its own range.

    codes (d, N) float -> labels (d, N) int64 in 1..num_bins. Edges are
    ``np.histogram(row, num_bins)[1][:-1]`` and labels ``np.digitize(row, edges)``, exactly
    disentanglement_lib's histogram discretiser (the row maximum lands in bin ``num_bins``; a
    constant row gets a single label).
    """
    codes = _as_rows(codes, "codes")
    if num_bins < 1:
        raise ValueError(f"num_bins must be >= 1, got {num_bins}")
    labels = np.empty(codes.shape, dtype=np.int64)
    for i, row in enumerate(codes):
        # np.histogram_bin_edges gives np.histogram's edges without counting.
        labels[i] = np.digitize(row, np.histogram_bin_edges(row, num_bins)[:-1])
    return labels


def _dense_labels(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Relabel each row to 0..k-1 in sorted order of its distinct values.

    rows (R, N) -> (labels (R, N) int64, number of distinct values per row (R,)). Integer rows
    with a small range are relabelled by counting, anything else with ``np.unique``.
    """
    num_points = rows.shape[1]
    if np.issubdtype(rows.dtype, np.integer) and np.can_cast(rows.dtype, np.int64):
        shifted = rows.astype(np.int64) - rows.min(axis=1, keepdims=True)
        span = int(shifted.max()) + 1
        if span <= 4 * num_points + 1024:
            present = _label_counts(shifted, span) > 0
            mapping = np.cumsum(present, axis=1) - 1
            return np.take_along_axis(mapping, shifted, axis=1), present.sum(axis=1)
    labels = np.empty(rows.shape, dtype=np.int64)
    sizes = np.empty(rows.shape[0], dtype=np.int64)
    for r, row in enumerate(rows):
        values, inverse = np.unique(row, return_inverse=True)
        labels[r] = inverse.reshape(-1)
        sizes[r] = values.size
    return labels, sizes


def _label_counts(labels: np.ndarray, k: int) -> np.ndarray:
    """Occurrences of each label per row: labels (R, N) below k -> counts (R, k) int64."""
    rows = labels.shape[0]
    return np.bincount((np.arange(rows)[:, None] * k + labels).ravel(),
                       minlength=rows * k).reshape(rows, k)


def _mi_terms(count: np.ndarray, outer: np.ndarray, num_points: int) -> np.ndarray:
    """Mutual-information terms (nats) of non-empty contingency cells.

    count (cells,) is a cell's count, outer (cells,) the product of its row and column marginal
    counts (int64). The arithmetic is sklearn's ``mutual_info_score`` term by term, so sums of
    these terms agree with it to rounding.
    """
    log_n = math.log(num_points)
    count_nm = count / num_points
    mi = count_nm * (np.log(count) - log_n) + count_nm * (-np.log(outer) + log_n + log_n)
    return np.where(np.abs(mi) < np.finfo(mi.dtype).eps, 0.0, mi)


def discrete_mutual_info(codes_discrete: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """Mutual information (nats) between every discrete code row and every factor row.

    codes_discrete (d, N), factors (F, N) -> m (d, F) with m[i, j] =
    ``sklearn.metrics.mutual_info_score(factors[j], codes_discrete[i])`` (agreement to 1e-12).
    The contingency tables of all d·F pairs are counted together: labels are combined into one
    index per (pair, code label, factor label) and counted by one ``np.bincount`` per block of
    codes (one block unless the tables are very large, when ``np.unique`` counts instead).
    """
    codes_discrete = _as_rows(codes_discrete, "codes_discrete")
    factors = _as_rows(factors, "factors")
    if codes_discrete.shape[1] != factors.shape[1]:
        raise ValueError(f"codes have {codes_discrete.shape[1]} points but factors have "
                         f"{factors.shape[1]}")
    num_codes, num_points = codes_discrete.shape
    num_factors = factors.shape[0]
    a, sizes_a = _dense_labels(codes_discrete)
    b, sizes_b = _dense_labels(factors)
    ka, kb = int(sizes_a.max()), int(sizes_b.max())
    cells = ka * kb
    counts_a, counts_b = _label_counts(a, ka), _label_counts(b, kb)
    # index = (i·F + j)·cells + a_i·kb + b_j, split into a code part and a factor part.
    code_part = np.arange(num_codes)[:, None] * (num_factors * cells) + a * kb
    factor_part = np.arange(num_factors)[:, None] * cells + b
    block = max(1, min(_MAX_BLOCK_CELLS // (num_factors * cells),
                       _MAX_BLOCK_ENTRIES // (num_factors * num_points)))
    mi = np.empty((num_codes, num_factors))
    for start in range(0, num_codes, block):
        stop = min(start + block, num_codes)
        index = (code_part[start:stop, None, :] - start * num_factors * cells
                 + factor_part[None, :, :])
        shape = (stop - start, num_factors, ka, kb)
        if math.prod(shape) <= _MAX_BLOCK_CELLS:
            table = np.bincount(index.ravel(), minlength=math.prod(shape)).reshape(shape)
            outer = counts_a[start:stop, None, :, None] * counts_b[None, :, None, :]
            filled = table > 0
            terms = np.zeros(shape)
            terms[filled] = _mi_terms(table[filled], outer[filled], num_points)
            mi[start:stop] = terms.sum(axis=(2, 3))
        else:
            flat, count = np.unique(index, return_counts=True)
            pair, rest = np.divmod(flat, cells)
            code, factor = np.divmod(pair, num_factors)
            label_a, label_b = np.divmod(rest, kb)
            outer = counts_a[start + code, label_a] * counts_b[factor, label_b]
            mi[start:stop] = np.bincount(pair, weights=_mi_terms(count, outer, num_points),
                                         minlength=(stop - start) * num_factors
                                         ).reshape(stop - start, num_factors)
    mi = np.clip(mi, 0.0, None)
    # sklearn returns exactly 0 when either labelling has a single value.
    mi[sizes_a == 1, :] = 0.0
    mi[:, sizes_b == 1] = 0.0
    return mi


def discrete_entropy(factors: np.ndarray) -> np.ndarray:
    """Entropy (nats) of each sampled factor row: factors (F, N) -> (F,).

    Equals ``mutual_info_score(f, f)`` per row (disentanglement_lib's definition): the entropy
    of the sampled values, not log of the number of possible values.
    """
    factors = _as_rows(factors, "factors")
    labels, sizes = _dense_labels(factors)
    counts = _label_counts(labels, int(sizes.max()))
    filled = counts > 0
    terms = np.zeros(counts.shape)
    terms[filled] = _mi_terms(counts[filled], counts[filled] * counts[filled], factors.shape[1])
    entropy = np.clip(terms.sum(axis=1), 0.0, None)
    entropy[sizes == 1] = 0.0
    return entropy


def mig_from_mutual_info(mutual_info: np.ndarray, entropy: np.ndarray) -> float:
    """Mutual information gap from m (d, F) and factor entropies (F,).

    Per factor, (largest − second largest m over codes) / H_j, averaged over the factors with
    H_j > 0; NaN when no factor varies. Needs d ≥ 2.
    """
    mutual_info = np.asarray(mutual_info, dtype=np.float64)
    entropy = np.asarray(entropy, dtype=np.float64)
    if mutual_info.ndim != 2 or mutual_info.shape[0] < 2:
        raise ValueError(f"MIG needs mutual information of shape (d >= 2, F), got "
                         f"{mutual_info.shape}")
    if entropy.shape != (mutual_info.shape[1],):
        raise ValueError(f"entropy has shape {entropy.shape}, expected ({mutual_info.shape[1]},)")
    sorted_mi = np.sort(mutual_info, axis=0)[::-1]
    varying = entropy > 0
    if not varying.any():
        return math.nan
    gap = sorted_mi[0, varying] - sorted_mi[1, varying]
    return float(np.mean(np.divide(gap, entropy[varying])))


def mig_score(codes: np.ndarray, factors: np.ndarray, num_bins: int) -> float:
    """Mutual information gap of codes (d, N) for factors (F, N), histogram-discretised."""
    mutual_info = discrete_mutual_info(histogram_discretize(codes, num_bins), factors)
    return mig_from_mutual_info(mutual_info, discrete_entropy(factors))


def modularity_score(mutual_information: np.ndarray) -> float:
    """Modularity from mutual information m (d, F), as disentanglement_lib computes it.

    With s = m², per code δ_i = (Σ_j s_ij − max_j s_ij) / (max_j s_ij · (F − 1)) and score
    1 − δ_i, or 0 for a code whose maximum is 0; the result is the mean over codes. Every
    factor counts in F, constant ones included.
    """
    squared = np.square(np.asarray(mutual_information, dtype=np.float64))
    if squared.ndim != 2:
        raise ValueError(f"mutual information must be (d, F), got shape {squared.shape}")
    max_squared = np.max(squared, axis=1)
    numerator = np.sum(squared, axis=1) - max_squared
    denominator = max_squared * (squared.shape[1] - 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        score = 1.0 - numerator / denominator
    score[max_squared == 0.0] = 0.0
    return float(np.mean(score))


def _standardise(codes: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    return (codes - mean[:, np.newaxis]) / np.where(std == 0, 1.0, std)[:, np.newaxis]


def _macro_roc_auc(factor: np.ndarray, probabilities: np.ndarray, classes: np.ndarray
                   ) -> float:
    """Mean one-vs-rest ROC-AUC over the classes that both occur and not everywhere.

    factor (N,), probabilities (N, K) for ``classes`` (K,). When the sample holds every class
    this is sklearn's macro-averaged multilabel ROC-AUC (column by column, the same numbers).
    """
    truth = factor[:, np.newaxis] == classes[np.newaxis, :]
    counts = truth.sum(axis=0)
    scores = [sklearn_metrics.roc_auc_score(truth[:, k], probabilities[:, k])
              for k in range(len(classes)) if 0 < counts[k] < len(factor)]
    return float(np.mean(scores)) if scores else math.nan


def explicitness_per_factor(codes_train: np.ndarray, factor_train: np.ndarray,
                            codes_test: np.ndarray, factor_test: np.ndarray
                            ) -> tuple[float, float]:
    """ROC-AUC (train, test) of a logistic regression predicting one factor from codes.

    codes_* (d, N) already standardised, factor_* (N,). Default
    ``sklearn.linear_model.LogisticRegression``; the AUC is the macro average over the
    classifier's classes, one-vs-rest, as disentanglement_lib computes it. Where a class is
    missing from a sample (disentanglement_lib then fails), the average is over the others.
    """
    classifier = linear_model.LogisticRegression().fit(codes_train.T, factor_train)
    roc_train = _macro_roc_auc(factor_train, classifier.predict_proba(codes_train.T),
                               classifier.classes_)
    roc_test = _macro_roc_auc(factor_test, classifier.predict_proba(codes_test.T),
                              classifier.classes_)
    return roc_train, roc_test


def explicitness_score(codes_train: np.ndarray, factors_train: np.ndarray,
                       codes_test: np.ndarray, factors_test: np.ndarray,
                       n_jobs: int | None = 1) -> tuple[float, float]:
    """Mean explicitness (train, test) over factors.

    codes_train (d, N), factors_train (F, N), codes_test (d, M), factors_test (F, M). Codes are
    standardised with the training mean and standard deviation, then
    :func:`explicitness_per_factor` runs for every factor (on ``n_jobs`` processes, BLAS on
    one thread: :func:`~jlonevae_lib.evaluate.predictors.run_parallel`).
    """
    codes_train = _as_rows(codes_train, "codes_train")
    codes_test = _as_rows(codes_test, "codes_test")
    factors_train = _as_rows(factors_train, "factors_train")
    factors_test = _as_rows(factors_test, "factors_test")
    mean, std = np.mean(codes_train, axis=1), np.std(codes_train, axis=1)
    train = _standardise(codes_train, mean, std)
    test = _standardise(codes_test, mean, std)
    scores = np.array(predictors.run_parallel(
        [(explicitness_per_factor, (train, factors_train[j], test, factors_test[j]))
         for j in range(factors_train.shape[0])], n_jobs))
    return float(np.mean(scores[:, 0])), float(np.mean(scores[:, 1]))


def local_mig(clusters: Iterable[tuple[np.ndarray, np.ndarray]], num_bins: int) -> LocalScores:
    """MIG of each local cluster (codes (d, N), factors (F, N)) and the mean over clusters.

    Factors held constant inside a cluster are skipped (see :func:`mig_from_mutual_info`).
    """
    return LocalScores.from_scores(mig_score(codes, factors, num_bins)
                                   for codes, factors in clusters)


def local_modularity(clusters: Iterable[tuple[np.ndarray, np.ndarray]],
                     num_bins: int) -> LocalScores:
    """Modularity of each local cluster (codes (d, N), factors (F, N)) and the mean."""
    return LocalScores.from_scores(
        modularity_score(discrete_mutual_info(histogram_discretize(codes, num_bins), factors))
        for codes, factors in clusters)
